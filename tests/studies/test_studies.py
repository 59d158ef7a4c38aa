"""The findings studies run end to end and state a verdict per claim (their numbers are not asserted)."""

from __future__ import annotations

import json
import math

import pytest

from studies import _study as st
from studies import de_min_2025_reweight, qiao_2026_soft_weights, tran_woo_2025
from unlearn_audit.stats import Interval, combine_variances

STUDIES = {"de_min_2025_reweight": de_min_2025_reweight, "tran_woo_2025": tran_woo_2025,
           "qiao_2026_soft_weights": qiao_2026_soft_weights}


@pytest.fixture(autouse=True)
def _restore_registry():
    """The studies register variants (``register_variant``) under new names: drop them afterwards, so the rest of
    the session's registry is the built-in one."""
    from unlearn_audit.methods import METHODS, method_names

    method_names()  # load the built-ins before the snapshot
    before = dict(METHODS._methods)
    yield
    METHODS._methods.clear()
    METHODS._methods.update(before)


@pytest.fixture(scope="module")
def study_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("study-cache")


def _check_outputs(result, out, name, mode):
    assert result["claims"], "a study states at least one claim"
    for c in result["claims"]:
        assert c["verdict"] in st.VERDICTS
        assert c["paper"] in ("De Min et al. 2025", "Tran & Woo 2025", "Qiao et al. 2026")
        assert c["lo"] <= c["estimate"] <= c["hi"] or math.isnan(c["estimate"])
    saved = json.loads((out / f"{name}-{mode}.json").read_text())
    assert [c["verdict"] for c in saved["claims"]] == [c["verdict"] for c in result["claims"]]
    assert (out / f"{name}-{mode}.png").stat().st_size > 1000


@pytest.mark.parametrize("name", list(STUDIES))
def test_smoke_mode_runs_and_states_verdicts(name, tmp_path, study_cache, capsys):
    result = STUDIES[name].main(["--smoke", "--out", str(tmp_path), "--cache-dir", str(study_cache)])
    _check_outputs(result, tmp_path, name, "smoke")
    printed = capsys.readouterr().out
    assert "## Verdicts" in printed and "**" in printed


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STUDIES))
def test_quick_mode_runs_and_states_verdicts(name, tmp_path, study_cache):
    result = STUDIES[name].main(["--quick", "--out", str(tmp_path), "--cache-dir", str(study_cache)])
    _check_outputs(result, tmp_path, name, "quick")


def test_paper_dataset_without_a_root_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="--data-root"):
        st.scenario(st.parser("x").parse_args(["--dataset", "waterbirds"]))


def _iv(lo: float, hi: float) -> Interval:
    return Interval((lo + hi) / 2, lo, hi, 0.95, (hi - lo) / 4, math.inf, ((hi - lo) / 4) ** 2, 0.0, True)


@pytest.mark.parametrize("lo, hi, side, verdict", [
    (-3.0, -1.0, "<", "reproduced"), (1.0, 3.0, "<", "refuted"), (-1.0, 1.0, "<", "inconclusive"),
    (1.0, 3.0, ">", "reproduced"), (-3.0, -1.0, ">", "refuted"), (-1.0, 1.0, ">", "inconclusive"),
])
def test_claim_verdict_is_the_gate_rule(lo, hi, side, verdict):
    c = st.claim_interval(paper="p", statement="s", quantity="q", interval=_iv(lo, hi), side=side)
    assert c.verdict == verdict


def test_independent_difference_adds_variances():
    a = combine_variances(2.0, sample_var=1.0, seed_var=1.0, seed_df=4)
    b = combine_variances(1.0, sample_var=0.5, seed_var=0.5, seed_df=4)
    d = st.independent_difference(a, b)
    assert d.estimate == pytest.approx(1.0)
    assert d.sample_var == pytest.approx(1.5) and d.seed_var == pytest.approx(1.5)
    assert 4 < d.df < math.inf


def test_paired_over_seeds_matches_a_t_interval_without_sampling_noise():
    from unlearn_audit.stats import mean_std_ci

    pairs = [(3.0, 1.0), (4.0, 1.5), (2.5, 1.0), (5.0, 2.0)]
    iv = st.paired_over_seeds(pairs, [0.0] * 4)
    ref = mean_std_ci([a - b for a, b in pairs])
    assert iv.estimate == pytest.approx(ref["mean"])
    assert iv.half_width == pytest.approx(ref["ci"], rel=1e-6)


def test_method_defaults_smoke_names_a_choice_per_method(tmp_path, study_cache):
    from studies import method_defaults

    result = method_defaults.main(["--smoke", "--out", str(tmp_path), "--cache-dir", str(study_cache)])
    assert set(result["data"]["chosen"]) == {"ssd", "fisher"}
    for m, alpha in result["data"]["chosen"].items():
        assert alpha in method_defaults.GRIDS[m]
    assert (tmp_path / "method_defaults-smoke.png").exists()
