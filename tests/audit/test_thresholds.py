"""Checks and thresholds: compact-form parsing, each kind and direction decided on an interval, evaluate()."""

from __future__ import annotations

import math

import pytest

from unlearn_audit.audit import Check, ThresholdError, Thresholds
from unlearn_audit.report import AuditReport, ModelRecord, Status
from unlearn_audit.stats import combine_variances, t_quantile


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
    c = Check.parse("ra:drop<=3,warn_margin=0.5,id=ra_strict")
    assert (c.warn_margin, c.id) == (0.5, "ra_strict")
    assert Check.parse(c.compact) == c
    assert c == Check("ra", max_drop=3, warn_margin=0.5, id="ra_strict")


def test_noise_k_is_removed_with_a_clear_error():
    with pytest.raises(ThresholdError, match="noise_k was removed.*confidence intervals"):
        Check("eo", max_abs_delta=5, noise_k=2)


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
    ("eo:abs<=5,noise_k=2", "noise_k was removed"),
    ("eo:abs<=5,warn_margin=x", "warn_margin='x' is not a number"),
    ("eo:abs<=5,warn_margin=-1", "warn_margin must be >= 0"),
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
    assert th.ids == ["ua", "mia", "ta", "ra", "eo", "ga", "fgsm"]
    assert all(c.reference is None for c in th)          # the model's own reference retrain
    assert "fairness_gap:rel<=0.5@original" in Thresholds.default.__doc__   # documented as opt-in
    assert (th.level, th.inconclusive) == (0.95, "warn")
    for c in th:  # every default is documented in the docstring
        assert c.compact in Thresholds.default.__doc__


@pytest.mark.parametrize("kwargs, fragment", [
    ({"level": 1.0}, "level must be a number in (0, 1)"),
    ({"level": 0}, "level must be a number in (0, 1)"),
    ({"level": "high"}, "level must be a number in (0, 1)"),
    ({"inconclusive": "maybe"}, "inconclusive: expected one of warn, fail, pass"),
])
def test_bad_level_or_policy_names_the_source(kwargs, fragment):
    with pytest.raises(ThresholdError) as info:
        Thresholds(["eo:abs<=5"], source="--unlearn-level", **kwargs)
    assert str(info.value).startswith("--unlearn-level") and fragment in str(info.value)


# ---------------------------------------------------------------------------------------------- decisions
def _iv(estimate, se, *, measured=True):
    """An interval estimate +- 1.96 se (normal)."""
    return combine_variances(estimate, sample_var=se ** 2, level=0.95, seeds_measured=measured)


def test_abs_decides_on_the_interval_of_the_absolute_difference():
    c = Check("eo", max_abs_delta=5)
    assert c.decide(_iv(1.0, 1.0)).status is Status.PASS            # |delta| in [0, 2.96]
    assert c.decide(_iv(-1.0, 1.0)).status is Status.PASS           # symmetric
    f = c.decide(_iv(9.0, 1.0))                                      # [7.04, 10.96]: wholly outside
    assert f.status is Status.FAIL and f.lo == pytest.approx(9 - 1.96 * 1, abs=1e-3) and f.value == 9
    f = c.decide(_iv(-9.0, 1.0))
    assert f.status is Status.FAIL and f.lo == pytest.approx(7.04, abs=1e-2) and f.hi == pytest.approx(10.96, abs=1e-2)
    f = c.decide(_iv(4.0, 1.0))                                      # [2.04, 5.96] straddles 5
    assert f.status is Status.INCONCLUSIVE and "to decide" in f.decide
    f = c.decide(_iv(0.5, 3.0))                                      # straddles 0: [0, 6.38]
    assert f.lo == 0.0 and f.hi == pytest.approx(0.5 + 1.96 * 3, abs=1e-2)
    assert f.status is Status.INCONCLUSIVE


def test_drop_follows_higher_is_better():
    ga = Check("ga", max_drop=5)                                     # higher is better: drop = -delta
    assert ga.decide(_iv(-10.0, 1.0)).status is Status.FAIL          # 10 points worse
    f = ga.decide(_iv(10.0, 1.0))
    assert f.status is Status.PASS and f.value == -10                # better than the reference
    eo = Check("eo", max_drop=5)                                     # lower is better: drop = delta
    assert eo.decide(_iv(10.0, 1.0)).status is Status.FAIL
    assert eo.decide(_iv(-10.0, 1.0)).status is Status.PASS
    mia = Check("mia", max_drop=5)                                   # two-sided: |delta|
    assert mia.decide(_iv(10.0, 1.0)).status is Status.FAIL and mia.decide(_iv(-10.0, 1.0)).status is Status.FAIL


