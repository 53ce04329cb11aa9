"""Plain, strict JSON from what the engine returns: one converter for every writer (cards,
eval tables, Showdown reports, the recipe embedded in a video)."""

from __future__ import annotations

import math


def jsonable(obj):
    """numpy scalars and arrays to Python, non-finite floats to None (strict JSON), tuples to lists."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy array or scalar
        return jsonable(obj.tolist())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)
