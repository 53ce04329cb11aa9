"""Claim 2: speed. Time per image against resolution for the shipped architectures (random
weights; showdown/scaling.py), and at 28x28 the time each family needs to reach equal quality
(from claim 1's rows when it ran)."""

from __future__ import annotations

from desktopgen.showdown import base, figures, scaling

ID = "speed"
TITLE = "2. Speed vs resolution"
CLAIM = 'Speed: "~50-100 steps vs 65,536; diffusion can be 100x faster".'
MEASURES = ("Seconds per image at batch 1 (and larger batches) of pixel AR (one step per pixel) "
            "and the diffusion U-Net (20 steps, guidance), the same architectures as shipped "
            "scaled to each resolution with random weights; few-step (4 steps) beside them, and "
            "in the full run token AR and MaskGIT (with the tokenizer's decoder). "
            "At 28x28: seconds per image of each family's fastest sampler within 0.02 of the "
            "lower of the two families' best class accuracy (claim 1).")
RULE = ("r = AR seconds per image / diffusion seconds per image at batch 1, at the largest "
        "resolution measured. Holds: r >= 50 (the order of the claimed 100x). Does not hold: "
        "r < 5. Else mixed.")
NEEDS = "nothing shipped (random weights); claim 1's rows for the equal-quality times"


def experiment(ctx: base.Context) -> dict:
    points = scaling.measure_all(ctx, ctx.settings.batches)
    out = {"points": points, "device": str(ctx.device)}
    rows = (ctx.shared.get("quality_rows") or [])
    if rows:
        out["equal_quality"] = equal_quality(rows)
    return out


def equal_quality(rows: list[dict], slack: float = 0.02) -> dict:
    """Per family, the fastest row whose accuracy is within `slack` of the lower of the two
    families' best accuracies."""
    best = {f: max((r["accuracy"] for r in rows if r["family"] == f), default=None)
            for f in ("diffusion", "ar")}
    if None in best.values():
        return {}
    target = min(best.values()) - slack
    out = {"target_accuracy": target}
    for f in best:
        ok = [r for r in rows if r["family"] == f and r["accuracy"] >= target]
        fast = min(ok, key=lambda r: r["seconds_per_image"])
        out[f] = {"sampler": fast["sampler"], "seconds_per_image": fast["seconds_per_image"],
                  "accuracy": fast["accuracy"]}
    return out


def ratios(points: list[dict], batch: int = 1, kind: str = "pixel-ar") -> dict:
    """resolution -> `kind` (an AR) / diffusion seconds per image at `batch`."""
    t = {(p["kind"], p["res"]): p.get("seconds_per_image") for p in points if p.get("batch") == batch}
    out = {}
    for (k, res), v in t.items():
        d = t.get(("diffusion-unet", res))
        if k == kind and v and d:
            out[res] = v / d
    return out


def verdict(numbers: dict) -> tuple[str, str]:
    r = ratios(numbers.get("points") or [])
    if not r:
        return base.needs("pixel AR and diffusion U-Net timings at batch 1")
    top = max(r)
    ratio = r[top]
    text = (f"at {top}x{top} (the largest measured here) pixel AR takes {ratio:.1f}x as long as "
            f"20 diffusion steps per image at batch 1; at {min(r)}x{min(r)}: {r[min(r)]:.1f}x")
    tok = ratios(numbers.get("points") or [], kind="token-ar")
    if top in tok:
        text += f"; token AR at {top}x{top}: {tok[top]:.1f}x"
    eq = numbers.get("equal_quality") or {}
    if eq:
        text += (f"; at 28x28 for equal quality: diffusion {eq['diffusion']['seconds_per_image']:.3g}"
                 f" s ({eq['diffusion']['sampler']}), AR {eq['ar']['seconds_per_image']:.3g} s "
                 f"({eq['ar']['sampler']})")
    if ratio >= 50:
        return base.HOLDS, text
    if ratio < 5:
        return base.NOT_HOLD, text
    return base.MIXED, text


def figure(numbers: dict):
    points = [p for p in numbers.get("points") or [] if p.get("seconds_per_image")]
    if not points:
        return None
    fig, (ax1, ax2) = figures.new(2)
    colors = figures.KIND_COLORS
    for (kind, batch) in sorted({(p["kind"], p["batch"]) for p in points}):
        ps = sorted((p for p in points if p["kind"] == kind and p["batch"] == batch),
                    key=lambda p: p["res"])
        ax1.plot([p["res"] for p in ps], [p["seconds_per_image"] for p in ps], marker="o",
                 color=colors.get(kind, "#2ca02c"), ls="-" if batch == 1 else ":",
                 label=f"{ps[0]['label']}, batch {batch}")
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("image side (pixels)")
    ax1.set_ylabel("seconds per image (log)")
    ax1.legend(fontsize=6)
    r = ratios(points)
    ax2.plot(list(r), list(r.values()), marker="o", color="k")
    ax2.axhline(100, color=figures.COLORS["floor"], ls="--", lw=1, label="the claimed 100x")
    ax2.set_xscale("log", base=2)
    ax2.set_yscale("log")
    ax2.set_xlabel("image side (pixels)")
    ax2.set_ylabel("AR time / diffusion time (batch 1)")
    ax2.legend(fontsize=7)
    figures.note(ax1, "random weights; extrapolated from timed steps")
    return fig
