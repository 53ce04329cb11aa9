"""Requests are data: everything needed to reproduce a run, with a JSON round-trip."""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

FAMILIES = ("diffusion", "ar")
MAX_BATCH = 256
MAX_SEED = 2**63 - 1  # one seed range everywhere: CLI, GUI, recipes
MAX_FIRST_INDEX = 10**7
MAX_JSON_BYTES = 1 << 20  # a recipe with a source and mask per side is ~20 kB
MAX_JSON_DEPTH = 16  # a request nests 4 deep (a batch of sources); a recipe 3 more
SIZE = 28
MAX_TEXT = 256  # model names, samplers, hashes

# field -> the Python types it may hold (bool is refused where an int is meant)
_INT, _REAL = (numbers.Integral,), (numbers.Real,)
_TYPES = {"family": (str,), "model": (str,), "model_sha256": (str,), "sampler": (str,), "steps": _INT,
          "guidance": _REAL, "temperature": _REAL, "top_k": _INT, "class_label": (*_INT, type(None)),
          "seed": _INT, "batch": _INT, "first_index": _INT, "resample": _INT, "jump": _INT}


class RequestError(ValueError):
    """A request whose parameters make no sense; the message is for the user."""


@dataclass(frozen=True)
class SampleRequest:
    family: str  # "diffusion" | "ar"
    model: str = ""  # model folder name under models/ ("" = the family's default)
    model_sha256: str = ""  # sha256 of the weights, filled in when the model is loaded
    sampler: str = ""  # "" = the family's default sampler
    steps: int = 0  # 0 = the sampler's default
    guidance: float = -1.0  # classifier-free guidance scale (1 = none); <0 = the default
    temperature: float = 1.0  # AR only
    top_k: int = 0  # AR only; 0 = no top-k cut
    class_label: int | None = None  # 0..9; None = sample i gets class i mod 10
    seed: int = 0
    batch: int = 1
    first_index: int = 0  # sample i of this batch is sample first_index + i of the whole run
    resample: int = 1  # inpainting: RePaint resamplings per step (1 = none)
    jump: int = 1  # inpainting: RePaint jump length in steps
    source: tuple | None = None  # inpainting: 28x28 uint8 image as nested tuples
    mask: tuple | None = None  # inpainting: 28x28 0/1 (1 = generate) as nested tuples

    def validate(self) -> SampleRequest:
        for name, kinds in _TYPES.items():
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, kinds):
                raise RequestError(f"{name.replace('_', ' ')} must be {_kind_name(kinds)}, not {v!r}"[:200])
            if isinstance(v, numbers.Real) and not math.isfinite(v):
                raise RequestError(f"{name} must be a finite number, not {v}")
            if isinstance(v, str) and len(v) > MAX_TEXT:
                raise RequestError(f"{name} is too long ({len(v):,} characters; at most {MAX_TEXT})")
        if self.family not in FAMILIES:
            raise RequestError(f"family must be one of {', '.join(FAMILIES)}, not {self.family!r}")
        if not 0 <= self.seed <= MAX_SEED:
            raise RequestError(f"seed must be between 0 and {MAX_SEED}, not {self.seed}")
        if not 0 <= self.first_index <= MAX_FIRST_INDEX:
            raise RequestError(f"first index must be between 0 and 10^7, not {self.first_index}")
        if not 1 <= self.batch <= MAX_BATCH:
            raise RequestError(f"batch must be between 1 and {MAX_BATCH}, not {self.batch}")
        if self.steps < 0 or self.steps > 1000:
            raise RequestError(f"steps must be between 1 and 1000, not {self.steps}")
        if self.class_label is not None and not 0 <= self.class_label <= 9:
            raise RequestError(f"class must be between 0 and 9, not {self.class_label}")
        if self.guidance > 20:
            raise RequestError(f"guidance must be at most 20, not {self.guidance}")
        if not 0.05 <= self.temperature <= 5:
            raise RequestError(f"temperature must be between 0.05 and 5, not {self.temperature}")
        if not 0 <= self.top_k <= 256:
            raise RequestError(f"top-k must be between 0 (off) and 256, not {self.top_k}")
        if not 1 <= self.resample <= 20 or not 1 <= self.jump <= 50:
            raise RequestError("resample must be 1..20 and jump 1..50")
        if (self.source is None) != (self.mask is None):
            raise RequestError("inpainting needs both a source image and a mask")
        if self.source is not None:
            _check_grid("source", self.source, self.batch, 255)
            _check_grid("mask", self.mask, self.batch, 1)
        return self

    def labels(self) -> list[int]:
        """The requested class of each sample of the batch."""
        if self.class_label is None:
            return [(self.first_index + i) % 10 for i in range(self.batch)]
        return [self.class_label] * self.batch

    def with_(self, **changes) -> SampleRequest:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("source", "mask"):
            if d[k] is not None:
                d[k] = [list(row) for row in d[k]]
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict) -> SampleRequest:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise RequestError(f"unknown request fields: {', '.join(sorted(unknown))}")
        if "family" not in d:
            raise RequestError("the request names no family")
        d = dict(d)
        for k in ("source", "mask"):
            if d.get(k) is not None:
                d[k] = _nested_tuple(d[k], k)
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> SampleRequest:
        d = strict_json(text)
        if not isinstance(d, dict):
            raise RequestError("not a request: expected a JSON object")
        return cls.from_dict(d)


