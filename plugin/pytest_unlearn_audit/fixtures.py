"""The plugin's fixtures.

User-provided (override them in your ``conftest.py``; a conftest fixture of the same name wins):

- ``unlearn_data`` — the ``AuditData`` to audit (train / test / val splits and the forget indices);
- ``unlearn_model_factory`` — a callable returning a fresh, untrained model;
- ``unlearn_fn`` — your unlearning method, ``fn(model, ctx) -> model`` (or a registered method);
- optional: ``unlearn_original`` (your trained model or state_dict; default: trained by the audit),
  ``unlearn_recipe`` (a ``TrainRecipe``; default: the profile's), ``unlearn_thresholds`` (a ``Thresholds``,
  or compact check strings such as ``"eo:abs<=5"``; default: the library's).

Define them **session-scoped** (``@pytest.fixture(scope="session")``): the audit is computed once per session.
The required ones raise a ``pytest.UsageError`` saying what to define when they are missing.

Plugin-provided:

- ``unlearn_audit`` — the session's ``AuditReport`` (computed once per session, cached across runs on disk);
- ``unlearn_check`` — an assertion helper: ``unlearn_check("eo:abs<=5")`` or
  ``unlearn_check(metric="EO", max_abs_delta=5)`` raises an ``AssertionError`` with a table of metric, value,
  bound and margin when the check fails, and returns the findings otherwise.

Bodies import nothing heavy: the library is imported by ``_session`` when the audit is computed.
"""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from . import _session

__all__ = ["unlearn_data", "unlearn_model_factory", "unlearn_fn", "unlearn_original", "unlearn_recipe",
           "unlearn_thresholds", "unlearn_audit", "unlearn_check"]

_EXAMPLE = "fixtures/quickstart/conftest.py in the unlearn-audit repository"


def _missing(name: str, what: str, example: str) -> NoReturn:
    __tracebackhide__ = True
    raise pytest.UsageError(
        f"unlearn-audit needs a `{name}` fixture returning {what}. Define it (session-scoped) in your "
        f"conftest.py, for example:\n\n"
        f"    @pytest.fixture(scope=\"session\")\n"
        f"{example}\n\n"
        f"A complete example project: {_EXAMPLE}. (A fixture defined in a sub-folder's conftest.py is only "
        f"seen by tests collected in that folder.)")


@pytest.fixture(scope="session")
def unlearn_data() -> Any:
    """Override me: the ``AuditData`` to audit (splits and forget indices)."""
    __tracebackhide__ = True
    _missing("unlearn_data", "an unlearn_audit.AuditData (train / test / val splits and forget indices)",
             "    def unlearn_data():\n"
             "        from unlearn_audit.datasets import colored_digits\n"
             "        return colored_digits()")


@pytest.fixture(scope="session")
def unlearn_model_factory() -> Any:
    """Override me: a callable returning a fresh, untrained model."""
    __tracebackhide__ = True
    _missing("unlearn_model_factory", "a callable that returns a fresh, untrained torch.nn.Module",
             "    def unlearn_model_factory(unlearn_data):\n"
             "        from unlearn_audit.models import SmallConvNet\n"
             "        t = unlearn_data.train\n"
             "        return lambda: SmallConvNet(unlearn_data.n_classes, mean=t.mean, std=t.std)")


@pytest.fixture(scope="session")
def unlearn_fn() -> Any:
    """Override me: your unlearning method ``fn(model, ctx) -> model``."""
    __tracebackhide__ = True
    _missing("unlearn_fn", "your unlearning method, a function fn(model, ctx) -> model",
             "    def unlearn_fn():\n"
             "        def my_unlearning(model, ctx):   # ctx.forget, ctx.retain, ctx.recipe, ctx.device, ...\n"
             "            ...                          # modify the model so it forgets ctx.forget\n"
             "            return model\n"
             "        return my_unlearning")


@pytest.fixture(scope="session")
def unlearn_original() -> Any:
    """Optional: your trained original model (or its state_dict); ``None`` = the audit trains it."""
    return None


@pytest.fixture(scope="session")
def unlearn_recipe() -> Any:
    """Optional: the ``TrainRecipe`` for the original and the references; ``None`` = the profile's recipe."""
    return None


@pytest.fixture(scope="session")
def unlearn_thresholds() -> Any:
    """Optional: a ``Thresholds`` or compact checks (``["eo:abs<=5"]``) on top of the library defaults;
    ini / env / command-line thresholds override checks with the same id."""
    return None


@pytest.fixture(scope="session")
def unlearn_audit(request: pytest.FixtureRequest, unlearn_data: Any, unlearn_model_factory: Any, unlearn_fn: Any,
                  unlearn_original: Any, unlearn_recipe: Any, unlearn_thresholds: Any) -> Any:
    """The session's ``AuditReport``: computed once per session (per xdist worker), cached across runs."""
    __tracebackhide__ = True
    return _session.get(request.config).audit(
        data=unlearn_data, model_factory=unlearn_model_factory, unlearn_fn=unlearn_fn, original=unlearn_original,
        recipe=unlearn_recipe, thresholds=unlearn_thresholds)


@pytest.fixture
def unlearn_check(request: pytest.FixtureRequest, unlearn_audit: Any) -> Any:
    """Assertion helper over the session's report.

    ``unlearn_check("eo:abs<=5", "ga:drop<=5")`` or ``unlearn_check(metric="EO", max_abs_delta=5,
    reference="retrain", model=None)``: evaluates the checks on your method's model (or ``model``), records
    them as JUnit properties of the calling test, raises an ``AssertionError`` whose message is a table of
    metric, value, bound and margin if any fails, and returns the findings.
    """
    return _session.get(request.config).checker(unlearn_audit, request.node)
