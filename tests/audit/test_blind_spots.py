"""What a check cannot see (notes on findings) and methods whose output is the original's (a WARN finding)."""

from __future__ import annotations

import numpy as np
import pytest

from unlearn_audit.audit import run_audit
from unlearn_audit.audit._blind_spots import CANNOT_SEE, annotate_findings, output_change, unchanged_findings
from unlearn_audit.report import AuditReport, Finding, ModelRecord, Status

RNG = np.random.default_rng(0)
SAMPLES = {"test.pred": RNG.integers(0, 2, 200), "forget.correct": RNG.random(30) < 0.8,
           "forget.loss": RNG.random(30).astype(np.float32) + 0.1}


def _record(name, role, *, fg=(0.1, 0.2), samples=None, log=None, seed=0):
    metrics = {"values": {"FG": float(np.mean(fg)), "TA": 80.0}, "not_applicable": {},
               "fairness_gap": {"values": list(fg), "layer_names": [f"bn{i}" for i in range(len(fg))]}}
    return ModelRecord(name=name, role=role, seed=seed, metrics=metrics,
                       samples={k: v.copy() for k, v in (samples or SAMPLES).items()}, log=log or {})


def _report(*records, dominant=((1, 0),), test_counts=(5, 5, 5, 5)):
    data = {"dominant_groups": [list(g) for g in dominant], "n_attrs": 2,
            "group_counts": {"test": {f"g{i}": c for i, c in enumerate(test_counts)}}}
    return AuditReport(rows=[_record("original", "original"), *records], data=data)


def _finding(metric, model, status=Status.PASS):
    return Finding(check=f"{metric.lower()}:abs<=5", metric=metric, model=model, status=status, why="inside.")


def test_fairness_gap_check_on_a_head_only_change_gets_a_note():
    rep = _report(_record("head", "method"), _record("body", "method", fg=(0.1, 0.3)))
    out = annotate_findings(rep, [_finding("FG", "head"), _finding("FG", "body"), _finding("TA", "head")])
    assert CANNOT_SEE in out[0].why and "normalization layer" in out[0].why
    assert out[0].status is Status.PASS            # the note explains; it does not change the decision
    assert out[1].why == "inside." and out[2].why == "inside."


def test_eo_and_ga_notes_when_the_dominant_groups_cover_everything():
    every = ((0, 0), (0, 1), (1, 0), (1, 1))
    rep = _report(_record("m", "method"), dominant=every)
    eo, ga = annotate_findings(rep, [_finding("EO", "m", Status.SKIP), _finding("GA", "m")])
    assert CANNOT_SEE in eo.why and "undefined" in eo.why and eo.status is Status.SKIP
    assert CANNOT_SEE in ga.why and "equals TA" in ga.why
    # the default single-group request: no note
    rep = _report(_record("m", "method"))
    assert all(CANNOT_SEE not in f.why for f in annotate_findings(rep, [_finding("EO", "m"), _finding("GA", "m")]))


def test_ga_equals_ta_when_the_only_test_groups_are_dominant():
    rep = _report(_record("m", "method"), dominant=((1, 0), (1, 1)), test_counts=(0, 0, 7, 9))
    (ga,) = annotate_findings(rep, [_finding("GA", "m")])
    assert "equals TA" in ga.why


def test_unchanged_output_gets_a_warn_and_a_changed_one_does_not():
    moved = {**SAMPLES, "test.pred": SAMPLES["test.pred"].copy()}
    moved["test.pred"][0] = 1 - moved["test.pred"][0]
    lossy = {**SAMPLES, "forget.loss": SAMPLES["forget.loss"] * 1.5}
    rep = _report(_record("same", "method", log={"sw_soft_max_abs_epsilon": 0.02, "sw_soft_lambda": 0.1}),
                  _record("moved", "method", samples=moved), _record("lossy", "method", samples=lossy))
    out = unchanged_findings(rep, ["same", "moved", "lossy"])
    assert [f.model for f in out] == ["same"]
    assert out[0].status is Status.WARN and out[0].check == "runs"
    assert "lam='auto'" in out[0].why and "0.02" in out[0].why
    assert output_change(rep.records("moved")[0], rep.records("original")[0])["test_pred_changed"] == 0.005


def test_no_samples_no_judgement():
    rec = _record("m", "method")
    rec.samples = None
    assert unchanged_findings(_report(rec), ["m"]) == []


def test_run_audit_warns_on_return_model(make_spec):
    def return_model(model, ctx):
        return model

    report = run_audit(make_spec(unlearn_fn=return_model, seeds=(0,), reference_seeds=(0, 1)), progress=False)
    warns = [f for f in report.findings if f.check == "runs"]
    assert len(warns) == 1 and warns[0].status is Status.WARN and "indistinguishable" in warns[0].why
    assert report.verdict is not Status.PASS


def test_soft_variants_default_to_the_reference_codes_lambda():
    from unlearn_audit.methods import get_method

    assert get_method("sw_influence").params.lam == "auto"
    with pytest.raises(ValueError, match="sw.lam"):
        get_method("sw_influence", lam=-1.0)


def test_thresholds_evaluate_adds_the_note():
    from unlearn_audit.audit import Thresholds

    rep = _report(_record("head", "method"))
    (f,) = Thresholds(["fairness_gap:rel<=0.25@original"]).evaluate(rep, models=["head"])
    assert CANNOT_SEE in f.why and f.status is not Status.FAIL
