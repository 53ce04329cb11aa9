"""The one table of samplers: names, labels, defaults and accepted ranges.

Torch-free and Qt-free, so the engine, the CLI and the GUI all read the same numbers
(docs: /work/notes/table-api.md). Defaults come from the sweep in models/*/card.json.
"""

from __future__ import annotations

from dataclasses import dataclass

from desktopgen.core.requests import FAMILIES, RequestError


@dataclass(frozen=True)
class Range:
    """An inclusive numeric range."""

    lo: float
    hi: float

    def __contains__(self, value: float) -> bool:
        return self.lo <= value <= self.hi


@dataclass(frozen=True)
class SamplerSpec:
    name: str  # CLI value, e.g. "dpmpp-2m"
    label: str  # GUI text, e.g. "DPM-Solver++ (2M)"
    family: str  # "diffusion" | "ar"
    model_kind: str  # kind of model it needs: "diffusion-unet", "pixel-ar"
    default_model: str  # shipped model folder name, e.g. "fmnist-diffusion"
    steps: int  # default step count; 0 = fixed by the model (its sequence length; the range holds
    # the shipped models' counts, its top the default model's)
    steps_range: Range  # accepted step counts
    guidance: float  # default classifier-free guidance scale (1 = none)
    guidance_range: Range
    temperature: float  # AR only (1.0 otherwise)
    temperature_range: Range
    top_k: int  # AR only; 0 = no cut
    help: str  # one-line tooltip
    guidance_at: tuple[tuple[int, float], ...] = ()  # (steps, guidance) defaults that differ

    def default_guidance(self, steps: int) -> float:
        """The default guidance at `steps`: `guidance_at`'s value for that count, else `guidance`."""
        return dict(self.guidance_at).get(steps, self.guidance)


DIFFUSION_STEPS = Range(1, 1000)  # any count up to the training horizon T
GUIDANCE = Range(0.0, 20.0)
NO_TEMPERATURE = Range(1.0, 1.0)


def _diffusion(name: str, label: str, steps: int, help: str, guidance: float = 2.0) -> SamplerSpec:
    return SamplerSpec(name=name, label=label, family="diffusion", model_kind="diffusion-unet",
                       default_model="fmnist-diffusion", steps=steps, steps_range=DIFFUSION_STEPS,
                       guidance=guidance, guidance_range=GUIDANCE, temperature=1.0,
                       temperature_range=NO_TEMPERATURE, top_k=0, help=help)


def _flow_rows() -> tuple[SamplerSpec, ...]:
    """Issue 10's samplers of the shortcut model (desktopgen/sampling/flow.py)."""
    def row(name, label, steps, rng, guidance, help, guidance_at=()):
        return SamplerSpec(name=name, label=label, family="diffusion", model_kind="flow",
                           default_model="fmnist-flow", steps=steps, steps_range=rng,
                           guidance=guidance, guidance_range=GUIDANCE, temperature=1.0,
                           temperature_range=NO_TEMPERATURE, top_k=0, help=help,
                           guidance_at=guidance_at)
    return (
        row("flow-euler", "Flow matching (Euler)", 20, DIFFUSION_STEPS, 2.0,
            "Rectified flow, first-order steps along the learned velocity."),
        row("flow-heun", "Flow matching (Heun)", 10, Range(1, 500), 2.0,
            "Rectified flow, second-order steps: two network calls per step."),
        # Guidance by step count, from 1,000-sample evals of fmnist-flow (models/fmnist-flow/card.json):
        # 4 steps g=2 accuracy 0.988, FD 0.606 (g=1.5: 0.968, 0.478); 1 step g=1.5 0.902, FD 1.79
        # (g=2: 0.874, 2.55). Two steps take 1.5 like one (not measured at g=2).
        row("few-step", "Few-step (shortcut model)", 4, Range(1, 4), 2.0,
            "One network told its step size: 1 to 4 steps of size 1/steps (guidance 2, or 1.5 "
            "at 1-2 steps, by default).", guidance_at=((1, 1.5), (2, 1.5))),
    )


SAMPLERS: dict[str, SamplerSpec] = {s.name: s for s in (
    # Guidance 1.5 (1,000-sample CPU eval of fmnist-diffusion): accuracy 0.981, FD 0.446, within 2x
    # the floor (0.319); guidance 2 gave 0.994, FD 0.803 (H200). DDIM and DDPM keep 2 (not measured
    # at 1.5).
    _diffusion("dpmpp-2m", "DPM-Solver++ (2M)", 20,
               "Second-order multistep solver: good images in few steps.", guidance=1.5),
    _diffusion("ddim", "DDIM", 20, "Deterministic first-order steps: the same noise, the same image."),
    _diffusion("ddpm", "DDPM (ancestral)", 20,
               "Fresh noise at every step: needs many steps (50 and more)."),
    *_flow_rows(),
    SamplerSpec(name="pixel", label="Pixel by pixel (raster)", family="ar", model_kind="pixel-ar",
                default_model="fmnist-pixel-ar", steps=0, steps_range=Range(784, 784),
                guidance=1.5, guidance_range=GUIDANCE, temperature=1.0,
                temperature_range=Range(0.05, 5.0), top_k=0,
                help="One pixel per step in raster order: 28 x 28 = 784 steps, always."),
    SamplerSpec(name="tokens", label="Tokens (raster)", family="ar", model_kind="token-ar",
                default_model="fmnist-token-ar-14-6", steps=0, steps_range=Range(49, 196),
                guidance=1.4, guidance_range=GUIDANCE, temperature=1.0,
                temperature_range=Range(0.05, 5.0), top_k=0, guidance_at=((49, 2.0),),
                help="One learned token per step in raster order, then decoded: 14 x 14 = 196 steps "
                "(fmnist-token-ar-14-6: 6 blocks; fmnist-token-ar-14: 8 blocks, slower), 7 x 7 = 49 "
                "(fmnist-token-ar: faster, coarser)."),
)}
SAMPLERS["maskgit"] = SamplerSpec(
    name="maskgit", label="Masked tokens (MaskGIT)", family="ar", model_kind="maskgit",
    default_model="fmnist-maskgit", steps=10, steps_range=Range(1, 49), guidance=2.0,
    guidance_range=GUIDANCE, temperature=1.0, temperature_range=Range(0.05, 5.0), top_k=0,
    help="All 7 x 7 tokens start masked; each step commits the most confident, cosine schedule.")


# The model kinds each sampler's model_kind accepts (the engine's check in sampling.sample): the
# inpainting U-Net also makes whole images (an all-hole mask). Kinds not listed accept only themselves.
RUNS_ON = {"diffusion-unet": ("diffusion-unet", "diffusion-inpaint")}


def fits(spec: SamplerSpec, model_kind: str) -> bool:
    """Whether a model of `model_kind` can run sampler `spec`."""
    return model_kind in RUNS_ON.get(spec.model_kind, (spec.model_kind,))


def samplers_for(family: str) -> list[SamplerSpec]:
    """The family's samplers, its default first."""
    if family not in FAMILIES:
        raise RequestError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    return [s for s in SAMPLERS.values() if s.family == family]


def default_sampler(family: str) -> SamplerSpec:
    return samplers_for(family)[0]


def get_sampler(name: str) -> SamplerSpec:
    try:
        return SAMPLERS[name]
    except KeyError:
        raise RequestError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}") from None
