"""The paired, group-stratified bootstrap over the evaluation samples of one split.

One ``StratifiedBootstrap`` per split holds the resampling counts ``C`` (``n_boot x n``): replicate ``b`` draws,
within every stratum (group ``g = a + y * n_attrs``) of size ``n_g``, ``n_g`` samples with replacement, and
``C[b, i]`` is how often sample ``i`` was drawn. Every model of an audit is evaluated on the same replicates, so a
difference between two models is resampled *paired*: the same samples enter both sides of every replicate.
Stratifying keeps each group's size fixed, so group rates (per-group accuracy, EO cells) are never undefined in a
replicate and a group metric's variance is not inflated by group-size jitter.

**Clusters.** Samples that are not independent (deformed copies of one source image, several photos of one person)
are resampled together: with ``clusters``, replicate ``b`` draws, within every stratum holding ``K_g`` clusters,
``K_g`` clusters with replacement, and every sample of a drawn cluster enters once per draw (the cluster bootstrap;
Davison & Hinkley 1997, section 3.8). Resampling copies one by one would treat nine deformations of one digit as nine
independent digits and make every interval about ``sqrt(9) = 3`` times too narrow. Cluster sizes may differ, so a
replicate's stratum sizes may too: every mean divides by the replicate's own weight (``C @ v / C @ 1``), which is
the point formula when all counts are 1.

Everything is vectorised: one ``bincount`` draws all counts, one matrix product resamples any number of per-sample
vectors (``C @ X``); no Python loop runs over replicates or samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["StratifiedBootstrap", "weighted_auc", "check_n_boot"]

MIN_BOOT = 100


def check_n_boot(n_boot: Any, *, source: str = "n_boot") -> int:
    """``n_boot`` as an int >= 100, or a ``ValueError`` naming ``source``."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or int(n_boot) < MIN_BOOT:
        raise ValueError(f"{source}: the bootstrap needs an integer number of replicates >= {MIN_BOOT} (e.g. "
                         f"2000), got {n_boot!r}")
    return int(n_boot)


class StratifiedBootstrap:
    """Resampling counts of one split, stratified by ``strata``.

    Args:
        strata: one integer stratum id per sample (e.g. the group ``a + y * n_attrs``); ``None`` = one stratum.
        n: the number of samples when ``strata`` is ``None``.
        clusters: optional integer cluster id per sample; the samples of one cluster (within one stratum) are
            drawn together. ``None``: every sample is its own cluster.
        n_boot: replicates (>= 100).
        seed: seeds the generator (``numpy.random.default_rng``), so the replicates are reproducible.
    """

    def __init__(self, strata: Any = None, *, n: int | None = None, n_boot: int = 2000, seed: int = 0,
                 clusters: Any = None) -> None:
        self.n_boot = check_n_boot(n_boot)
        if strata is None:
            if n is None:
                raise ValueError("StratifiedBootstrap: give strata or n")
            strata = np.zeros(int(n), dtype=np.int64)
        s = np.asarray(strata).astype(np.int64).ravel()
        self.strata = s
        self.n = int(s.size)
        self.seed = int(seed)
        self._counts: np.ndarray | None = None
        values, inverse = np.unique(s, return_inverse=True)
        self.stratum_ids = values
        #: one-hot stratum membership (n x S), float64
        self.membership = np.zeros((self.n, len(values)))
        self.membership[np.arange(self.n), inverse] = 1.0
        self.stratum_sizes = self.membership.sum(0)
        self.clusters: np.ndarray | None = None
        if clusters is not None:
            c = np.asarray(clusters).astype(np.int64).ravel()
            if c.size != self.n:
                raise ValueError(f"StratifiedBootstrap: expected {self.n} cluster ids, got {c.size}")
            self.clusters = c

    @property
    def counts(self) -> np.ndarray:
        """``C`` (``n_boot x n``, float64): how often each sample is drawn in each replicate (rows sum to ``n``)."""
        if self._counts is None:
            rng = np.random.default_rng(self.seed)
            counts = np.zeros((self.n_boot, self.n))
            for sid in self.stratum_ids:  # a loop over strata (groups), never over samples or replicates
                idx = np.flatnonzero(self.strata == sid)
                unit = (np.arange(idx.size) if self.clusters is None
                        else np.unique(self.clusters[idx], return_inverse=True)[1].ravel())
                k = int(unit.max()) + 1 if unit.size else 0
                draws = rng.integers(0, k, size=(self.n_boot, k)) + (np.arange(self.n_boot) * k)[:, None]
                drawn = np.bincount(draws.ravel(), minlength=self.n_boot * k).reshape(self.n_boot, k)
                counts[:, idx] = drawn[:, unit]
            self._counts = counts
        return self._counts

    @property
    def replicate_sizes(self) -> np.ndarray:
        """Samples drawn per replicate and stratum, ``C @ M`` (``n_boot x S``): ``stratum_sizes`` in every row
        without clusters (or with equal-size clusters)."""
        return self.counts @ self.membership

    def means(self, values: Any) -> np.ndarray:
        """Replicates of the mean of ``values`` (``n`` or ``n x k``): ``C @ values / (C @ 1)`` (``n_boot`` or
        ``n_boot x k``); ``C @ 1 = n`` without clusters."""
        v = np.asarray(values, dtype=np.float64)
        self._check(v)
        if self.n == 0:
            return np.full((self.n_boot,) + v.shape[1:], np.nan)
        total = self.counts.sum(1)
        return self.counts @ v / (total if v.ndim == 1 else total[:, None])

    def stratum_means(self, values: Any) -> np.ndarray:
        """Replicates of the mean of ``values`` (``n``) within each stratum: ``n_boot x S`` (strata in
        ``stratum_ids`` order), ``C @ (v * M) / (C @ M)``."""
        v = np.asarray(values, dtype=np.float64)
        self._check(v)
        return self.counts @ (v[:, None] * self.membership) / np.maximum(self.replicate_sizes, 1.0)

    def identity(self) -> np.ndarray:
        """The counts of the original sample (all ones): what replicate formulas give for the point estimate."""
        return np.ones((1, self.n))

    def _check(self, v: np.ndarray) -> None:
        if v.shape[0] != self.n:
            raise ValueError(f"StratifiedBootstrap: expected {self.n} per-sample values, got {v.shape[0]}")


