"""``evaluate``: every audit metric of one model from one forward pass per split plus one attack pass per attack."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .._device import autocast, resolve_device, use_channels_last
from ..data import AuditData, GroupDataset
from ._adversarial import adversarial_accuracy
from ._classification import (accuracy, demographic_parity, dominant_group_accuracy, equal_opportunity,
                              equalized_odds, group_accuracy)
from ._config import MetricConfig
from ._fairness_gap import NormStatsCollector
from ._mia import loss_threshold_attack, mia_efficacy, mia_grmu, mia_svc_confidence
from ._model_metrics import ModelMetrics

__all__ = ["evaluate", "SplitOutputs", "forward_split"]


@dataclass
class SplitOutputs:
    """What one pass over a split yields (on CPU): logits, per-sample CE losses, labels, attributes."""

    logits: torch.Tensor
    losses: torch.Tensor
    y: torch.Tensor
    a: torch.Tensor

    @property
    def pred(self) -> torch.Tensor:
        return self.logits.argmax(1)


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


@torch.no_grad()
def forward_split(model: nn.Module, ds: GroupDataset, *, device: torch.device, batch_size: int,
                  collector: NormStatsCollector | None = None, channels_last: bool = False) -> SplitOutputs:
    """One no-grad pass: float32 logits and per-sample losses (bf16 autocast on CUDA), collecting normalization
    statistics when a ``collector`` is given. No host sync inside the loop."""
    logits, losses = [], []
    for i in range(0, len(ds), batch_size):
        x = ds.x[i:i + batch_size].to(device, non_blocking=True)
        y = ds.y[i:i + batch_size].to(device, non_blocking=True)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if collector is not None:
            collector.labels = y
        with autocast(device):
            out = model(x).float()
        logits.append(out)
        losses.append(F.cross_entropy(out, y, reduction="none"))
    if collector is not None:
        collector.labels = None
    n_out = logits[0].shape[1] if logits else ds.n_classes
    lg = torch.cat(logits).cpu() if logits else torch.empty(0, n_out)
    ls = torch.cat(losses).cpu() if losses else torch.empty(0)
    return SplitOutputs(lg, ls, ds.y.cpu(), ds.a.cpu())


def evaluate(model: nn.Module, data: AuditData, *, config: MetricConfig | None = None,
             device: str | torch.device = "auto") -> ModelMetrics:
    """All metrics of ``model`` on ``data``.

    Passes: one no-grad forward over each split (retain, forget, test, val) giving logits and per-sample losses;
    the pass over the fairness-gap split also streams the per-class normalization statistics; one attack pass
    over the test split per attack and budget. Every metric is derived from those tensors:
    RA/FA/UA/TA/VA, group accuracies, WG, GA and EO around ``data.dominant_groups`` (spec A3/A4), DP/EP (binary
    tasks), the MIA protocols of ``config`` plus the loss-threshold attack (D_f members vs D_te non-members),
    the fairness-gap (spec A7) and FGSM/PGD accuracy (spec A8).

    The model is evaluated in eval mode and its mode is restored; BatchNorm running statistics are not changed.
    """
    cfg = config or MetricConfig()
    if not isinstance(data, AuditData):
        raise TypeError(f"data: expected an AuditData, got {type(data).__name__}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    dev = resolve_device(device)
    model.to(dev)
    cl = use_channels_last(model, dev)
    out = ModelMetrics(config=cfg.to_dict())
    with _eval_mode(model):
        splits = data.splits()
        fg_split = cfg.fairness_gap_split
        outputs: dict[str, SplitOutputs] = {}
        collector = NormStatsCollector(model, data.n_classes, layers=cfg.fairness_gap_layers)
        for name, ds in splits.items():
            if name == fg_split:
                with collector:
                    outputs[name] = forward_split(model, ds, device=dev, batch_size=cfg.batch_size,
                                                  collector=collector, channels_last=cl)
            else:
                outputs[name] = forward_split(model, ds, device=dev, batch_size=cfg.batch_size, channels_last=cl)
        _accuracies(out, outputs)
        _fairness(out, outputs["test"], data)
        _privacy(out, outputs, cfg)
        _fairness_gap(out, collector, cfg)
        _robustness(out, model, data.test, cfg)
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
        out.not_applicable["VA"] = "the audit has no validation split"


def _fairness(out: ModelMetrics, test: SplitOutputs, data: AuditData) -> None:
    n_attrs = data.n_attrs
    groups = test.a + test.y * n_attrs
    accs = group_accuracy(test.y, test.pred, groups)
    counts = torch.bincount(groups, minlength=data.n_classes * n_attrs).tolist()
    for g, c in enumerate(counts):
        y, a = divmod(g, n_attrs)
        out.group_counts[f"y={y},a={a}"] = int(c)
        if g in accs:
            out.group_acc[f"y={y},a={a}"] = accs[g]
    missing = [k for k, c in out.group_counts.items() if c == 0]
    out.set("WG", min(accs.values()) if accs else float("nan"), reason_if_nan="the test split is empty")
    if missing:
        out.mia.setdefault("notes", []).append(f"groups without test samples (excluded from WG): {missing}")
    dom = list(data.dominant_groups)
    out.set("GA", dominant_group_accuracy(test.y, test.pred, test.a, groups=dom),
            reason_if_nan=f"no test sample belongs to the dominant group(s) {dom}")
    if n_attrs < 2 or test.a.unique().numel() < 2:
        for k in ("EO", "EO_WORST", "DP", "EP"):
            out.not_applicable[k] = "the attribute takes a single value in the test split"
        return
    reason = f"an (target, attribute) cell around the dominant group(s) {dom} has no test sample"
    out.set("EO", equalized_odds(test.y, test.pred, test.a, dominant=dom), reason_if_nan=reason)
    out.set("EO_WORST", equalized_odds(test.y, test.pred, test.a, dominant=dom, agg="worst_case"),
            reason_if_nan=reason)
    if data.n_classes == 2:
        out.set("DP", demographic_parity(test.pred, test.a), reason_if_nan="an attribute value has no test sample")
        out.set("EP", equal_opportunity(test.y, test.pred, test.a),
                reason_if_nan="an attribute value has no positive test sample")
    else:
        for k in ("DP", "EP"):
            out.not_applicable[k] = f"binary-task metric; the task has {data.n_classes} classes"


def _privacy(out: ModelMetrics, o: dict[str, SplitOutputs], cfg: MetricConfig) -> None:
    forget, test, retain = o["forget"], o["test"], o["retain"]
    nonmember = o.get("val", test)
    empty = "the forget set is empty"
    auc, tpr = loss_threshold_attack(forget.losses, test.losses)
    out.set("LT_AUC", auc, reason_if_nan=empty)
    out.set("LT_TPR1", tpr, reason_if_nan=empty)
    sets = dict(train_member_losses=retain.losses, train_nonmember_losses=nonmember.losses,
                forget_losses=forget.losses, test_losses=test.losses)
    if "efficacy" in cfg.mia_protocols:
        res = mia_efficacy(**sets, seed=cfg.seed)
        out.mia["efficacy"] = {**res, "nonmembers": "val" if "val" in o else "test"}
        out.set("MIA", res["efficacy"], reason_if_nan=empty)
        out.set("MIA_AUC", res["auc"], reason_if_nan=empty)
    if "grmu" in cfg.mia_protocols:
        res = mia_grmu(**sets)
        out.mia["grmu"] = res
        out.set("MIA_GRMU", res["efficacy"], reason_if_nan=empty)
    if "svc" in cfg.mia_protocols:
        res = mia_svc_confidence(retain_probs=retain.logits.softmax(1), retain_y=retain.y,
                                 test_probs=test.logits.softmax(1), test_y=test.y,
                                 forget_probs=forget.logits.softmax(1), forget_y=forget.y,
                                 features=("confidence", "entropy", "m_entropy"))
        out.mia["svc"] = res
        out.set("MIA_SVC", res["confidence"], reason_if_nan=empty)


def _fairness_gap(out: ModelMetrics, collector: NormStatsCollector, cfg: MetricConfig) -> None:
    if not collector.layers:
        reason = "the model has no normalization layer" + (
            f" matching {cfg.fairness_gap_layers!r}" if cfg.fairness_gap_layers else "")
        out.not_applicable["FG"] = out.not_applicable["FG_MAX"] = reason
        return
    fg = collector.result(statistic=cfg.fairness_gap_statistic, split=cfg.fairness_gap_split)
    out.fairness_gap = fg
    reason = f"fewer than two classes have samples in the {cfg.fairness_gap_split} split"
    out.set("FG", fg.mean if fg else float("nan"), reason_if_nan=reason)
    out.set("FG_MAX", fg.max if fg else float("nan"), reason_if_nan=reason)


def _robustness(out: ModelMetrics, model: nn.Module, test: GroupDataset, cfg: MetricConfig) -> None:
    eps = cfg.eps if test.is_image else cfg.tabular_eps
    budgets = sorted({eps, *cfg.eps_sweep}) if test.is_image else [eps]
    for attack, enabled, key in (("fgsm", cfg.fgsm, "FGSM"), ("pgd", cfg.pgd, "PGD")):
        if not enabled:
            continue
        curve: dict[str, Any] = {}
        for e in budgets:
            curve[f"{e:.6g}"] = adversarial_accuracy(model, test, attack=attack, eps=e, steps=cfg.pgd_steps,
                                                     batch_size=cfg.batch_size, max_samples=cfg.attack_max_samples,
                                                     seed=cfg.seed)
        out.adversarial[attack] = curve
        out.set(key, curve[f"{eps:.6g}"], reason_if_nan="the test split is empty")
