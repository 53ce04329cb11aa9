"""Samplers by name, their defaults, and model loading for inference.

Every sampler is a generator function `sample(model, request, device, preview_every)` that
yields StepEvents and returns a RunResult (DESIGN.md "Contracts").
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn as nn

from desktopgen import nets
from desktopgen.core import checkpoints
from desktopgen.core import samplers as table
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import FAMILIES, RequestError, SampleRequest
from desktopgen.sampling import ar, diffusion, flow, tokens
from desktopgen.sampling import maskgit as maskgit_sampler

# Views of the one table (desktopgen/core/samplers.py), kept for older callers.
SAMPLERS = {f: tuple(s.name for s in table.samplers_for(f)) for f in FAMILIES}
DEFAULTS = {f: {"sampler": table.default_sampler(f).name,
                "steps": table.default_sampler(f).steps or int(table.default_sampler(f).steps_range.hi),
                "guidance": table.default_sampler(f).guidance} for f in FAMILIES}


def with_defaults(req: SampleRequest, model: nn.Module | None = None) -> SampleRequest:
    """Fill the sampler's defaults (desktopgen/core/samplers.py) where the request left them,
    and refuse a sampler of another family or values outside the sampler's ranges. With the
    `model`, a sampler whose steps the model fixes (the table's steps = 0: pixel, tokens) gets
    the model's own count (its sequence length: 196 for a 14x14 token model, 49 for a 7x7 one),
    and another count is refused; without it, the table's range (the shipped models' counts) and
    its top (the default model's count) for an unset count."""
    req = req.validate()
    spec = table.get_sampler(req.sampler) if req.sampler else table.default_sampler(req.family)
    if spec.family != req.family:
        names = ", ".join(s.name for s in table.samplers_for(req.family))
        raise RequestError(f"sampler {spec.name!r} is for {spec.family}, not {req.family}; "
                           f"{req.family} samplers: {names}")
    steps = req.steps or spec.steps or int(spec.steps_range.hi)
    fixed = model_steps(spec, model)
    if fixed:
        if req.steps not in (0, fixed, int(spec.steps_range.hi)):  # the table's count: not chosen
            unit = "pixel" if spec.model_kind == "pixel-ar" else "token"
            raise RequestError(f"{spec.name}: {req.model or 'this model'} runs {fixed} steps (one per "
                               f"{unit}), not {req.steps}")
        steps = fixed
    req = req.with_(
        model=req.model or spec.default_model,
        sampler=spec.name,
        steps=steps,
        guidance=spec.default_guidance(steps) if req.guidance < 0 else req.guidance,
    )
    for what, value, rng in (("steps", req.steps, table.Range(fixed, fixed) if fixed else spec.steps_range),
                             ("guidance", req.guidance, spec.guidance_range),
                             ("temperature", req.temperature, spec.temperature_range)):
        if value not in rng:
            span = f"{rng.lo:g}" if rng.lo == rng.hi else f"between {rng.lo:g} and {rng.hi:g}"
            raise RequestError(f"{spec.name}: {what} must be {span}, not {value:g}")
    return req


def model_steps(spec: table.SamplerSpec, model: nn.Module | None) -> int:
    """The steps `model` fixes for `spec` (its sequence length) when the table leaves the count
    to the model (steps = 0); 0 otherwise (the request's or the table's count holds)."""
    if spec.steps or model is None:
        return 0
    return int(getattr(getattr(model, "config", None), "seq_len", 0) or 0)


def load(family: str, name: str = "", device: torch.device | str = "cpu", sampler: str = ""):
    """Load a family's model for inference: (model, card); without `name`, the model that
    `sampler` needs (the table's default_model), else the family's default. On CUDA the AR
    transformer runs in bf16 weights (its step is launch-bound and captured as a graph); the
    U-Net is loaded in fp32, and its samplers run it as a bf16 copy (graphs.in_form)."""
    spec = table.get_sampler(sampler) if sampler else None
    family_default = table.default_sampler(family).default_model
    if not name and spec is not None and spec.default_model != family_default:
        name = spec.default_model
        if not checkpoints.resolve(name).is_dir():
            raise checkpoints.ModelNotFoundError(
                f"sampler {sampler} needs the model {name}, which is not shipped yet "
                f"(train it: desktopgen train "
                f"{spec.model_kind if spec.model_kind in ('flow', 'token-ar', 'maskgit') else family} "
                f"--out models/{name})")
    model, card = checkpoints.load_model(name or family_default, device)
    arch = type(model).__name__
    expected = {"diffusion": ("UNet", "ShortcutUNet", "InpaintUNet"),
                "ar": ("PixelAR", "TokenAR", "MaskGIT")}[family]
    if arch not in expected:
        raise checkpoints.CheckpointError(f"model {card['name']!r} is a {arch}, not a {family} model")
    if family == "ar" and torch.device(device).type == "cuda":
        model = model.to(torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    if isinstance(model, nets.TokenAR):  # its tokenizer rides along, in float32
        model.attach_tokenizer(_load_tokenizer(model.config.tokenizer, device))
    if isinstance(model, nets.MaskGIT):
        model = _attach_tokenizer(model, card, name or family_default, device)
    return model, card


def _load_tokenizer(name: str, device) -> nn.Module:
    tokenizer, card = checkpoints.load_model(name, device)
    if not isinstance(tokenizer, nets.Tokenizer):
        raise checkpoints.CheckpointError(f"model {name!r} is a {type(tokenizer).__name__}, not a tokenizer")
    return tokenizer


def _attach_tokenizer(model, card: dict, name: str, device):
    """Load the tokenizer a MaskGIT model names (first beside its folder, then among the models)
    in fp32, check it is the one it was trained with, and attach it."""
    tok_name = model.config.tokenizer
    beside = checkpoints.resolve(name).parent / tok_name
    tokenizer, tok_card = checkpoints.load_model(str(beside) if beside.is_dir() else tok_name, device)
    want = card.get("tokenizer_sha256") or ""
    # a retrained decoder keeps the codes (train tokenizer-decoder): its card lists whose
    same_codes = [tok_card.get("sha256"), *tok_card.get("same_codes_as", [])]
    if want and want not in same_codes:
        raise checkpoints.CheckpointError(
            card["name"], f"was trained with another {tok_name} (sha256 {want[:12]}…, now "
                          f"{str(tok_card.get('sha256'))[:12]}…): retrain it with this tokenizer")
    if not hasattr(tokenizer, "decode") or not hasattr(tokenizer, "codebook_size"):
        raise checkpoints.CheckpointError(card["name"], f"names {tok_name}, which is not a tokenizer")
    try:
        return maskgit_sampler.with_tokenizer(model, tokenizer)
    except ValueError as e:
        raise checkpoints.CheckpointError(card["name"], str(e)) from None


def sample(model, request: SampleRequest, device="cpu", preview_every: int = 1) -> Iterator[StepEvent]:
    req = with_defaults(request, model)
    if req.family == "diffusion":
        spec = table.get_sampler(req.sampler)
        is_flow = isinstance(model, nets.ShortcutUNet)  # stand-ins in tests subclass it too
        if is_flow != (spec.model_kind == "flow"):
            kind = "flow" if is_flow else "diffusion-unet"
            fits = ", ".join(s.name for s in table.SAMPLERS.values()
                             if s.family == "diffusion" and (s.model_kind == "flow") == is_flow)
            raise ValueError(f"sampler {spec.name} needs a {spec.model_kind} model, and "
                             f"{req.model or 'this model'} is a {kind} model (its samplers: {fits})")
        if is_flow:
            return flow.sample(model, req, device, preview_every)
        return diffusion.sample(model, req, device, preview_every)
    spec = table.get_sampler(req.sampler)
    is_maskgit = isinstance(model, nets.MaskGIT)
    if is_maskgit != (spec.model_kind == "maskgit"):
        kind = nets.kind_of(model)
        fits = {"maskgit": "maskgit", "token-ar": "tokens"}.get(kind, "pixel")
        raise ValueError(f"sampler {spec.name} needs a {spec.model_kind} model, and "
                         f"{req.model or 'this model'} is a {kind} model (its sampler: {fits})")
    if is_maskgit:
        return maskgit_sampler.sample(model, req, device, preview_every)
    is_tokens = isinstance(model, nets.TokenAR)
    if is_tokens != (req.sampler == "tokens"):
        kind = "token AR" if is_tokens else "pixel AR"
        fits = "tokens" if is_tokens else "pixel"
        raise ValueError(f"sampler {req.sampler} needs a {table.get_sampler(req.sampler).model_kind} "
                         f"model, and {req.model or 'this model'} is a {kind} model (its sampler: {fits})")
    if is_tokens:
        return tokens.sample(model, req, device, preview_every)
    return ar.sample(model, req, device, preview_every)


def run_to_end(gen: Iterator[StepEvent], on_event=None) -> RunResult:
    """Drive a sampler generator to its end and return its RunResult."""
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(ev)
