"""Conversion of results to JSON-ready values, shared by the metrics, the report, the runner and the cache.

Two policies:

- ``json_safe`` (strict), for metric values and the report: non-finite floats become ``None`` (JSON has no
  NaN), enums their value, tuples lists, numpy / torch scalars Python numbers, keys strings; anything else is a
  ``TypeError`` so a wrong type is caught where it is produced, not when the file is written.
- ``jsonable`` (lenient), for method logs, hyper-parameters and cache metadata, which hold whatever a method
  recorded: tensors and arrays become numbers or lists, sets sorted lists, paths strings, anything else its
  ``repr``. Non-finite floats are kept (``json_safe`` maps them when the report is written).

Neither imports torch or numpy: tensors and arrays are recognised by their ``item`` / ``tolist`` methods.
"""

from __future__ import annotations

import math
from enum import Enum
from pathlib import PurePath
from typing import Any, Mapping

__all__ = ["json_safe", "jsonable"]


def _is_scalar_like(obj: Any) -> bool:
    """A numpy / torch scalar or 0-d array / tensor (has ``item`` and ``ndim == 0``)."""
    return callable(getattr(obj, "item", None)) and getattr(obj, "ndim", None) == 0


def json_safe(obj: Any) -> Any:
    """Recursively convert ``obj`` to JSON types, strictly (see the module docstring).

    Raises:
        TypeError: a value that is not a number, string, bool, ``None``, enum, mapping, list / tuple or scalar.
    """
    if isinstance(obj, Enum):
        return json_safe(obj.value)
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if _is_scalar_like(obj):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, int):
        return obj
    raise TypeError(f"json_safe: cannot serialize {type(obj).__name__}")


def jsonable(obj: Any) -> Any:
    """Recursively convert ``obj`` to JSON types, leniently (see the module docstring); never raises."""
    if isinstance(obj, Enum):
        return jsonable(obj.value)
    if isinstance(obj, (bool, int, float, str, type(None))):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        items = [jsonable(v) for v in obj]
        try:
            return sorted(items)
        except TypeError:                                  # mixed types: a stable order all the same
            return sorted(items, key=repr)
    if isinstance(obj, PurePath):
        return str(obj)
    if callable(getattr(obj, "tolist", None)):            # tensors and arrays; a 1-element one as its number
        try:
            if callable(getattr(obj, "detach", None)):
                obj = obj.detach().cpu()
            size = obj.numel() if callable(getattr(obj, "numel", None)) else getattr(obj, "size", None)
            return jsonable(obj.item() if size == 1 else obj.tolist())
        except (TypeError, ValueError, RuntimeError):
            pass
    if callable(getattr(obj, "item", None)):
        try:
            return jsonable(obj.item())
        except (TypeError, ValueError):
            pass
    return repr(obj)
