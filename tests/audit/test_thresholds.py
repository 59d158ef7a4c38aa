"""Checks and thresholds: compact-form parsing, each kind and direction, noise widening, WARN, evaluate()."""

from __future__ import annotations

import math

import pytest

from unlearn_audit.audit import Check, ThresholdError, Thresholds, noise_floor
from unlearn_audit.report import AuditReport, ModelRecord, Status


# ---------------------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("text, metric, kind, bound, reference, id_", [
    ("eo:abs<=5", "EO", "abs", 5.0, None, "eo"),
    ("ga:drop<=5", "GA", "drop", 5.0, None, "ga"),
    ("fairness_gap:rel<=0.25@original", "FG", "rel", 0.25, "original", "fairness_gap"),
    ("ta:min>=50", "TA", "min", 50.0, None, "ta_min"),
    ("FG_MAX:max<=0.5", "FG_MAX", "max", 0.5, None, "fairness_gap_max_max"),
    ("mia:abs<=10@retrain+reweight", "MIA", "abs", 10.0, "retrain+reweight", "mia"),
    (" fgsm : drop <= 7.5 ", "FGSM", "drop", 7.5, None, "fgsm"),
    ("pgd:drop<=1e1", "PGD", "drop", 10.0, None, "pgd"),
    ("wg:drop<=-2", "WG", "drop", -2.0, None, "wg"),
])
def test_parse_good_strings(text, metric, kind, bound, reference, id_):
    c = Check.parse(text)
    assert (c.metric, c.kind, c.bound, c.reference, c.id) == (metric, kind, bound, reference, id_)
    assert Check.parse(c.compact) == c  # the compact form round-trips


def test_parse_options_and_roundtrip():
    c = Check.parse("ra:drop<=3,noise_k=2,warn_margin=0.5,id=ra_strict")
    assert (c.noise_k, c.warn_margin, c.id) == (2.0, 0.5, "ra_strict")
    assert Check.parse(c.compact) == c
    assert c == Check("ra", max_drop=3, noise_k=2, warn_margin=0.5, id="ra_strict")


@pytest.mark.parametrize("text, fragment", [
    ("eo", "does not have the shape"),
    ("eo:abs", "does not have the shape"),
    ("eo:abs>=5", "kind 'abs' takes the operator '<='"),
    ("ta:min<=5", "kind 'min' takes the operator '>='"),
    ("eo:absolute<=5", "unknown kind 'absolute'"),
    ("nope:abs<=5", "unknown metric 'nope'"),
    ("eo:abs<=five", "'five' is not a number"),
    ("eo:abs<=nan", "not a finite number"),
    ("eo:abs<=-1", "must be >= 0"),
    ("eo:abs<=5,noise=2", "unknown option 'noise=2'"),
    ("eo:abs<=5,noise_k=x", "noise_k='x' is not a number"),
    ("eo:abs<=5,noise_k=-1", "noise_k must be >= 0"),
    ("ta:min>=50@retrain", "takes no reference"),
])
def test_parse_bad_strings_quote_text_and_source(text, fragment):
    with pytest.raises(ThresholdError) as info:
        Check.parse(text, source="--unlearn-threshold")
    msg = str(info.value)
    assert msg.startswith(f"--unlearn-threshold: {text!r} is not a valid check")
    assert fragment in msg
    assert "eo:abs<=5" in msg  # an example of the expected form


def test_unknown_metric_lists_known_names():
    with pytest.raises(ThresholdError, match="known: .*fairness_gap.*fgsm"):
        Check("nope", max_abs_delta=1)


def test_check_needs_exactly_one_bound():
    with pytest.raises(ThresholdError, match="set exactly one of .* got none"):
        Check("eo")
    with pytest.raises(ThresholdError, match="got max_abs_delta, max_drop"):
        Check("eo", max_abs_delta=1, max_drop=2)
    with pytest.raises(ThresholdError, match="finite number"):
        Check("eo", max_abs_delta=True)


def test_thresholds_parse_splits_and_rejects_duplicate_ids():
    th = Thresholds.parse(["eo:abs<=5; ga:drop<=5", "ta:min>=50\nta:drop<=3"], source="ini unlearn_audit_thresholds")
    assert th.ids == ["eo", "ga", "ta_min", "ta"]
    with pytest.raises(ThresholdError, match="ini x: two checks share the id 'eo'"):
        Thresholds.parse(["eo:abs<=5", "eo:abs<=3"], source="ini x")
    with pytest.raises(ThresholdError, match="^env X: 'eo:<=3' is not a valid check"):
        Thresholds.parse("eo:<=3", source="env X")