def test_rel_change_is_relative_to_the_reference_mean():
    c = Check("fg", max_rel_change=0.2)
    f = c.decide(_iv(0.01, 0.001), reference_value=0.1)             # 10% +- 2%
    assert f.status is Status.PASS and f.value == pytest.approx(0.1)
    assert c.decide(_iv(-0.05, 0.001), reference_value=0.1).status is Status.FAIL  # a decrease counts too
    skipped = c.decide(_iv(0.05, 0.001), reference_value=0.0)
    assert skipped.status is Status.SKIP and "undefined" in skipped.why


def test_min_and_max_and_the_sign_of_the_margin():
    f = Check("ta", min_value=50).decide(_iv(94.0, 1.0))
    assert f.status is Status.PASS and f.margin == pytest.approx(44.0) and f.direction == "at_least"
    f = Check("ta", min_value=50).decide(_iv(40.0, 1.0))
    assert f.status is Status.FAIL and f.margin == pytest.approx(-10.0)
    assert Check("ta", min_value=50).decide(_iv(51.0, 1.0)).status is Status.INCONCLUSIVE
    f = Check("eo", max_value=10).decide(_iv(5.0, 1.0))
    assert f.status is Status.PASS and f.margin == pytest.approx(5.0)
    assert Check("eo", max_value=10).decide(_iv(15.0, 1.0)).status is Status.FAIL


def test_unmeasured_seed_spread_is_never_a_confident_pass():
    c = Check("eo", max_abs_delta=5)
    f = c.decide(_iv(0.0, 0.5, measured=False))
    assert f.status is Status.INCONCLUSIVE and "seed spread was not measured" in f.decide
    assert "not measured" in f.why
    assert c.decide(_iv(20.0, 0.5, measured=False)).status is Status.FAIL   # a violation is still shown
    assert Check("ta", min_value=50).decide(_iv(90.0, 1.0, measured=False)).status is Status.PASS  # no reference


def test_warn_margin_applies_to_the_far_end_of_the_interval():
    c = Check("eo", max_abs_delta=5, warn_margin=1)
    assert c.decide(_iv(1.0, 0.5)).status is Status.PASS             # hi = 1.98
    assert c.decide(_iv(3.7, 0.2)).status is Status.WARN             # hi = 4.09 > 5 - 1


def test_what_would_decide_scales_with_samples_and_seeds():
    c = Check("ua", max_abs_delta=5)
    # sampling noise only: halving the distance to the bound needs ~ (hw / d)^2 x the samples
    f = c.decide(combine_variances(4.0, sample_var=1.0), n_samples=200, sample_split="forget set")
    assert f.status is Status.INCONCLUSIVE
    factor = 1.0 / (1.0 / t_quantile(0.975, math.inf)) ** 2  # distance 1, half-width 1.96
    assert f"{factor:.1f}x the forget set" in f.decide
    # seed noise only: more seeds
    f = c.decide(combine_variances(4.0, sample_var=0.0, seed_var=4.0 * (1 + 1 / 3), seed_df=math.inf),
                 n_model_seeds=1, n_reference_seeds=3)
    assert "seeds of the method and its reference" in f.decide


# ---------------------------------------------------------------------------------------------- evaluate
def _rec(name, role, seed=0, reference=None, **values):
    na = {k: "why not" for k, v in values.items() if v is None}
    vals = {k: v for k, v in values.items() if v is not None}
    return ModelRecord(name=name, role=role, seed=seed, reference=reference,
                       metrics={"values": vals, "not_applicable": na})


def _report(rows, user="mine"):
    return AuditReport(rows=rows, user_method=user)


