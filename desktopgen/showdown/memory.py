"""Claim 4: memory. What each sampler must keep between steps (exact, from tensor sizes) and its
peak during a step (measured), against resolution and batch; the KV cache's share of AR's peak.
Same scaled random-weight architectures as claim 2 (showdown/scaling.py), measured once."""

from __future__ import annotations

from desktopgen.showdown import base, figures, scaling

ID = "memory"
TITLE = "4. Memory vs resolution and batch"
CLAIM = 'Memory: "AR only needs to store one pixel at a time".'
MEASURES = ("State kept between steps per image (pixel AR: its KV cache; diffusion: the sample and "
            "the solver's previous estimate) and peak memory during a step (CUDA allocator, or "
            "process RSS on a CPU: rough), at each resolution and batch; the KV cache's share of "
            "AR's peak.")
RULE = ("g = growth exponent of AR's state per image against the pixel count (log-log slope, "
        "batch 1). Holds: g < 0.25 (constant state: one pixel at a time) and AR's state is no "
        "larger than diffusion's at every resolution. Does not hold: g >= 0.75 (the state grows "
        "with the image). Else mixed.")
NEEDS = "nothing shipped (random weights)"


def experiment(ctx: base.Context) -> dict:
    return {"points": scaling.measure_all(ctx, ctx.settings.batches), "device": str(ctx.device)}


def _series(points, kind, batch=1):
    ps = sorted((p for p in points if p["kind"] == kind and p["batch"] == batch
                 and "state_bytes" in p), key=lambda p: p["res"])
    return ps


def verdict(numbers: dict) -> tuple[str, str]:
    pts = numbers.get("points") or []
    ar, diff = _series(pts, "pixel-ar"), _series(pts, "diffusion-unet")
    if len(ar) < 2 or not diff:
        return base.needs("pixel AR at two resolutions or more and the diffusion U-Net")
    g = base.log_slope([p["res"] ** 2 for p in ar], [p["state_bytes"] for p in ar])
    d_state = {p["res"]: p["state_bytes"] for p in diff}
    smaller = all(p["state_bytes"] <= d_state.get(p["res"], float("inf")) for p in ar)
    big = ar[-1]
    text = (f"AR's state grows as pixels^{g:.2f}: {_size(big['state_bytes'])} of KV cache per image "
            f"at {big['res']}x{big['res']} vs diffusion's {_size(d_state.get(big['res'], 0))}")
    if big.get("mem_kind") == "cuda" and big.get("peak_bytes", 0) > 0:
        text += f"; the cache is {big['state_bytes'] / big['peak_bytes']:.0%} of AR's measured peak"
    else:
        text += ("; peaks on a CPU are process RSS, rough (untouched cache pages do not count), so "
                 "the cache's share of the peak is not computed")
    if g < 0.25 and smaller:
        return base.HOLDS, text
    if g >= 0.75:
        return base.NOT_HOLD, text
    return base.MIXED, text


def _size(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} bytes"


def figure(numbers: dict):
    pts = [p for p in numbers.get("points") or [] if "state_bytes" in p]
    if not pts:
        return None
    fig, (ax1, ax2) = figures.new(2)
    colors = figures.KIND_COLORS
    for kind in [k for k in colors if k != "flow" and any(p["kind"] == k for p in pts)]:
        for batch in sorted({p["batch"] for p in pts}):
            ps = _series(pts, kind, batch)
            if not ps:
                continue
            style = "-" if batch == 1 else ":"
            xs = [p["res"] for p in ps]
            ax1.plot(xs, [p["state_bytes"] / batch / 2**20 for p in ps], marker="o", ls=style,
                     color=colors[kind], label=f"{kind}, batch {batch}")
            ax2.plot(xs, [max(p["peak_bytes"], 1) / 2**20 for p in ps], marker="o", ls=style,
                     color=colors[kind], label=f"{kind}, batch {batch}")
    for ax, label in ((ax1, "state kept between steps, MiB per image"),
                      (ax2, "peak during a step, MiB (whole batch)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("image side (pixels)")
        ax.set_ylabel(label, fontsize=8)
        ax.legend(fontsize=6)
    figures.note(ax2, f"peak: {pts[0].get('mem_kind', '')}")
    return fig
