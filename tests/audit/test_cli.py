"""The ``unlearn-audit`` command line: demo, run MODULE:ATTR, report; exit statuses and error messages."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from unlearn_audit import cli
from unlearn_audit.report import AuditReport, Finding, ModelRecord, Status


def _report(status: Status = Status.PASS) -> AuditReport:
    rows = [ModelRecord(name="original", role="original", metrics={"values": {"TA": 90.0, "RA": 99.0}}),
            ModelRecord(name="retrain", role="reference", metrics={"values": {"TA": 88.0, "RA": 98.0}}),
            ModelRecord(name="<script>mine", role="user", reference="retrain",
                        metrics={"values": {"TA": 80.0, "RA": 97.0}})]
    findings = [Finding(check="ta:drop<=5", metric="TA", model="<script>mine", status=status, value=8.0, bound=5.0,
                        reference="retrain", reference_value=88.0, model_value=80.0, why="TA dropped")]
    return AuditReport(rows=rows, findings=findings, user_method="<script>mine", created="2025-01-01T00:00:00+00:00")


def test_report_command_prints_and_renders(tmp_path, capsys):
    path = tmp_path / "results.json"
    _report().to_json(path)
    assert cli.main(["report", str(path), "--html", "--checklist"]) == 0
    out = capsys.readouterr().out
    assert "verdict: PASS" in out and "<script>mine" in out
    assert (tmp_path / "results.html").is_file() and (tmp_path / "checklist.md").is_file()
    html = (tmp_path / "results.html").read_text()
    assert "<script>mine" not in html and "&lt;script&gt;mine" in html
    custom = tmp_path / "sub" / "x.html"
    assert cli.main(["report", str(path), "--html", str(custom)]) == 0 and custom.is_file()


def test_report_exit_status_fails_on_fail_by_default(tmp_path):
    path = tmp_path / "results.json"
    _report(Status.FAIL).to_json(path)
    assert cli.main(["report", str(path)]) == 1
    assert cli.main(["report", str(path), "--strict"]) == 1       # the old flag still works
    assert cli.main(["report", str(path), "--no-strict"]) == 0
    warn = tmp_path / "warn.json"
    _report(Status.INCONCLUSIVE).to_json(warn)                      # gates as WARN by default
    assert cli.main(["report", str(warn)]) == 0
    assert cli.main(["report", str(warn), "--fail-on", "warn"]) == 1
    assert cli.main(["report", str(warn), "--fail-on", "warn", "--no-strict"]) == 0


def test_report_json_has_a_top_level_verdict(tmp_path):
    path = tmp_path / "results.json"
    _report(Status.FAIL).to_json(path)
    data = json.loads(path.read_text())
    assert data["verdict"] == "FAIL" and data["counts"]["FAIL"] == 1 and data["verdict_line"].startswith("FAIL:")
    assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())  # 0644 under umask 022, not 0600


def _umask() -> int:
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[: len(text) // 2], "not valid JSON (truncated or hand-edited?)"),
    (lambda text: text.replace('"verdict": "FAIL"', '"verdict": "PASS"'), "edited by hand or is corrupt"),
    (lambda text: json.dumps({**json.loads(text), "schema_version": 7}), "schema_version 7 is not supported"),
    (lambda text: json.dumps({**json.loads(text), "rows": [{"nme": "x"}]}), "rows[0]: TypeError"),
    (lambda text: "[1, 2]", "expected a JSON object"),
])
def test_damaged_reports_are_refused_clearly(tmp_path, capsys, damage, message):
    path = tmp_path / "results.json"
    _report(Status.FAIL).to_json(path)
    path.write_text(damage(path.read_text()))
    assert cli.main(["report", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err


def test_report_errors(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "missing.json")]) == 2
    assert "report: no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 99}))
    assert cli.main(["report", str(bad)]) == 2
    assert "is not an unlearn-audit report" in (err := capsys.readouterr().err) and "schema_version 99" in err


def test_usage_errors_from_argparse(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        cli.main(["demo", "--formats", "pdf"])
    assert info.value.code == 2 and "'pdf' is not a comma-separated subset of json,html,md" in capsys.readouterr().err


SPEC_MODULE = textwrap.dedent("""
    from unlearn_audit.audit import AuditSpec
    from unlearn_audit.datasets import colored_digits
    from unlearn_audit.metrics import MetricConfig
    from unlearn_audit.models import SmallConvNet
    from unlearn_audit.training import TrainRecipe


    def model():
        return SmallConvNet(2, width=8, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


    def keep(model, ctx):
        return model


    def make_spec():
        return AuditSpec(data=colored_digits(scale=1, majority=0.9, size=8), model_factory=model, unlearn_fn=keep,
                         recipe=TrainRecipe(epochs=1, batch_size=64), methods="none", references=("retrain",),
                         metric_config=MetricConfig.preset("smoke", attack_max_samples=64), device="cpu",
                         thresholds=["ta:drop<=100", "ra:drop<=-200"], cache_dir=CACHE)


    spec = make_spec()
    not_a_spec = 3
""")


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "my_audit.py"
    path.write_text(SPEC_MODULE.replace("CACHE", repr(str(tmp_path / "cache"))))
    return path


def test_run_writes_three_reports_and_fails_on_fail(spec_file, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert cli.main(["run", f"{spec_file}:spec", "--out", str(out), "--no-progress", "--no-strict"]) == 0
    printed = capsys.readouterr().out
    assert "verdict: FAIL" in printed and f"wrote {out / 'report.json'}" in printed
    assert {p.name for p in out.iterdir()} == {"report.json", "report.html", "checklist.md"}
    report = AuditReport.from_json(out / "report.json")
    assert report.user_method == "keep" and report.model_names() == ["original", "retrain", "keep"]
    # a zero-argument function returning the spec, imported as a module from the current folder; --strict
    monkeypatch.chdir(tmp_path)
    out2 = tmp_path / "out2"
    assert cli.main(["run", "my_audit:make_spec", "--out", str(out2), "--formats", "json"]) == 1
    assert [p.name for p in out2.iterdir()] == ["report.json"]


def test_run_takes_profile_seeds_and_methods(spec_file, tmp_path, monkeypatch):
    seen = {}
    from unlearn_audit.audit import PROFILES

    def fake_run(spec, *, progress=True, **execution):
        seen["spec"] = spec
        return _report(Status.PASS)

    monkeypatch.setattr("unlearn_audit.audit.run_audit", fake_run)
    args = ["run", f"{spec_file}:spec", "--out", str(tmp_path / "o"), "--formats", "json", "--no-progress"]
    assert cli.main(args + ["--seeds", "1,2", "--methods", "ft"]) == 0
    spec = seen["spec"]
    assert spec.seeds == (1, 2) and spec.methods == ["ft"] and spec.references == ("retrain",)
    assert cli.main(args + ["--profile", "smoke", "--seeds", "4"]) == 0
    spec = seen["spec"]
    assert spec.seeds == (4,) and spec.methods == "none" and len(spec.reference_seeds) >= 3
    assert spec.metric_config.to_dict() == PROFILES["smoke"].metric_config().to_dict()


def test_compare_two_reports(tmp_path, capsys):
    from tests.report._make_report import make_report

    old, new = make_report(), make_report()
    for r in new.records("my_unlearn"):
        r.metrics["values"]["TA"] -= 8          # a drop well beyond its interval and the 2-point bound
    old.to_json(tmp_path / "old.json")
    new.to_json(tmp_path / "new.json")
    args = ["compare", str(tmp_path / "old.json"), str(tmp_path / "new.json")]
    assert cli.main(args) == 1
    out = capsys.readouterr().out
    assert "Against the baseline: FAIL: 1 of" in out and "✗ FAIL" in out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert cli.main(args + ["--max-regression", "ta=20"]) == 0     # within a wide bound: not a regression
    assert cli.main(args + ["--no-strict"]) == 0
    same = ["compare", str(tmp_path / "old.json"), str(tmp_path / "old.json")]
    assert cli.main(same) == 0 and "0 of" in capsys.readouterr().out


def test_compare_refuses_other_data_or_another_request(tmp_path, capsys):
    from tests.report._make_report import make_report

    old, other = make_report(), make_report()
    other.data["fingerprint"] = {**other.data["fingerprint"], "forget_idx": "0" * 64}
    old.to_json(tmp_path / "old.json")
    other.to_json(tmp_path / "other.json")
    assert cli.main(["compare", str(tmp_path / "old.json"), str(tmp_path / "other.json")]) == 2
    assert "another forget request" in capsys.readouterr().err
    other = make_report()
    other.data["fingerprint"] = {**other.data["fingerprint"], "test": "1" * 64}
    other.to_json(tmp_path / "other.json")
    assert cli.main(["compare", str(tmp_path / "old.json"), str(tmp_path / "other.json")]) == 2
    assert "other data: the test split" in capsys.readouterr().err


def test_run_saves_and_compares_a_baseline(spec_file, tmp_path, capsys):
    base = tmp_path / "baseline.json"
    args = ["run", f"{spec_file}:spec", "--formats", "json", "--no-progress", "--no-strict"]
    assert cli.main(args + ["--out", str(tmp_path / "a"), "--save-baseline", str(base),
                            "--request-id", "ticket-42"]) == 0
    assert AuditReport.from_json(base).config["request_id"] == "ticket-42"
    capsys.readouterr()
    assert cli.main(args + ["--out", str(tmp_path / "b"), "--baseline", str(base)]) == 0   # cached: same numbers
    out = capsys.readouterr().out
    assert "Against the baseline: PASS" in out or "Against the baseline: WARN" in out
    assert "keep: baseline → now" in out


@pytest.mark.parametrize("target, message", [
    ("nocolon", "is not MODULE:ATTR"),
    ("no_such_module_xyz:spec", "cannot import module 'no_such_module_xyz'"),
    ("{file}:missing", "has no attribute 'missing'"),
    ("{file}:not_a_spec", "is of type int, expected an AuditSpec"),
    ("{dir}/absent.py:spec", "no such file"),
])
def test_run_errors(spec_file, capsys, target, message):
    target = target.format(file=spec_file, dir=spec_file.parent)
    assert cli.main(["run", target]) == 2
    assert message in capsys.readouterr().err


def test_demo_uses_the_demo_spec_and_writes_reports(monkeypatch, tmp_path, spec_file, capsys):
    """The demo command with a tiny spec in place of the colored_digits one (the real demo is a slow test)."""
    tiny = cli.load_spec(f"{spec_file}:spec")
    seen = {}

    def fake_demo_spec(**overrides):
        seen.update(overrides)
        return tiny.replace(**{k: v for k, v in overrides.items() if k != "profile"})

    monkeypatch.setattr(cli, "demo_spec", fake_demo_spec)
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--seeds", "0", "--no-progress", "--no-strict"]) == 0
    assert seen == {"profile": "ci", "seeds": (0,)}
    assert (out / "report.json").is_file() and (out / "report.html").is_file() and (out / "checklist.md").is_file()
    assert cli.main(["demo", "--out", str(out), "--no-cache", "--no-progress"]) == 1
    assert seen["cache_dir"] is False


def test_demo_spec_is_valid():
    spec = cli.demo_spec(cache_dir=False)
    assert spec.user_method.name == "demo_unlearn"
    assert spec.references == ("retrain", "retrain+reweight") and spec.seeds == (0, 1, 2) and spec.suite_seeds == (0,)
    assert len(spec.data.train) > 1000


def test_console_script_entry_point():
    proc = subprocess.run([sys.executable, "-m", "unlearn_audit.cli", "--help"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0
    for command in ("demo", "run", "report", "compare"):
        assert command in proc.stdout


@pytest.mark.slow
def test_real_demo(tmp_path):
    """``unlearn-audit demo`` end to end on colored_digits (what ``make demo`` runs)."""
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-m", "unlearn_audit.cli", "demo", "--out", str(out), "--cache-dir",
                           str(tmp_path / "cache")], capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "verdict:" in proc.stdout
    assert {p.name for p in Path(out).iterdir()} == {"report.json", "report.html", "checklist.md"}


def test_method_timeout_option_reaches_the_spec(spec_file, monkeypatch):
    import unlearn_audit.audit

    seen = []

    class Stop(Exception):
        pass

    def fake_run_audit(spec, **kw):
        seen.append(spec.method_timeout)
        raise Stop

    monkeypatch.setattr(unlearn_audit.audit, "run_audit", fake_run_audit)
    with pytest.raises(Stop):
        cli.main(["run", f"{spec_file}:spec", "--method-timeout", "90", "--no-progress"])
    with pytest.raises(Stop):
        cli.main(["run", f"{spec_file}:spec", "--no-progress"])
    assert seen == [90.0, None]


def test_demo_runs_one_worker_per_core_on_a_cpu_only_machine(monkeypatch):
    import argparse

    import torch

    from unlearn_audit import cli

    args = argparse.Namespace(executor=None, workers=None, ray_address=None, device=None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(cli, "_cpu_cores", lambda: 2)
    assert cli._execution(args, parallel_on_cpu=True)["executor"] == "processes"
    assert cli._execution(args)["executor"] == "serial"                      # `run` keeps serial
    monkeypatch.setattr(cli, "_cpu_cores", lambda: 1)
    assert cli._execution(args, parallel_on_cpu=True)["executor"] == "serial"
    monkeypatch.setattr(cli, "_cpu_cores", lambda: 2)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cli._execution(args, parallel_on_cpu=True)["executor"] == "serial"   # a GPU: one process
    explicit = argparse.Namespace(executor="serial", workers=None, ray_address=None, device=None)
    assert cli._execution(explicit, parallel_on_cpu=True)["executor"] == "serial"