def test_evaluate_uses_seed_means_pooled_seed_variance_and_stored_sample_variance():
    rows = [_rec("original", "original", EO=30.0, FG=0.2),
            _rec("retrain", "reference", 0, EO=10.0, FG=0.25), _rec("retrain", "reference", 1, EO=14.0, FG=0.25),
            _rec("retrain+reweight", "reference", 0, EO=4.0), _rec("retrain+reweight", "reference", 1, EO=6.0),
            _rec("mine", "user", 0, "retrain", EO=13.0, FG=0.21)]
    report = _report(rows)
    report.uncertainty = {"level": 0.95, "delta_sample_var": {"mine": {"retrain": {"EO": 0.5}}},
                          "sample_var": {"mine": {"EO": 1.0, "FG": 0.0}, "original": {"FG": 0.0}}}
    th = Thresholds(["eo:abs<=8", "eo:abs<=3@retrain+reweight,id=eo_rw", "fairness_gap:rel<=0.5@original"])
    eo, rw, fg = th.evaluate(report)
    # delta = 13 - mean(10, 14) = 1; seed variance of the comparison's own models (one seed of "mine": the
    # reference's alone, retrain+reweight's spread is not pooled in): ((10 - 12)^2 + (14 - 12)^2) / 1 = 8, df 1
    s2 = ((10 - 12) ** 2 + (14 - 12) ** 2) / 1
    se = math.sqrt(0.5 + s2 * (1 + 1 / 2))
    df = (0.5 + s2 * 1.5) ** 2 / ((s2 * 1.5) ** 2 / 1)
    hw = t_quantile(0.975, df) * se
    assert eo.reference == "retrain" and eo.value == pytest.approx(1.0)
    assert eo.hi == pytest.approx(1.0 + hw) and eo.lo == 0.0
    assert eo.status is (Status.PASS if 1.0 + hw <= 8 else Status.INCONCLUSIVE)
    # the unstored pair falls back to unpaired variances (none stored for retrain+reweight: no sampling part)
    assert rw.reference == "retrain+reweight" and rw.value == pytest.approx(8.0) and rw.model_value == 13.0
    # the original is fixed: only the method's (borrowed) seed variance, s2 / 1
    assert fg.value == pytest.approx(0.05) and fg.interval["seed_var"] == pytest.approx(0.0)  # FG spread is 0


def test_seed_variance_pools_the_model_with_its_reference_or_borrows_the_references():
    rows = [_rec("retrain", "reference", 0, EO=10.0), _rec("retrain", "reference", 1, EO=14.0),
            _rec("retrain+reweight", "reference", 0, EO=4.0), _rec("retrain+reweight", "reference", 1, EO=4.2),
            _rec("mine", "user", 0, "retrain", EO=13.0), _rec("mine", "user", 1, "retrain", EO=11.0),
            _rec("ft", "method", 0, "retrain_groupdro", EO=9.0),
            _rec("retrain_groupdro", "reference", 0, EO=8.0)]
    report = _report(rows)
    (mine,) = Thresholds(["eo:abs<=8"]).evaluate(report)
    s2 = (2 ** 2 + 2 ** 2 + 1 ** 2 + 1 ** 2) / 2          # mine and retrain: df 1 + 1
    assert mine.interval["seed_var"] == pytest.approx(s2 * (1 / 2 + 1 / 2))
    # neither ft nor its reference has two seeds: the references' pooled spread is borrowed
    from unlearn_audit.report._compare import compare
    cmp = compare(report, "ft", "retrain_groupdro", "EO")
    borrowed = (2 ** 2 + 2 ** 2 + 0.1 ** 2 + 0.1 ** 2) / 2
    assert cmp.delta.seed_var == pytest.approx(borrowed * 2) and cmp.delta.seeds_measured


def test_a_single_seed_everywhere_cannot_pass():
    rows = [_rec("retrain", "reference", 0, EO=10.0), _rec("mine", "user", 0, "retrain", EO=10.0)]
    (f,) = Thresholds(["eo:abs<=8"]).evaluate(_report(rows))
    assert f.status is Status.INCONCLUSIVE and "reference_seeds" in f.decide


def test_evaluate_skip_and_fail_reasons():
    rows = [_rec("original", "original", EO=30.0, FG=None),
            _rec("retrain", "reference", EO=10.0, FG=None),
            _rec("ft", "method", reference="retrain", EO=11.0, FG=None),
            ModelRecord(name="broken", role="method", reference="retrain", status="failed", error="raised KeyError")]
    report = _report(rows, user=None)
    th = Thresholds(["eo:abs<=3", "fairness_gap:rel<=0.1@original", "eo:abs<=3@retrain_groupdro,id=eo_dro"])
    by = {(x.model, x.check): x for x in th.evaluate(report)}
    assert {m for m, _ in by} == {"ft", "broken"}  # no user method: every suite method
    assert by[("ft", "eo:abs<=3")].status is Status.INCONCLUSIVE  # one seed everywhere: no seed spread
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
    assert f.status is Status.FAIL and f.reference is None and f.value == 40 and f.margin == -10


