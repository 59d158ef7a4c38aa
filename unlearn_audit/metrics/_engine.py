"""``evaluate``: every audit metric of one model from one forward pass per split plus one attack pass per attack."""

from __future__ import annotations

import concurrent.futures
import contextlib
import warnings
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .._device import resolve_device, use_channels_last
from ..data import AuditData, GroupDataset
from ._adversarial import adversarial_correct, attack_subset
from ._classification import (accuracy, demographic_parity, dominant_group_accuracy, equal_opportunity,
                              equalized_odds, group_accuracy)
from ._config import MetricConfig
from ._fairness_gap import NormStatsCollector
from ._info import METRIC_INFO, NotApplicableError
from ._mia import loss_threshold_attack, mia_efficacy, mia_grmu, mia_svc_confidence
from .._json import json_safe
from ._model_metrics import ModelMetrics
from ._passes import SplitOutputs, forward_split, frozen_state

__all__ = ["evaluate", "metrics_from_outputs"]


def evaluate(model: nn.Module, data: AuditData, *, config: MetricConfig | None = None,
             device: str | torch.device = "auto") -> ModelMetrics:
    """Every metric of ``model`` on ``data``, derived from as few passes as possible.

    Passes: one no-grad forward over each split (retain, forget, test, val) collecting float32 logits and
    per-sample losses; the pass over ``config.fairness_gap_split`` also streams the per-class normalization
    statistics through forward hooks (float64 count/sum/sum of squares, no stored activations); then one attack
    pass over the (optionally subsampled) test split per attack and budget. On CUDA the passes use bf16 autocast
    (losses in float32) and channels_last inputs for conv nets. The MIA attackers (CPU, sklearn) train in a worker
    thread while the attack passes run; results are merged in a fixed order, so the output is deterministic.

    Derived (keys of ``METRIC_INFO``): RA, FA, UA = 100 - FA, TA, VA; per-group test accuracies, WG, GA
    and EO / EO_WORST binarised around ``data.dominant_groups``; DP and EP (binary tasks, mean over
    attribute pairs); LT_AUC / LT_TPR1 (loss-threshold attack, members D_f vs non-members D_te) and the MIA
    protocols of ``config`` (``MIA``/``MIA_AUC`` trained on D_r vs D_val, or D_te without val); FG /
    FG_MAX; FGSM / PGD test accuracy at ``config.eps`` (``config.tabular_eps`` for tabular data), with
    the ``eps_sweep`` curves in ``.adversarial``. What does not apply is recorded with its reason.

    The model's state is unchanged: it runs in eval mode and every module's training flag is restored, BatchNorm
    running statistics are not touched, parameters' ``.grad`` stay as they were, and a model moved to ``device``
    is moved back.

    Raises:
        TypeError: ``model`` is not an ``nn.Module``, ``data`` not an ``AuditData`` or ``config`` not a
            ``MetricConfig``.
    """
    cfg = MetricConfig() if config is None else config
    if not isinstance(cfg, MetricConfig):
        raise TypeError(f"config: expected a MetricConfig, got {type(cfg).__name__}")
    if not isinstance(data, AuditData):
        raise TypeError(f"data: expected an AuditData, got {type(data).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    dev = resolve_device(device)
    cl = use_channels_last(model, dev)
    collector = NormStatsCollector(model, data.n_classes, layers=cfg.fairness_gap_layers)
    outputs: dict[str, SplitOutputs] = {}
    with frozen_state(model, dev):
        for name, ds in data.splits().items():
            col = collector if name == cfg.fairness_gap_split and collector.layers else None
            with col if col is not None else contextlib.nullcontext():
                outputs[name] = forward_split(model, ds, device=dev, batch_size=cfg.batch_size, collector=col,
                                              channels_last=cl, amp=cfg.amp)
        out = ModelMetrics(config=cfg.to_dict())
        _accuracies(out, outputs)
        _fairness(out, outputs["test"], data.n_classes, data.n_attrs, list(data.dominant_groups))
        _fairness_gap(out, collector, cfg)
        _keep_samples(out, outputs)
        attacks = (cfg.fgsm or cfg.pgd) and len(data.test) > 0
        # The MIA forest trains on the CPU while the attack passes run (sklearn releases the GIL; on CUDA the CPU
        # is otherwise idle): one worker thread, results merged in a fixed order, so the output is deterministic.
        n_jobs = 1 if dev.type == "cpu" and attacks else None
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            privacy = pool.submit(_privacy, outputs, cfg, n_jobs)
            _robustness(out, model, data.test, cfg, dev)
            _merge(out, privacy.result())
    return _ordered(out)


def metrics_from_outputs(outputs: dict[str, SplitOutputs], *, n_classes: int, n_attrs: int,
                         dominant_groups: Sequence[tuple[int, int]], config: MetricConfig | None = None,
                         ) -> ModelMetrics:
    """Accuracy, fairness and privacy metrics from the outputs of the passes (``"retain"``, ``"forget"``,
    ``"test"`` and optionally ``"val"``); what ``evaluate`` does before the fairness-gap and the attacks."""
    cfg = MetricConfig() if config is None else config
    out = ModelMetrics(config=cfg.to_dict())
    _accuracies(out, outputs)
    _fairness(out, outputs["test"], n_classes, n_attrs, list(dominant_groups))
    _keep_samples(out, outputs)
    _merge(out, _privacy(outputs, cfg))
    return _ordered(out)


def _keep_samples(out: ModelMetrics, o: dict[str, SplitOutputs]) -> None:
    """The per-sample outcomes of the passes (``SAMPLE_KEYS``) that the audit's bootstrap resamples."""
    for name, s in o.items():
        out.samples[f"{name}.correct"] = (s.pred == s.y).numpy()
    out.samples["test.pred"] = o["test"].pred.numpy()
    for name in ("forget", "test"):
        out.samples[f"{name}.loss"] = o[name].losses.numpy().astype(np.float32)


def _merge(out: ModelMetrics, part: ModelMetrics) -> None:
    out.samples.update(part.samples)
    out.values.update(part.values)
    out.not_applicable.update(part.not_applicable)
    out.mia.update(part.mia)
    out.notes.extend(part.notes)


def _ordered(out: ModelMetrics) -> ModelMetrics:
    """Keys in ``METRIC_INFO`` order, whatever order the parts finished in."""
    out.values = {k: out.values[k] for k in METRIC_INFO if k in out.values}
    out.not_applicable = {k: out.not_applicable[k] for k in METRIC_INFO if k in out.not_applicable}
    return out


def _accuracies(out: ModelMetrics, o: dict[str, SplitOutputs]) -> None:
    out.set("RA", accuracy(o["retain"].y, o["retain"].pred), reason_if_nan="the retain set is empty")
    fa = accuracy(o["forget"].y, o["forget"].pred)
    out.set("FA", fa, reason_if_nan="the forget set is empty")
    out.set("UA", 100.0 - fa, reason_if_nan="the forget set is empty")
    out.set("TA", accuracy(o["test"].y, o["test"].pred), reason_if_nan="the test split is empty")
    if "val" in o:
        out.set("VA", accuracy(o["val"].y, o["val"].pred), reason_if_nan="the val split is empty")
    else:
        out.mark_not_applicable("VA", "the audit has no validation split")


def _fairness(out: ModelMetrics, test: SplitOutputs, n_classes: int, n_attrs: int,
              dom: list[tuple[int, int]]) -> None:
    pred = test.pred
    groups = test.a + test.y * n_attrs
    accs = group_accuracy(test.y, pred, groups)
    counts = torch.bincount(groups, minlength=n_classes * n_attrs).tolist()
    for g, c in enumerate(counts):
        key = "y={},a={}".format(*divmod(g, n_attrs))
        out.group_counts[key] = int(c)
        if g in accs:
            out.group_acc[key] = accs[g]
    missing = [k for k, c in out.group_counts.items() if c == 0]
    if missing and accs:
        out.notes.append(f"groups without test samples (no accuracy, left out of WG): {', '.join(missing)}")
    out.set("WG", min(accs.values()) if accs else None, reason_if_nan="the test split is empty")
    out.set("GA", dominant_group_accuracy(test.y, pred, test.a, groups=dom),
            reason_if_nan=f"no test sample belongs to the dominant forget group(s) {dom}")
    keys = ("EO", "EO_WORST") + (("DP", "EP") if n_classes == 2 else ())
    if n_classes != 2:
        for k in ("DP", "EP"):
            out.mark_not_applicable(k, f"binary-task metric; the task has {n_classes} classes")
    if test.a.unique().numel() < 2:
        for k in keys:
            out.mark_not_applicable(k, "the sensitive attribute takes a single value in the test split")
        return
    reason = (f"no label side (y in / not in the dominant labels of {dom}) has test samples on both sides of the "
              f"dominant attribute value(s)")
    for key, agg in (("EO", "mean"), ("EO_WORST", "worst_case")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = equalized_odds(test.y, pred, test.a, dominant=dom, agg=agg)
        if caught and key == "EO" and value == value:
            out.notes.append(f"EO: {caught[0].message}")
        out.set(key, value, reason_if_nan=reason)
    if n_classes == 2:
        out.set("DP", demographic_parity(pred, test.a), reason_if_nan="the sensitive attribute takes a single value")
        out.set("EP", equal_opportunity(test.y, pred, test.a),
                reason_if_nan="fewer than two attribute values have a positive (y=1) test sample")


def _privacy(o: dict[str, SplitOutputs], cfg: MetricConfig, n_jobs: int | None = None) -> ModelMetrics:
    """LT and the configured MIA protocols, into a fresh container (this may run in a worker thread)."""
    out = ModelMetrics()
    forget, test, retain = o["forget"], o["test"], o["retain"]
    nonmember = o.get("val", test)
    keys = ["LT_AUC", "LT_TPR1"] + [k for p, ks in (("efficacy", ("MIA", "MIA_AUC")), ("grmu", ("MIA_GRMU",)),
                                                    ("svc", ("MIA_SVC",))) if p in cfg.mia_protocols for k in ks]
    bad = [name for name, s in o.items() if not torch.isfinite(s.losses).all()]
    if bad:
        for k in keys:
            out.mark_not_applicable(k, f"the model's losses are not finite (NaN/inf) on {', '.join(bad)}")
        return out
    empty = "the forget set is empty"
    auc, tpr = loss_threshold_attack(forget.losses, test.losses)
    out.mia["loss_threshold"] = json_safe({"auc": auc, "tpr_at_1pct_fpr": tpr, "members": "forget",
                                           "nonmembers": "test"})
    out.set("LT_AUC", auc, reason_if_nan=empty)
    out.set("LT_TPR1", tpr, reason_if_nan=empty)
    sets = dict(train_member_losses=retain.losses, train_nonmember_losses=nonmember.losses,
                forget_losses=forget.losses, test_losses=test.losses)
    fit_sets = {"members": "retain", "nonmembers": "val" if "val" in o else "test"}
    if "efficacy" in cfg.mia_protocols:
        res = mia_efficacy(**sets, seed=cfg.seed, n_jobs=n_jobs, return_samples=True)
        for key in ("forget_nonmember", "forget_score", "test_score"):
            out.samples[key.replace("_", ".mia_", 1)] = res.pop(key)
        out.mia["efficacy"] = json_safe({**res, **fit_sets})
        out.set("MIA", res["efficacy"], reason_if_nan=empty)
        out.set("MIA_AUC", res["auc"], reason_if_nan=empty)
    if "grmu" in cfg.mia_protocols:
        res = mia_grmu(**sets, n_jobs=n_jobs)
        out.mia["grmu"] = json_safe({**res, **fit_sets})
        out.set("MIA_GRMU", res["efficacy"], reason_if_nan=empty)
    if "svc" in cfg.mia_protocols:
        res = mia_svc_confidence(retain_probs=retain.logits.softmax(1), retain_y=retain.y,
                                 test_probs=test.logits.softmax(1), test_y=test.y,
                                 forget_probs=forget.logits.softmax(1), forget_y=forget.y)
        out.mia["svc"] = json_safe({**res, "shadow_members": "retain[:n]", "shadow_nonmembers": "test[:n]"})
        out.set("MIA_SVC", res["confidence"], reason_if_nan=empty)
    return out


def _fairness_gap(out: ModelMetrics, collector: NormStatsCollector, cfg: MetricConfig) -> None:
    try:
        if not collector.layers:
            raise NotApplicableError("the model has no normalization layer" + (
                f" matching {cfg.fairness_gap_layers!r}" if cfg.fairness_gap_layers else ""))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fg = collector.result(statistic=cfg.fairness_gap_statistic, split=cfg.fairness_gap_split)
        out.notes.extend(f"FG: {w.message}" for w in caught)
    except NotApplicableError as exc:
        for k in ("FG", "FG_MAX"):
            out.mark_not_applicable(k, str(exc))
        return
    out.fairness_gap = fg
    out.set("FG", fg.mean, reason_if_nan="the fairness-gap is not finite")
    out.set("FG_MAX", fg.max, reason_if_nan="the fairness-gap is not finite")


def _robustness(out: ModelMetrics, model: nn.Module, test: GroupDataset, cfg: MetricConfig,
                dev: torch.device) -> None:
    if not (cfg.fgsm or cfg.pgd):
        return
    eps = cfg.eps if test.is_image else cfg.tabular_eps
    budgets = sorted({eps, *cfg.eps_sweep}) if test.is_image else [eps]
    sub = attack_subset(len(test), cfg.attack_max_samples, cfg.seed)
    if sub is not None:
        test = test.subset(sub)
        out.notes.append(f"attacks ran on a seeded subset of {len(test)} test samples")
        out.samples["attack.index"] = sub.numpy()
    for attack, enabled, key in (("fgsm", cfg.fgsm, "FGSM"), ("pgd", cfg.pgd, "PGD")):
        if not enabled:
            continue
        curve = {}
        for e in budgets:
            hits = adversarial_correct(model, test, attack=attack, eps=e, steps=cfg.pgd_steps,
                                       batch_size=cfg.batch_size, seed=cfg.seed, device=dev, amp=cfg.amp)
            curve[f"{e:.6g}"] = 100.0 * float(hits.double().mean()) if hits.numel() else float("nan")
            if e == eps:
                out.samples[f"{attack}.correct"] = hits.numpy()
        out.adversarial[attack] = curve
        out.set(key, curve[f"{eps:.6g}"], reason_if_nan="the test split is empty")
