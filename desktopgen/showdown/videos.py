"""Video clips for claims 6 and 7, through issue 11's headless contract: `desktopgen video
--family F --frames T --n N --seed S --device D --out clips.npz` (videos (N, T, 48, 48) uint8,
labels (N,)); and the drift figures per frame from desktopgen.metrics.drift: class consistency
(the classifier on a 28x28 crop around the garment's intensity centroid agrees with the prompt),
identity (cosine similarity of classifier features between frame t and frame 1), motion error."""

from __future__ import annotations

import time

from desktopgen.showdown import base

WAITING = ("a joint video diffusion model and a frame-by-frame video AR model shipped (issue 11: "
           "models/mfmnist-video-diffusion and models/mfmnist-video-ar, or sampler rows of model "
           "kinds video-diffusion / video-ar), and the `desktopgen video` subcommand")


def video_rows() -> dict:
    """family -> what makes its clips: the first sampler row of a video model kind whose model is
    shipped, else the family's shipped default video model (desktopgen.sampling.video: what
    `desktopgen video --family F` uses), as a row named after the model."""
    import types

    from desktopgen.sampling.video import DEFAULT_MODELS

    runnable, _ = base.runnable_samplers(video=True)
    out = {}
    for s in runnable:
        if "video" in s.model_kind:
            fam = s.family if s.family in ("diffusion", "ar") else (
                "ar" if "ar" in s.model_kind else "diffusion")
            out.setdefault(fam, s)
    for fam, model in DEFAULT_MODELS.items():
        if fam not in out and base.model_present(model):
            out[fam] = types.SimpleNamespace(name=model, family=fam, model_kind=f"video-{fam}",
                                             default_model=model)
    return out


def missing() -> str | None:
    """Why video cannot be measured here, or None."""
    from desktopgen import commands

    rows = video_rows()
    lacking = [f for f in ("diffusion", "ar") if f not in rows]
    if lacking:
        return WAITING + f" (missing here: {', '.join(lacking)})"
    if not any(m.__name__.endswith(".video") for m in commands.discover()):
        return WAITING + " (the subcommand is missing)"
    return None


def generate(ctx, family: str, frames: int, n: int, tmp) -> dict:
    """Run `desktopgen video` in this process; (videos, labels, seconds per clip incl. loading)."""
    import argparse
    import contextlib
    import io

    import numpy as np

    from desktopgen.commands import video as video_command

    out = f"{tmp}/{family}-{frames}.npz"
    parser = argparse.ArgumentParser(prog="desktopgen")  # the video subcommand alone: the CLI
    video_command.register(parser.add_subparsers(dest="command"))  # module would import the GUI
    steps = ["--steps", str(ctx.settings.video_steps)] if family == "diffusion" and \
        ctx.settings.video_steps else []
    a = parser.parse_args(["video", "--family", family, "--frames", str(frames), "--n", str(n),
                           "--seed", "0", "--device", ctx.settings.device, "--out", out, *steps])
    err = io.StringIO()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stderr(err):
            rc = video_command.run(a)
    except Exception as e:  # noqa: BLE001 (the claim reports it and the others go on)
        raise RuntimeError(f"desktopgen video --family {family} failed: {e}"[:300]) from e
    secs = time.perf_counter() - t0
    if rc:
        raise RuntimeError(f"desktopgen video --family {family} failed: {err.getvalue().strip()[:200]}")
    with np.load(out) as z:
        return {"videos": z["videos"], "labels": z["labels"], "seconds_per_clip": secs / n}


def drift(ctx, videos, labels) -> dict:
    """Per frame: class consistency, identity and motion error (desktopgen.metrics.drift, the
    video issue's measure), averaged over clips."""
    from desktopgen.metrics import drift as video_drift

    d = video_drift.drift(videos, labels, ctx.classifier(), ctx.device)
    return {"n": d["n"], "frames": d["frames"], "consistency": d["class_consistency"],
            "identity": d["identity"], "motion_error": d["motion_error"]}


def measure(ctx, frames: int, lo: float = 0.0, hi: float = 1.0) -> dict:
    """Drift and seconds per clip of `frames`-frame clips, both families. With
    settings.share_clips (--quick), clips of settings.video_long frames are made once and kept
    in ctx.shared: a shorter request (claim 6's 16 frames) uses their first frames (AR frames
    never see later ones; diffusion's first block is a 16-frame joint sample) and its seconds per
    clip are the long clip's scaled by frames (said in the numbers as `timed_on_frames`)."""
    import tempfile

    s = ctx.settings
    make = max(frames, s.video_long) if s.share_clips else frames
    cache = ctx.shared.setdefault("video_clips", {})
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, fam in enumerate(("diffusion", "ar")):
            key = (fam, make, s.video_n)
            if key not in cache:
                ctx.progress(lo + (hi - lo) * i / 2, f"{fam}: {s.video_n} clips of {make} frames")
                cache[key] = generate(ctx, fam, make, s.video_n, tmp)
            g = cache[key]
            out[fam] = drift(ctx, g["videos"][:, :frames], g["labels"]) | {
                "seconds_per_clip": g["seconds_per_clip"] * frames / make, "timed_on_frames": make,
                "sampler": video_rows()[fam].name}
    return out


def mean(xs) -> float:
    return sum(xs) / len(xs) if xs else float("nan")