def test_what_would_decide_a_relative_check_uses_the_units_of_delta():
    """``rel`` bounds a share of the reference's value; the half-width and the distance compared must share units:
    Δ = 0.02 ± 0.05 against a reference of 0.1 is 20% [0%, 70%] of it, 30 points (0.03 in Δ) from a 50% bound."""
    from unlearn_audit.stats import Interval

    check = Check.parse("fairness_gap:rel<=0.5@original")
    finding = check.decide(Interval(estimate=0.02, lo=-0.03, hi=0.07, level=0.95, se=0.0245, df=10.0,
                                    sample_var=0.0005, seed_var=0.0001, seeds_measured=True),
                           model="m", reference_value=0.1, model_value=0.12)
    assert finding.status.value == "INCONCLUSIVE"
    assert (finding.lo, finding.hi) == pytest.approx((0.0, 0.7))
    assert "distance to the bound (0.03)" in finding.decide and "half-width (0.05)" in finding.decide


# ---------------------------------------------------------------------------------------------- per-seed models
def _seeded_report(model_ra, ref_ra, sample_var=0.0):
    rows = [_rec("retrain", "reference", s, RA=v) for s, v in enumerate(ref_ra)]
    rows += [_rec("mine", "user", 100 + s, "retrain", RA=v) for s, v in enumerate(model_ra)]
    report = _report(rows)
    per_seed = {str(100 + s): {"retrain": {"RA": sample_var}} for s in range(len(model_ra))}
    report.uncertainty = {"level": 0.95, "delta_sample_var": {"mine": {"retrain": {"RA": sample_var / 3}}},
                          "seed_delta_sample_var": {"mine": per_seed}}
    return report


def test_one_broken_seed_fails_although_the_seed_mean_is_inconclusive():
    ref = [99.5, 99.2, 99.8, 99.4, 99.6]
    report = _seeded_report([99.6, 99.4, 60.0], ref, sample_var=0.04)
    from unlearn_audit.report._compare import compare
    mean_only = Check("ra", max_drop=3).decide(compare(report, "mine", "retrain", "RA").delta)
    assert mean_only.status is Status.INCONCLUSIVE          # the method's own spread widens the seed-mean interval
    (f,) = Thresholds(["ra:drop<=3"]).evaluate(report)
    assert f.status is Status.FAIL
    assert f.interval["seed"] == 102 and f.interval["seeds_tested"] == 3
    assert f.level == pytest.approx(1 - 0.05 / 3) and f.model_value == 60.0
    assert "seed 102 alone" in f.why and "Bonferroni over 3 seeds" in f.why
    # healthy seeds: no per-seed FAIL, the seed-mean decision stands
    (ok,) = Thresholds(["ra:drop<=3"]).evaluate(_seeded_report([99.6, 99.4, 99.5], ref, sample_var=0.04))
    assert ok.status is Status.PASS and "seed" not in ok.interval


def test_each_seed_interval_matches_its_formula():
    from unlearn_audit.report._compare import compare_each_seed

    ref = [10.0, 12.0, 14.0, 13.0]
    report = _seeded_report([11.0, 20.0], ref, sample_var=0.5)
    each = compare_each_seed(report, "mine", "retrain", "RA")
    m = sum(ref) / 4
    s2 = sum((x - m) ** 2 for x in ref) / 3
    seed_var = s2 * (1 + 1 / 4)
    total = 0.5 + seed_var
    df = total ** 2 / (seed_var ** 2 / 3)
    q = t_quantile(1 - 0.05 / 2 / 2, df)
    assert [e.seed for e in each] == [100, 101]
    assert each[1].delta.estimate == pytest.approx(20.0 - m)
    assert each[1].delta.hi == pytest.approx(20.0 - m + q * math.sqrt(total))
    assert each[1].delta.level == pytest.approx(0.975)
    # one seed, or the original as the reference: nothing to test per seed
    assert compare_each_seed(_seeded_report([11.0], ref), "mine", "retrain", "RA") == []


def test_per_seed_failures_keep_the_family_wise_false_fail_rate_below_alpha():
    """Known truth: every model of the method sits exactly at the bound (|delta| = 3, the worst case allowed) and
    scatters with the references' seed spread; over 400 synthetic audits the share with any per-seed FAIL must
    stay below 5% (Bonferroni over 3 seeds: about 2.5% expected, one-sided)."""
    import numpy as np

    rng = np.random.default_rng(7)
    fails = 0
    th = Thresholds(["ra:abs<=3"])
    for _ in range(400):
        ref = list(90.0 + rng.normal(0.0, 2.0, 5))
        model = list(93.0 + rng.normal(0.0, 2.0, 3))
        (f,) = th.evaluate(_seeded_report(model, ref))
        fails += f.status is Status.FAIL
    assert fails / 400 <= 0.05
    assert fails > 0   # the test has power: at the bound some audits do fail
