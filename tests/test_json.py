"""``json_safe`` (strict: metrics and the report) and ``jsonable`` (lenient: logs, hyper-parameters, cache)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from unlearn_audit._json import json_safe, jsonable
from unlearn_audit.report import Status


def test_json_safe_maps_non_finite_floats_enums_scalars_and_keys():
    out = json_safe({"a": float("nan"), "b": math.inf, 3: (1, 2.5), "s": Status.FAIL,
                     "n": np.float32(0.5), "t": torch.tensor(2), "ok": True, "none": None})
    assert out == {"a": None, "b": None, "3": [1, 2.5], "s": "FAIL", "n": 0.5, "t": 2, "ok": True, "none": None}
    json.dumps(out, allow_nan=False)


@pytest.mark.parametrize("bad", [object(), torch.zeros(3), {1, 2}, Path("x")])
def test_json_safe_rejects_what_it_cannot_represent(bad):
    with pytest.raises(TypeError, match="json_safe: cannot serialize"):
        json_safe({"k": [bad]})


def test_jsonable_never_raises_and_keeps_values_readable():
    class Opaque:
        def __repr__(self) -> str:
            return "<opaque>"

    out = jsonable({"t1": torch.tensor([[3.0]]), "t": torch.arange(3), "arr": np.array([1.5, 2.0]),
                    "np": np.int64(7), "set": {3, 1, 2}, "mixed": {1, "a"}, "path": Path("/tmp/x"),
                    "enum": Status.PASS, "nan": float("nan"), "obj": Opaque(),
                    "grad": torch.ones(2, requires_grad=True)})
    assert out["t1"] == 3.0 and out["t"] == [0, 1, 2] and out["arr"] == [1.5, 2.0] and out["np"] == 7
    assert out["set"] == [1, 2, 3] and sorted(map(str, out["mixed"])) == ["1", "a"]
    assert out["path"] == "/tmp/x" and out["enum"] == "PASS" and math.isnan(out["nan"])
    assert out["obj"] == "<opaque>" and out["grad"] == [1.0, 1.0]
    json.dumps(out)