def test_merge_overrides_by_id_and_appends():
    th = Thresholds.default().merge(["eo:abs<=3", "wg:drop<=4"], source="--unlearn-threshold")
    assert th["eo"].bound == 3
    assert th.ids[-1] == "wg"
    assert th.ids[:len(Thresholds.default())] == Thresholds.default().ids
    # later overrides win (lowest precedence first)
    assert Thresholds.default().merge(["eo:abs<=3", "eo:abs<=4"])["eo"].bound == 4


def test_default_thresholds_cover_the_documented_checks():
    th = Thresholds.default()
    assert th.ids == ["fairness_gap", "eo", "ga", "mia", "fgsm", "ta", "ra"]
    assert th["fairness_gap"].reference == "original" and th["fairness_gap"].kind == "rel"
    assert all(c.noise_k for c in th)
    for c in th:  # every default is documented in the docstring
        assert c.compact in Thresholds.__doc__


# ---------------------------------------------------------------------------------------------- semantics
def test_abs_is_symmetric():
    c = Check("eo", max_abs_delta=5)
    assert c.check(12, 10).status is Status.PASS
    assert c.check(8, 10).status is Status.PASS
    f = c.check(16, 10)
    assert f.status is Status.FAIL and f.value == 6 and f.bound == 5
    assert "|EO - EO(reference)| = |16.00 - 10.00| = 6.00" in f.why and "outside" in f.why


def test_drop_follows_higher_is_better():
    ga = Check("ga", max_drop=5)  # higher is better: a drop is model < reference
    assert ga.check(70, 80).status is Status.FAIL
    assert ga.check(90, 80).status is Status.PASS and ga.check(90, 80).value == -10
    assert "better than" in ga.check(90, 80).why
    eo = Check("eo", max_drop=5)  # lower is better: a drop (getting worse) is model > reference
    assert eo.check(20, 10).status is Status.FAIL
    assert eo.check(0, 10).status is Status.PASS
    mia = Check("mia", max_drop=5)  # two-sided: any distance counts
    assert mia.check(20, 10).status is Status.FAIL and mia.check(0, 10).status is Status.FAIL
    assert mia.check(12, 10).status is Status.PASS


def test_rel_change_is_relative_to_the_reference():
    c = Check("fairness_gap", max_rel_change=0.25, reference="original")
    assert c.check(0.12, 0.1).status is Status.PASS
    f = c.check(0.13, 0.1)
    assert f.status is Status.FAIL and f.value == pytest.approx(0.3) and f.reference == "original"
    assert c.check(0.07, 0.1).status is Status.FAIL  # a decrease counts too
    assert c.check(0.0, 0.0).status is Status.PASS
    skipped = c.check(0.1, 0.0)
    assert skipped.status is Status.SKIP and "reference value is 0" in skipped.why


def test_min_and_max_values():
    assert Check("ta", min_value=50).check(60).status is Status.PASS
    assert Check("ta", min_value=50).check(40).status is Status.FAIL
    assert Check("eo", max_value=10).check(5).status is Status.PASS
    assert Check("eo", max_value=10).check(15).status is Status.FAIL
    assert Check("ta", min_value=50).check(40).reference is None


def test_seeds_are_paired_and_averaged():
    c = Check("eo", max_abs_delta=5)
    f = c.check([10, 20], [14, 12])  # |10-14| = 4, |20-12| = 8 -> mean 6 (not |15 - 13| = 2)
    assert f.value == pytest.approx(6.0) and f.status is Status.FAIL
    assert f.model_value == 15 and f.reference_value == 13
    assert c.check([10, 20], 12).value == pytest.approx(5.0)  # a single reference value serves every seed
    assert c.check([1, 2, 3], [1, 2]).status is Status.SKIP


def test_noise_widening():
    c = Check("ga", max_drop=5, noise_k=2)
    assert c.check(70, 80).status is Status.FAIL
    f = c.check(70, 80, noise=3.0)  # bound 5 + 2 x 3 = 11
    assert f.status is Status.PASS and f.bound == pytest.approx(11.0)
    assert "widened by 2 x seed spread 3.00" in f.why
    assert Check("ta", min_value=50, noise_k=2).effective_bound(noise=1.5) == pytest.approx(47.0)
    assert Check("fg", max_rel_change=0.2, noise_k=1).effective_bound(noise=0.05, reference_value=0.5) \
        == pytest.approx(0.3)
    assert Check("ga", max_drop=5).effective_bound(noise=3.0) == 5  # no noise_k: no widening
    assert c.effective_bound(noise=None) == 5


