"""Nested report sections (data, environment, configuration) as ONE flat key/value table a person can read.

Nested keys are joined with dots (``recipe.epochs``), list items get their index (``thresholds[0]``), lists of
scalars are comma-joined, and the ``repr`` of a Python callable recorded in the configuration
(``<function make.<locals>.<lambda> at 0x7f…>``) is shown as its qualified name (``make.<locals>.<lambda>`` →
``lambda in make``).
"""

from __future__ import annotations

import re
from typing import Any, Iterator

from ._html_base import esc
from ._table import fmt_number

__all__ = ["flat_items", "kv_table", "readable_name"]

_REPR = re.compile(r"^<(?:function|built-in function|bound method|method|class) (.+?)(?: of .*)?"
                   r"(?: at 0x[0-9a-fA-F]+)?>$")
_LIST_LIMIT = 40


def readable_name(text: str) -> str:
    """A callable's ``repr`` or qualified name in words.

    ``"<function f.<locals>.<lambda> at 0x1>"`` → ``"lambda in f"``; ``"<function pkg.mod.g at 0x1>"`` →
    ``"pkg.mod.g"``; any other text is returned unchanged.
    """
    m = _REPR.match(text.strip())
    name = m.group(1).strip("'") if m else text
    if "<lambda>" not in name and "<locals>" not in name:
        return name if m else text
    parts = [p for p in name.split(".") if p != "<locals>"]
    inner = "lambda" if parts[-1] == "<lambda>" else parts[-1]
    outer = ".".join(p for p in parts[:-1] if p != "<lambda>")
    return f"{inner} in {outer}" if outer else inner


def _scalar(v: Any) -> str:
    if isinstance(v, float):
        return esc(fmt_number(v))
    if isinstance(v, str) and len(v) >= 32 and all(c in "0123456789abcdef" for c in v):
        return f"<code>{esc(v)}</code>"  # a fingerprint / hash
    if isinstance(v, str):
        return esc(readable_name(v))
    return esc(v)


def _is_scalar(v: Any) -> bool:
    return not isinstance(v, (dict, list, tuple))


def flat_items(d: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted key, value as HTML)`` for every leaf of a nested dict / list structure."""
    if isinstance(d, dict):
        if not d:
            yield prefix or "(empty)", '<span class="note">(empty)</span>'
        for k, v in d.items():
            yield from flat_items(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, (list, tuple)):
        if all(_is_scalar(v) for v in d):
            shown = ", ".join(_scalar(v) for v in d[:_LIST_LIMIT]) or '<span class="note">(none)</span>'
            more = f' <span class="note">… ({len(d)} items)</span>' if len(d) > _LIST_LIMIT else ""
            yield prefix, shown + more
        elif all(isinstance(v, (list, tuple)) and len(v) <= 4 and all(_is_scalar(x) for x in v) for v in d):
            yield prefix, ", ".join("(" + ", ".join(_scalar(x) for x in v) + ")" for v in d)  # e.g. groups
        else:
            for i, v in enumerate(d):
                yield from flat_items(v, f"{prefix}[{i}]")
    else:
        yield prefix, _scalar(d)


def kv_table(d: Any) -> str:
    """One two-column table (key, value) for a nested section; a note when it is empty."""
    rows = [(k, v) for k, v in flat_items(d) if k != "(empty)"]
    if not rows:
        return '<p class="note">(empty)</p>'
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<div class="scroll"><table class="kv"><tbody>{body}</tbody></table></div>'
