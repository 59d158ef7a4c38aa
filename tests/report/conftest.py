"""Fixtures of the report tests: synthetic reports (no training), built once per session."""

from __future__ import annotations

import pytest

from ._make_report import make_report


@pytest.fixture(scope="session")
def full_report():
    """Original, two references, four suite methods, a failed method and the user's method over three seeds."""
    return make_report()


@pytest.fixture(scope="session")
def full_html(full_report):
    from unlearn_audit.report._html import render_html

    return render_html(full_report)


EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def evil_report():
    """Every user-provided string is hostile: model, class, attribute and data names, an error, a finding's why."""
    r = make_report(rename={"my_unlearn": EVIL, "finetune": "fine|tune$x$_*", "scrub": 'x" onmouseover="alert(3)'},
                    classes=(EVIL, "dog|cat"),
                    attr_names=("<b>red</b>", "green & blue"), data_name=EVIL,
                    failed_error=f"ValueError: {EVIL} <img src=x onerror=alert(2)> | `tick`")
    r.environment["device_name"] = EVIL
    r.config["note"] = EVIL
    return r


@pytest.fixture(scope="session")
def evil_html(evil_report):
    from unlearn_audit.report._html import render_html

    return render_html(evil_report)
