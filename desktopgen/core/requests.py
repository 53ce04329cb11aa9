"""Requests are data: everything needed to reproduce a run, with a JSON round-trip."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

FAMILIES = ("diffusion", "ar")
MAX_BATCH = 256
MAX_SEED = 2**63 - 1


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
        if self.family not in FAMILIES:
            raise RequestError(f"family must be one of {', '.join(FAMILIES)}, not {self.family!r}")
        if not 0 <= self.seed <= MAX_SEED:
            raise RequestError(f"seed must be between 0 and {MAX_SEED}, not {self.seed}")
        if not 0 <= self.first_index <= 10**7:
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
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict) -> SampleRequest:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise RequestError(f"unknown request fields: {', '.join(sorted(unknown))}")
        d = dict(d)
        for k in ("source", "mask"):
            if d.get(k) is not None:
                d[k] = tuple(tuple(int(v) for v in row) for row in d[k])
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> SampleRequest:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise RequestError(f"not a request: {e}") from None
        if not isinstance(d, dict):
            raise RequestError("not a request: expected a JSON object")
        return cls.from_dict(d)