def _kind_name(kinds) -> str:
    names = {str: "text", numbers.Integral: "a whole number", numbers.Real: "a number", type(None): "empty"}
    return " or ".join(dict.fromkeys(names[k] for k in kinds))


def _nested_tuple(v, name: str, depth: int = 0):
    """JSON lists (a 28x28 image, or a batch of them) as the nested tuples a request holds."""
    if isinstance(v, (list, tuple)):
        if depth >= 3:
            raise RequestError(f"{name} must be a 28x28 image or a batch of them")
        return tuple(_nested_tuple(x, name, depth + 1) for x in v)
    return v


def _check_grid(name: str, grid, batch: int, top: int) -> None:
    """`grid` is (28, 28), or (batch, 28, 28), of whole numbers 0..top."""
    try:
        a = np.asarray(grid)
    except (ValueError, TypeError):
        a = None
    if a is None or a.dtype == object or a.shape not in ((SIZE, SIZE), (batch, SIZE, SIZE)):
        ragged = a is None or a.dtype == object
        shape = "ragged" if ragged else "x".join(map(str, a.shape)) or "one value"
        raise RequestError(f"{name} must be 28x28 (or one per sample, {batch}x28x28), not {shape}")
    if a.dtype.kind not in "iu":
        raise RequestError(f"{name} must hold whole numbers 0..{top}")
    if a.size and (a.min() < 0 or a.max() > top):
        raise RequestError(f"{name} values must be between 0 and {top}")


def _reject_constant(name: str):
    raise RequestError(f"{name} is not a number JSON allows (NaN and infinities are refused)")


def _finite_float(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):  # 1e400 parses as infinity
        raise RequestError(f"{text[:20]} is out of range")
    return v


def json_depth(text: str) -> int:
    """The deepest nesting of [ and { in JSON text (strings skipped), without recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def strict_json(text, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH):
    """Parse untrusted JSON (a recipe, a request, --arch): RequestError, one sentence, for text that
    is too long, nested too deep, not JSON, or holds NaN / Infinity, instead of a RecursionError
    or a non-finite number slipping into the settings."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestError("not JSON: not UTF-8 text") from None
    if not isinstance(text, str):
        raise RequestError("not JSON text")
    if len(text) > max_bytes:
        raise RequestError(f"too long ({len(text):,} characters; at most {max_bytes:,})")
    if json_depth(text) > max_depth:
        raise RequestError(f"nested too deeply (more than {max_depth} levels)")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as e:
        raise RequestError(f"not JSON ({e})") from None
    except (ValueError, RecursionError) as e:  # e.g. an integer of 5,000 digits
        if isinstance(e, RequestError):
            raise
        raise RequestError(f"not usable JSON ({str(e).split(';')[0][:100]})") from None
