"""Bad-input matrix, library API and CLI: every case raises (or exits with) a clear error that names the field
and where it came from, and writes nothing (each case runs in an empty working folder that must stay empty).
The plugin's cases are in ``tests/plugin/test_bad_input.py``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import torch

import unlearn_audit as ua
from unlearn_audit.audit import AuditSpec, Check, Thresholds, run_audit
from unlearn_audit.metrics import MetricConfig
from unlearn_audit.models import SmallConvNet
from unlearn_audit.training import TrainRecipe, fit


def _images(n: int = 8) -> torch.Tensor:
    return torch.rand(n, 3, 8, 8)


def _ds(n: int = 8, **kw: Any) -> ua.GroupDataset:
    return ua.GroupDataset(_images(n), torch.arange(n) % 2, (torch.arange(n) // 2) % 2, **kw)


def _data() -> ua.AuditData:
    return ua.AuditData(train=_ds(16), test=_ds(8), forget_idx=[0, 1])


def _model() -> torch.nn.Module:
    return SmallConvNet(2, width=4)


def _spec(**kw: Any) -> AuditSpec:
    base = dict(data=_data(), model_factory=_model, unlearn_fn=lambda m, c: m, methods="none",
                references=("retrain",), device="cpu", cache_dir="cache")
    return AuditSpec(**{**base, **kw})


LIBRARY: list[tuple[str, Callable[[], Any], type[BaseException], str]] = [
    # datasets
    ("dataset x NaN", lambda: ua.GroupDataset(torch.full((4, 3), float("nan")), [0, 1, 0, 1], [0, 0, 1, 1]),
     ValueError, "x: contains NaN or inf values in 4 sample(s)"),
    ("dataset pixels", lambda: ua.GroupDataset(_images() * 255, [0] * 8, [0] * 8), ValueError,
     "x: images must be in [0, 1] pixel space"),
    ("dataset lengths", lambda: ua.GroupDataset(_images(4), [0, 1, 0], [0, 0, 1, 1]), ValueError,
     "x, y, a: lengths differ (x: 4, y: 3, a: 4)"),
    ("dataset std", lambda: _ds(std=(0.5, 0.0, 0.5)), ValueError, "std: every entry must be > 0"),
    ("colored_digits scale", lambda: ua.datasets.colored_digits(scale=0), ValueError, "scale: expected an int >= 1"),
    ("colored_digits majority", lambda: ua.datasets.colored_digits(majority=1.5), ValueError,
     "majority: expected a number in (0.5, 1)"),
    ("celeba root", lambda: ua.datasets.celeba("no/such/folder"), FileNotFoundError,
     "root: 'no/such/folder'"),
    # AuditData
    ("forget_idx range", lambda: ua.AuditData(train=_ds(8), test=_ds(4), forget_idx=[9]), ValueError, "forget_idx"),
    ("forget_idx duplicates", lambda: ua.AuditData(train=_ds(8), test=_ds(4), forget_idx=[1, 1]), ValueError,
     "forget_idx: contains duplicated indices"),
    ("forget_idx empty", lambda: ua.AuditData(train=_ds(8), test=_ds(4), forget_idx=[]), ValueError,
     "forget_idx: is empty"),
    ("train type", lambda: ua.AuditData(train={"x": 1}, test=_ds(4), forget_idx=[0]), TypeError,
     "train: expected a GroupDataset, got dict"),
    ("test shape", lambda: ua.AuditData(train=_ds(8), test=ua.GroupDataset(torch.rand(4, 3, 9, 9), [0] * 4, [0] * 4),
                                        forget_idx=[0]), ValueError, "test: input shape (3, 9, 9) differs"),
    # forget builders
    ("forget ratio", lambda: ua.forget_from_groups(_ds(), groups=[(1, 0)], ratio=1.5), ValueError,
     "ratio: expected a number in (0, 1]"),
    ("forget group", lambda: ua.forget_from_groups(_ds(), groups=[(5, 0)]), ValueError, "groups: (5, 0) does not exist"),
    ("forget groups type", lambda: ua.forget_from_groups(_ds(), groups=3), TypeError, "groups: expected a sequence"),
    # recipes and fit
    ("recipe epochs", lambda: TrainRecipe(epochs=0, lr=0.1, batch_size=8), ValueError,
     "TrainRecipe.epochs: expected a positive int, got 0"),
    ("recipe optimizer", lambda: TrainRecipe(epochs=1, lr=0.1, batch_size=8, optimizer="rmsprop"), ValueError,
     "TrainRecipe.optimizer: expected 'sgd', 'adam' or 'adamw'"),
    ("recipe lr", lambda: TrainRecipe(epochs=1, lr=-1.0, batch_size=8), ValueError, "TrainRecipe.lr"),
    ("fit recipe", lambda: fit(_model(), _ds(), "sgd"), TypeError, "recipe: expected a TrainRecipe, got str"),
    ("fit weights", lambda: fit(_model(), _ds(), TrainRecipe(epochs=1, lr=0.1, batch_size=4), device="cpu",
                                sample_weights=torch.ones(3)), ValueError, "sample_weights: expected 8 weights"),
    # evaluate and metric config
    ("evaluate model", lambda: ua.evaluate("model", _data(), device="cpu"), TypeError,
     "model: expected a torch.nn.Module, got str"),
    ("evaluate data", lambda: ua.evaluate(_model(), _ds(), device="cpu"), TypeError,
     "data: expected an AuditData, got GroupDataset"),
    ("evaluate logits", lambda: ua.evaluate(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(192, 5)),
                                            _data(), config=MetricConfig.preset("smoke"), device="cpu"),
     ValueError, "logits"),
    ("metric config", lambda: MetricConfig(mia_protocols=("nope",)), ValueError,
     "MetricConfig.mia_protocols: unknown"),
    # AuditSpec
    ("spec data", lambda: _spec(data={"train": 1}), TypeError, "AuditSpec.data: expected an AuditData"),
    ("spec factory instance", lambda: _spec(model_factory=_model()), TypeError,
     "AuditSpec.model_factory: expected a callable returning a fresh nn.Module, got an nn.Module instance"),
    ("spec unlearn_fn", lambda: _spec(unlearn_fn=42), TypeError, "AuditSpec.unlearn_fn: expected None, a callable"),
    ("spec seeds", lambda: _spec(seeds=(0, 0)), ValueError, "AuditSpec.seeds: seeds must be distinct"),
    ("spec methods string", lambda: _spec(methods="ft"), ValueError, "AuditSpec.methods: expected 'default', 'all'"),
    ("spec unknown method", lambda: _spec(methods=["no_such_method"]), ValueError, "AuditSpec.methods:"),
    ("spec reference", lambda: _spec(references=["ft"]), ValueError, "AuditSpec.references: 'ft' is not a reference"),
    ("spec n_boot", lambda: _spec(n_boot=5), ValueError, "AuditSpec.n_boot"),
    ("spec device", lambda: _spec(device="tpu"), ValueError, "AuditSpec.device"),
    ("spec timeout", lambda: _spec(method_timeout=-1), ValueError, "AuditSpec.method_timeout: expected a positive"),
    ("spec cache_dir", lambda: _spec(cache_dir=5), TypeError, "AuditSpec.cache_dir: expected None, False or a folder"),
    ("spec original", lambda: _spec(original={"w": 1}), TypeError, "AuditSpec.original: a state_dict maps parameter"),
    ("factory returns int", lambda: run_audit(_spec(model_factory=lambda: 3), progress=False), TypeError,
     "AuditSpec.model_factory: expected a callable returning an nn.Module, it returned int"),
    ("original architecture", lambda: run_audit(_spec(original=torch.nn.Linear(2, 2).state_dict()), progress=False),
     ValueError, "AuditSpec.original: does not fit model_factory's architecture"),
    # thresholds
    ("check syntax", lambda: Check.parse("eo:abs<=", source="my checks"), ValueError, "my checks"),
    ("check metric", lambda: Thresholds(["nope:abs<=5"], source="ci.ini"), ValueError, "ci.ini"),
    ("spec thresholds", lambda: _spec(thresholds=3.5), TypeError, "AuditSpec.thresholds: expected None, a Thresholds"),
]


@pytest.mark.parametrize("call, exc, fragment", [c[1:] for c in LIBRARY], ids=[c[0] for c in LIBRARY])
def test_library_bad_input(call, exc, fragment, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value), str(info.value)
    assert not list(tmp_path.iterdir())          # nothing written (no cache folder, no report)


# ---------------------------------------------------------------------------------------------- the CLI
def _report_file(tmp_path: Path, edit: Callable[[dict], Any] | None = None, *, truncate: bool = False) -> Path:
    from tests.report._make_report import make_report  # a complete report without training

    text = make_report().to_json()
    if edit is not None:
        d = json.loads(text)
        edit(d)
        text = json.dumps(d)
    path = tmp_path / "in" / "report.json"
    path.parent.mkdir()
    path.write_text(text[: len(text) // 2] if truncate else text)
    return path


def _set(d: dict, path: str, value: Any) -> None:
    *keys, last = path.split(".")
    for k in keys:
        d = d[int(k)] if k.isdigit() else d[k]  # type: ignore[index]
    d[last] = value


CLI: list[tuple[str, Callable[[Path], list[str]], str]] = [
    ("report truncated", lambda t: ["report", str(_report_file(t, truncate=True)), "--html"],
     "not valid JSON (truncated or hand-edited?)"),
    ("report schema", lambda t: ["report", str(_report_file(t, lambda d: d.update(schema_version=99))), "--html"],
     "schema_version 99 is not supported"),
    ("report status edited", lambda t: ["report", str(_report_file(t, lambda d: _set(d, "findings.0.status",
                                                                                      "MAYBE"))), "--html"],
     "findings[0].status: 'MAYBE' is not one of PASS"),
    ("report row edited", lambda t: ["report", str(_report_file(t, lambda d: _set(d, "rows.1.colour", "red"))),
                                     "--html"], "rows[1]: TypeError"),
    ("report rows type", lambda t: ["report", str(_report_file(t, lambda d: d.update(rows={}))), "--html"],
     "rows: expected a list, got dict"),
    ("report missing", lambda t: ["report", str(t / "nope.json")], "report: no such file"),
    ("run target", lambda t: ["run", "no_colon", "--out", str(t / "out")], "run: 'no_colon' is not MODULE:ATTR"),
    ("run module", lambda t: ["run", "no_such_module_xyz:spec", "--out", str(t / "out")],
     "run: cannot import module 'no_such_module_xyz'"),
    ("cache prune", lambda t: ["cache", "prune", "--cache-dir", str(t / "c")], "no cache at"),
    ("cache dir file", lambda t: ["cache", "info", "--cache-dir", str(_report_file(t))],
     "cache --cache-dir: '"),
]


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_cli_bad_input(argv, fragment, tmp_path, monkeypatch, capsys):
    from unlearn_audit.cli import main

    monkeypatch.chdir(tmp_path)
    args = argv(tmp_path)
    before = sorted(p for p in tmp_path.rglob("*"))
    code = main(args)
    out, err = capsys.readouterr()
    assert fragment in out + err, out + err
    if fragment != "no cache at":
        assert code == 2 and err.startswith("unlearn-audit: error:")
    assert sorted(p for p in tmp_path.rglob("*")) == before   # no HTML, no out folder, no cache


@pytest.mark.parametrize("argv, fragment", [
    (["demo", "--seeds", "a,b"], "argument --seeds: 'a,b' is not a comma-separated list of ints"),
    (["demo", "--formats", "pdf"], "argument --formats: 'pdf' is not a comma-separated subset"),
    (["run", "m:spec", "--method-timeout", "0"], "argument --method-timeout: '0': the time limit must be > 0"),
    (["cache", "prune", "--max-size", "lots"], "argument --max-size: 'lots' is not a size"),
    (["cache", "prune", "--older-than", "-2"], "argument --older-than: '-2': the number of days must be >= 0"),
])
def test_cli_bad_arguments(argv, fragment, tmp_path, monkeypatch, capsys):
    from unlearn_audit.cli import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and fragment in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_prune_without_criteria_names_them(tmp_path, capsys):
    from unlearn_audit.audit._cache import Cache, Entry
    from unlearn_audit.cli import main

    Cache(tmp_path).fetch("metrics", "ef" * 32, lambda: Entry(payload={"a": 1}))
    before = sorted(tmp_path.rglob("*"))
    assert main(["cache", "prune", "--cache-dir", str(tmp_path)]) == 2
    assert re.search(r"cache prune: give at least one of --older-than DAYS, --max-size SIZE, --other-versions",
                     capsys.readouterr().err)
    assert sorted(tmp_path.rglob("*")) == before
