"""What protects an audit from the methods it runs: the data guard and the one place a method is called.

A method gets the audit's data through its context (``ctx.data``, ``ctx.retain``, ``ctx.forget``, ``ctx.val``)
and may also hold the user's ``AuditData`` in a closure. Tensors cannot be made read-only, so the guard keeps a
pristine copy of every tensor of the data (train / test / val ``x``, ``y``, ``a`` and the forget indices) and,
after every method, compares the live tensors with it (``torch.equal``: a memory comparison, no hashing). A
difference is written back *in place* (so every alias of the tensor, the user's own object included, is
repaired) and the method is recorded as failed with the name of what it changed. The derived splits that the
data caches (``retain``, ``forget``, the retain indices) are compared with the same pristine tensors gathered at
their indices. The report's data fingerprint is therefore always the fingerprint of the data that was audited.

``call_method`` is the single place a method function is invoked. Everything a method raises becomes that
method's failure -- ``SystemExit`` (``sys.exit()`` in user code) and every other ``BaseException`` included --
except ``KeyboardInterrupt``, which stops the audit (after the data is restored; the cache only ever holds
complete entries, so the next run resumes where this one stopped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import torch
from torch import nn

from ._cache import state_hash

if TYPE_CHECKING:  # pragma: no cover
    from ..data import AuditData
    from ..methods import UnlearnContext

__all__ = ["MethodFailure", "DataGuard", "call_method", "describe_exception"]

_FIELDS = ("x", "y", "a")


class MethodFailure(Exception):
    """A method raised or returned something unusable; ``str(exc)`` is the reason shown in the report."""


@dataclass
class _Slot:
    """One guarded tensor attribute: ``holder.attr`` must still be ``tensor`` and equal ``expected()``."""

    label: str
    holder: Any
    attr: str
    tensor: torch.Tensor
    expected: Callable[[], torch.Tensor]


def _live(slot: _Slot) -> Any:
    """The tensor ``slot`` guards as it is now (an attribute, or a dict item such as a split's cluster ids)."""
    if isinstance(slot.holder, dict):
        return slot.holder.get(slot.attr)
    return getattr(slot.holder, slot.attr)


def _restore(slot: _Slot) -> None:
    want = slot.expected()
    t = slot.tensor
    with torch.no_grad():
        if t.shape != want.shape:
            t.resize_(want.shape)
        t.copy_(want)
    if _live(slot) is not t:
        if isinstance(slot.holder, dict):
            slot.holder[slot.attr] = t
        else:
            object.__setattr__(slot.holder, slot.attr, t)


class DataGuard:
    """Keeps ``data`` as it was when the guard was made: ``check_and_restore()`` after every method.

    Memory: one pristine copy of the data's tensors (kept on the CPU, where ``AuditData`` lives).
    """

    def __init__(self, data: "AuditData") -> None:
        self.data = data
        retain_idx, forget_idx = data.retain_idx, data.forget_idx
        self._pristine_idx = (forget_idx.clone(), retain_idx.clone())
        splits = {"train": data.train, "test": data.test, "val": data.val}
        # an image store's x (StoredImages) is a read-only memory map (and batches are fresh tensors): not copied
        pristine = {name: {f: getattr(ds, f).detach().clone() for f in _FIELDS
                           if isinstance(getattr(ds, f), torch.Tensor)}
                    for name, ds in splits.items() if ds is not None}
        self._slots: list[_Slot] = []
        for name, ds in splits.items():
            if ds is None:
                continue
            for f in pristine[name]:
                self._add(f"ctx.data.{name}.{f}", ds, f, pristine[name][f])
        self._add("ctx.data.forget_idx", data, "forget_idx", self._pristine_idx[0])
        self._add("the retain indices (ctx.data.retain_idx)", data, "retain_idx", self._pristine_idx[1])
        clusters = getattr(data, "_clusters", None) or {}  # AuditData(clusters=...): cluster ids per split
        for name, ids in clusters.items():
            if isinstance(ids, torch.Tensor):
                self._add(f"the cluster ids of {name} (AuditData.clusters)", clusters, name, ids.detach().clone())
        train = pristine["train"]
        for name, idx in (("forget", self._pristine_idx[0]), ("retain", self._pristine_idx[1])):
            derived = getattr(data, name)  # cached on the data: ctx.forget / ctx.retain are these on the CPU
            for f in train:
                self._add(f"ctx.{name}.{f}", derived, f,
                          lambda f=f, idx=idx: train[f].index_select(0, idx.to(train[f].device)))

    def _add(self, label: str, holder: Any, attr: str, expected: torch.Tensor | Callable[[], torch.Tensor]) -> None:
        want = expected if callable(expected) else (lambda t=expected: t)
        slot = _Slot(label, holder, attr, torch.empty(0), want)
        tensor = _live(slot)
        if tensor is None:
            return
        slot.tensor = tensor
        self._slots.append(slot)

    def changed(self) -> list[_Slot]:
        """The guarded tensors that differ from (or were replaced since) the pristine copy."""
        out = []
        for slot in self._slots:
            live = _live(slot)
            if live is not slot.tensor or not _same(live, slot.expected()):
                out.append(slot)
        return out

    def check_and_restore(self, ctx: "UnlearnContext | None" = None) -> list[str]:
        """Restore every changed tensor in place; return the labels of what was changed (empty: nothing).

        ``ctx``'s own copies of the splits (made when the method runs on another device than the data) are
        compared too; they are the method's private copies, so they are reported but not restored.
        """
        changed = self.changed()
        for slot in changed:
            _restore(slot)
        labels = [s.label for s in changed]
        if ctx is not None:
            for name in ("forget", "retain", "val"):
                mine = getattr(ctx, name, None)
                theirs = getattr(self.data, name)
                if mine is None or theirs is None or mine is theirs:
                    continue
                for f in _FIELDS:
                    label = f"ctx.{name}.{f}"
                    if not isinstance(getattr(theirs, f), torch.Tensor):
                        continue
                    if label not in labels and not _same(getattr(mine, f), getattr(theirs, f)):
                        labels.append(label)
        return labels


def _same(live: torch.Tensor, want: torch.Tensor) -> bool:
    if live.shape != want.shape or live.dtype != want.dtype:
        return False
    return bool(torch.equal(live.detach().to(want.device), want))


def describe_exception(exc: BaseException) -> str:
    """``"raised Type: message"`` (with a hint for ``sys.exit()``)."""
    text = f"raised {type(exc).__name__}: {exc}"
    if isinstance(exc, SystemExit):
        text += " (sys.exit() was called inside the method; it ends only this method, not the audit)"
    return text


def call_method(method: Callable[[nn.Module, Any], Any], model: nn.Module, ctx: "UnlearnContext", *,
                guard: DataGuard | None) -> nn.Module:
    """``method(model, ctx)``, protected: the data checked and restored afterwards, ``ctx.original`` checked.

    Raises:
        MethodFailure: the method raised (anything but ``KeyboardInterrupt``), changed the audit data or
            ``ctx.original`` in place, or returned something that is not an ``nn.Module``.
        KeyboardInterrupt: re-raised after the data has been restored.
    """
    ctx_hash = state_hash(ctx.original)
    error: BaseException | None = None
    out: Any = None
    changed: list[str] = []
    try:
        out = method(model, ctx)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - user code may raise anything, SystemExit included
        error = exc
    finally:
        if guard is not None:
            changed = guard.check_and_restore(ctx)
    if changed:
        also = f"; it also {describe_exception(error)}" if error is not None else ""
        raise MethodFailure(f"changed the audit data in place ({', '.join(changed[:4])}"
                            f"{f' and {len(changed) - 4} more' if len(changed) > 4 else ''}); the data was restored "
                            f"before the next model. A method must not write into ctx.data, ctx.retain, ctx.forget "
                            f"or ctx.val: clone a tensor before modifying it{also}") from error
    if error is not None:
        raise MethodFailure(describe_exception(error)) from error
    if state_hash(ctx.original) != ctx_hash:
        raise MethodFailure("changed ctx.original in place (its parameters or buffers differ after the call); a "
                            "method must modify and return the copy it is given, never the original")
    if out is None:
        raise MethodFailure("returned None, expected an nn.Module (did you forget `return model`?)")
    if isinstance(out, tuple) and any(isinstance(o, nn.Module) for o in out):
        raise MethodFailure(f"returned a tuple of {len(out)} ({', '.join(type(o).__name__ for o in out)}), "
                            f"expected an nn.Module alone (return the model; put diagnostics in ctx.log)")
    if not isinstance(out, nn.Module):
        raise MethodFailure(f"returned {type(out).__name__}, expected an nn.Module")
    return out