def test_warn_margin():
    c = Check("eo", max_abs_delta=5, warn_margin=1)
    assert c.check(13.0, 10).status is Status.PASS
    f = c.check(14.5, 10)
    assert f.status is Status.WARN and "close to" in f.why
    assert c.check(15.5, 10).status is Status.FAIL
    assert Check("ta", min_value=50, warn_margin=2).check(51).status is Status.WARN


# ---------------------------------------------------------------------------------------------- evaluate
def _rec(name, role, seed=0, reference=None, **values):
    na = {k: "why not" for k, v in values.items() if v is None}
    vals = {k: v for k, v in values.items() if v is not None}
    return ModelRecord(name=name, role=role, seed=seed, reference=reference,
                       metrics={"values": vals, "not_applicable": na})


def _report(rows, user="mine"):
    return AuditReport(rows=rows, user_method=user)


def test_evaluate_uses_each_models_reference_and_pairs_seeds():
    rows = [_rec("original", "original", EO=30.0, FG=0.2),
            _rec("retrain", "reference", 0, EO=10.0, FG=0.25), _rec("retrain", "reference", 1, EO=14.0, FG=0.25),
            _rec("retrain+reweight", "reference", 0, EO=4.0), _rec("retrain+reweight", "reference", 1, EO=6.0),
            _rec("mine", "user", 0, "retrain", EO=12.0, FG=0.21), _rec("mine", "user", 1, "retrain", EO=16.0, FG=0.19)]
    report = _report(rows)
    th = Thresholds(["eo:abs<=3", "eo:abs<=3@retrain+reweight,id=eo_rw", "fairness_gap:rel<=0.1@original",
                     "eo:abs<=1,noise_k=1,id=eo_noise"])
    f = {x.check.split(",")[0] if "id=" not in x.check else x.check: x for x in th.evaluate(report)}
    eo = f["eo:abs<=3"]
    assert eo.status is Status.PASS and eo.reference == "retrain" and eo.value == pytest.approx(2.0)
    rw = [x for x in th.evaluate(report) if "eo_rw" in x.check][0]
    assert rw.status is Status.FAIL and rw.reference == "retrain+reweight" and rw.value == pytest.approx(9.0)
    fg = f["fairness_gap:rel<=0.1@original"]
    assert fg.status is Status.PASS and fg.value == pytest.approx(0.05)  # the single original serves both seeds
    noisy = [x for x in th.evaluate(report) if "eo_noise" in x.check][0]
    sd = math.sqrt(8.0)  # std of (10, 14)
    assert noisy.bound == pytest.approx(1 + sd) and noisy.status is Status.PASS  # |delta| = 2 > 1 but <= 1 + sd
    assert noise_floor(report, "EO") == pytest.approx(sd)
    assert noise_floor(report, "FG") == pytest.approx(0.0)


def test_evaluate_skip_and_fail_reasons():
    rows = [_rec("original", "original", EO=30.0, FG=None),
            _rec("retrain", "reference", EO=10.0, FG=None),
            _rec("ft", "method", reference="retrain", EO=11.0, FG=None),
            ModelRecord(name="broken", role="method", reference="retrain", status="failed", error="raised KeyError")]
    report = _report(rows, user=None)
    th = Thresholds(["eo:abs<=3", "fairness_gap:rel<=0.1@original", "eo:abs<=3@retrain_groupdro,id=eo_dro"])
    by = {(x.model, x.check): x for x in th.evaluate(report)}
    assert {m for m, _ in by} == {"ft", "broken"}  # no user method: every suite method
    assert by[("ft", "eo:abs<=3")].status is Status.PASS
    fg = by[("ft", "fairness_gap:rel<=0.1@original")]
    assert fg.status is Status.SKIP and "FG does not apply to ft: why not" in fg.why
    dro = by[("ft", "eo:abs<=3@retrain_groupdro,id=eo_dro")]
    assert dro.status is Status.SKIP and "'retrain_groupdro' is not part of this audit" in dro.why
    broken = by[("broken", "eo:abs<=3")]
    assert broken.status is Status.FAIL and "raised KeyError" in broken.why
    with pytest.raises(KeyError, match="no model named 'nope'"):
        th.evaluate(report, models=["nope"])


def test_evaluate_min_check_ignores_references():
    report = _report([_rec("mine", "user", TA=40.0)])
    (f,) = Thresholds(["ta:min>=50"]).evaluate(report)
    assert f.status is Status.FAIL and f.reference is None and f.value == 40
