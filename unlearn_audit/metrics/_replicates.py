"""Bootstrap replicates of every metric, from the per-sample outcomes ``evaluate`` keeps (``SAMPLE_KEYS``).

Each metric is re-derived from resampling counts ``C`` (``StratifiedBootstrap``) with the same formula as its
point definition (``_classification``, ``_mia``), vectorised over replicates and over models:

- RA / FA / UA / TA / VA, MIA efficacy, FGSM / PGD: ``100 * C @ x / n`` of the per-sample 0/1 outcome ``x``
  (correct; called non-member; correct under attack), on the retain / forget / test / val split or the attacked
  test subset;
- GA, WG, EO / EO_WORST, DP, EP: from the per-group rates ``C_g @ x_g / C_g @ 1`` of the test split (the strata are
  the groups, so their sizes are fixed, or vary only with unequal clusters, and every cell formula is the point
  formula applied to resampled group rates);
- MIA_AUC, LT_AUC: ``weighted_auc`` of the attacker's member probability / of ``-loss`` on D_f vs D_te.

With all counts equal to 1 every replicate equals the point value ``evaluate`` reports (tests check it), so the
bootstrap resamples exactly the quantity that is reported. FG / FG_MAX (statistics of normalization-layer features,
not per-sample averages) and LT_TPR1 have no sample replicates: their intervals come from the seed spread alone.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..stats import StratifiedBootstrap, weighted_auc

__all__ = ["EvalLayout", "METRIC_SPLIT", "replicate_metrics", "seeded_bootstrap"]

#: The split whose samples a metric's sampling noise comes from (``None``: no per-sample replicates).
METRIC_SPLIT: dict[str, str | None] = {
    "RA": "retain", "FA": "forget", "UA": "forget", "TA": "test", "VA": "val", "MIA": "forget", "MIA_AUC": "forget",
    "LT_AUC": "forget", "LT_TPR1": None, "MIA_GRMU": None, "MIA_SVC": None, "EO": "test", "EO_WORST": "test",
    "GA": "test", "WG": "test", "DP": "test", "EP": "test", "FG": None, "FG_MAX": None, "FGSM": "attack",
    "PGD": "attack", "FQ": None,
}

Factory = Callable[..., StratifiedBootstrap]  # (split, strata[, clusters]) -> bootstrap


@dataclass(frozen=True)
class EvalLayout:
    """What the bootstrap needs to know of the evaluated data: the group of every sample of every split
    (``g = a + y * n_attrs``), the test labels, and the dominant forget group(s)."""

    groups: dict[str, np.ndarray]
    n_attrs: int
    n_classes: int
    dominant: tuple[tuple[int, int], ...]
    #: per split, the cluster id of every sample (samples of one cluster are resampled together); ``{}``: none
    clusters: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_data(cls, data: Any) -> "EvalLayout":
        """From an ``AuditData`` (splits ``retain``, ``forget``, ``test`` and ``val`` when present, and their
        ``AuditData.cluster_ids`` when the data declares clusters)."""
        groups = {name: (ds.a + ds.y * data.n_attrs).cpu().numpy().astype(np.int64)
                  for name, ds in data.splits().items()}
        cluster_ids = getattr(data, "cluster_ids", None)
        clusters = {}
        if callable(cluster_ids):
            clusters = {name: c for name in groups if (c := cluster_ids(name)) is not None}
        return cls(groups=groups, n_attrs=int(data.n_attrs), n_classes=int(data.n_classes),
                   dominant=tuple((int(y), int(a)) for y, a in data.dominant_groups), clusters=clusters)

    def to_dict(self) -> dict[str, Any]:
        return {"sizes": {k: int(v.size) for k, v in self.groups.items()}, "n_attrs": self.n_attrs,
                "dominant": [list(g) for g in self.dominant],
                "clusters": {k: int(np.unique(v).size) for k, v in self.clusters.items()}}


def seeded_bootstrap(*, n_boot: int, seed: int) -> Factory:
    """The default factory: one ``StratifiedBootstrap`` per split, seeded by ``(seed, split name)``."""
    def make(split: str, strata: np.ndarray, clusters: np.ndarray | None = None) -> StratifiedBootstrap:
        return StratifiedBootstrap(strata, n_boot=n_boot, seed=int(seed) * 1_000_003 + zlib.crc32(split.encode()),
                                   clusters=clusters)
    return make


def replicate_metrics(layout: EvalLayout, samples: Sequence[Mapping[str, np.ndarray] | None], *,
                      bootstrap: Factory) -> list[dict[str, np.ndarray]]:
    """Per model (one entry of ``samples`` each, ``None`` for a model without outcomes): metric -> replicates
    (``n_boot`` values), every model resampled on the same counts (paired)."""
    out: list[dict[str, np.ndarray]] = [{} for _ in samples]
    boots: dict[Any, StratifiedBootstrap] = {}

    def boot(split: str, index: np.ndarray | None = None) -> StratifiedBootstrap:
        base = "test" if split == "attack" else split
        strata, clusters = layout.groups[base], layout.clusters.get(base)
        key: Any = split
        if index is not None:
            strata, key = strata[index], (split, index.tobytes())
            clusters = None if clusters is None else clusters[index]
        if key not in boots:
            boots[key] = bootstrap(split, strata) if clusters is None else bootstrap(split, strata, clusters)
        return boots[key]

    def having(key: str) -> list[int]:
        return [i for i, s in enumerate(samples) if s is not None and key in s]

    def stack(idx: list[int], key: str) -> np.ndarray:
        return np.stack([np.asarray(samples[i][key], np.float64) for i in idx], 1)

    for split, metric in (("retain", "RA"), ("forget", "FA"), ("test", "TA"), ("val", "VA")):
        idx = having(f"{split}.correct")
        if not idx or split not in layout.groups:
            continue
        reps = 100.0 * boot(split).means(stack(idx, f"{split}.correct"))
        for j, i in enumerate(idx):
            out[i][metric] = reps[:, j]
            if metric == "FA":
                out[i]["UA"] = 100.0 - reps[:, j]
    idx = having("forget.mia_nonmember")
    if idx:
        reps = 100.0 * boot("forget").means(stack(idx, "forget.mia_nonmember"))
        for j, i in enumerate(idx):
            out[i]["MIA"] = reps[:, j]
    for attack, metric in (("fgsm", "FGSM"), ("pgd", "PGD")):
        for i in having(f"{attack}.correct"):
            index = samples[i].get("attack.index")
            b = boot("attack", None if index is None else np.asarray(index, np.int64))
            out[i][metric] = 100.0 * b.means(np.asarray(samples[i][f"{attack}.correct"], np.float64))
    _group_metrics(layout, samples, out, boot("test") if "test" in layout.groups else None, having)
    _auc_metrics(layout, samples, out, boot)
    return out


def _group_metrics(layout: EvalLayout, samples: Sequence[Mapping[str, np.ndarray] | None],
                   out: list[dict[str, np.ndarray]], b: StratifiedBootstrap | None,
                   having: Callable[[str], list[int]]) -> None:
    idx = having("test.correct")
    if b is None or not idx or b.n == 0:
        return
    n_attrs = layout.n_attrs
    gy, ga = np.divmod(b.stratum_ids, n_attrs)
    sizes = b.replicate_sizes[:, None, :]  # n_boot x 1 x G: the stratum sizes (per replicate with clusters)
    correct = np.stack([np.asarray(samples[i]["test.correct"], np.float64) for i in idx], 1)  # n x R
    R, G = correct.shape[1], sizes.shape[-1]
    hits = (b.counts @ (correct[:, :, None] * b.membership[:, None, :]).reshape(b.n, R * G)).reshape(-1, R, G)
    acc = hits / np.maximum(sizes, 1.0)
    t_star = {y for y, _ in layout.dominant}
    s_star = {a for _, a in layout.dominant}
    in_t, in_s = np.isin(gy, list(t_star)), np.isin(ga, list(s_star))

    def pooled(mask: np.ndarray, num: np.ndarray = hits) -> np.ndarray:  # rate over the union of the groups in mask
        return num[:, :, mask].sum(-1) / sizes[:, :, mask].sum(-1)

    results: dict[str, np.ndarray] = {"WG": 100.0 * acc.min(-1)}
    if (in_t & in_s).any():
        results["GA"] = 100.0 * pooled(in_t & in_s)
    gaps = [np.abs(pooled((in_t == tv) & in_s) - pooled((in_t == tv) & ~in_s)) for tv in (False, True)
            if ((in_t == tv) & in_s).any() and ((in_t == tv) & ~in_s).any()]
    if gaps:
        g = np.stack(gaps, -1)
        results["EO"], results["EO_WORST"] = 100.0 * g.mean(-1), 100.0 * g.max(-1)
    if layout.n_classes == 2:
        attrs = np.unique(ga)
        tpr = [acc[:, :, (gy == 1) & (ga == a)][..., 0] for a in attrs if ((gy == 1) & (ga == a)).any()]
        if len(tpr) >= 2:
            results["EP"] = 100.0 * _pairs_mean(np.stack(tpr, -1))
        pidx = [i for i in idx if "test.pred" in samples[i]]
        if pidx and len(pidx) == len(idx) and len(attrs) >= 2:
            pos = np.stack([np.asarray(samples[i]["test.pred"]) == 1 for i in idx], 1).astype(np.float64)
            npos = (b.counts @ (pos[:, :, None] * b.membership[:, None, :]).reshape(b.n, R * G)).reshape(-1, R, G)
            sel = np.stack([pooled(ga == a, npos) for a in attrs], -1)
            results["DP"] = 100.0 * _pairs_mean(sel)
    for j, i in enumerate(idx):
        for k, v in results.items():
            out[i][k] = v[:, j]


def _pairs_mean(r: np.ndarray) -> np.ndarray:
    """Mean over attribute pairs ``i < j`` of ``|r_i - r_j|`` along the last axis (``_classification._between``)."""
    i, j = np.triu_indices(r.shape[-1], k=1)
    return np.abs(r[..., i] - r[..., j]).mean(-1)


def _auc_metrics(layout: EvalLayout, samples: Sequence[Mapping[str, np.ndarray] | None],
                 out: list[dict[str, np.ndarray]], boot: Callable[..., StratifiedBootstrap]) -> None:
    if "forget" not in layout.groups or "test" not in layout.groups:
        return
    bf, bt = boot("forget"), boot("test")
    for i, s in enumerate(samples):
        if s is None:
            continue
        if "forget.loss" in s and "test.loss" in s and bf.n and bt.n:
            out[i]["LT_AUC"] = 100.0 * weighted_auc(-np.asarray(s["forget.loss"], np.float64),
                                                    -np.asarray(s["test.loss"], np.float64), bf.counts, bt.counts)
        if "forget.mia_score" in s and "test.mia_score" in s and bf.n and bt.n:
            out[i]["MIA_AUC"] = 100.0 * weighted_auc(s["forget.mia_score"], s["test.mia_score"], bf.counts,
                                                     bt.counts)