def weighted_auc(pos_scores: Any, neg_scores: Any, pos_weights: np.ndarray, neg_weights: np.ndarray) -> np.ndarray:
    """ROC AUC (``P(s_pos > s_neg) + P(tie) / 2``) under sample weights, for every row of the weight matrices at once.

    ``AUC_b = sum_i w_ib * (N_b(< s_i) + N_b(= s_i) / 2) / (W_pos,b * W_neg,b)`` where ``N_b(< s)`` is the weight of
    negatives scored below ``s``. Vectorised over replicates without touching each (replicate, negative) pair more
    than once: the negatives are sorted once, cut into bins at the ranks where some positive reads the cumulative
    weight (at most ``2 n_pos`` cuts), the weights summed per bin with one sparse product ``W_neg @ onehot(bin)``
    and the cumulative sum taken over the few bins (4x faster than a cumulative sum over every negative for 2,000
    replicates of 3,231 test samples; identical results). With all weights 1 it equals
    ``sklearn.metrics.roc_auc_score``.

    Args:
        pos_scores, neg_scores: 1-d scores (higher = more "positive").
        pos_weights, neg_weights: ``B x n_pos`` and ``B x n_neg`` weights (bootstrap counts).
    """
    from scipy import sparse

    pos, neg = np.asarray(pos_scores, np.float64).ravel(), np.asarray(neg_scores, np.float64).ravel()
    wp, wn = np.atleast_2d(pos_weights), np.atleast_2d(neg_weights)
    if pos.size == 0 or neg.size == 0:
        return np.full(wp.shape[0], np.nan)
    order = np.argsort(neg, kind="stable")
    neg_sorted = neg[order]
    below = np.searchsorted(neg_sorted, pos, side="left")   # negatives strictly below each positive (a rank)
    upto = np.searchsorted(neg_sorted, pos, side="right")   # ... below or tied
    cuts = np.unique(np.concatenate([below, upto]))
    rank = np.empty(neg.size, np.int64)
    rank[order] = np.arange(neg.size)
    bins = np.searchsorted(cuts, rank, side="right")         # negative of rank r -> number of cuts <= r
    onehot = sparse.csr_matrix((np.ones(neg.size), (np.arange(neg.size), bins)), shape=(neg.size, cuts.size + 1))
    per_bin = np.asarray(wn @ onehot)
    cum = np.cumsum(per_bin, axis=1)                          # cum[:, k] = weight of negatives of rank < cuts[k]
    n_below = cum[:, np.searchsorted(cuts, below)]
    n_tied = cum[:, np.searchsorted(cuts, upto)] - n_below
    num = (wp * (n_below + 0.5 * n_tied)).sum(1)
    return num / (wp.sum(1) * wn.sum(1))
