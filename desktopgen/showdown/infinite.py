"""Claim 7: infinite generation. Both families make clips four times their training length (64
frames): AR rolls on with a sliding context, diffusion extends block by block (issue 11); class
consistency of the last 16 frames against the first 16."""

from __future__ import annotations

from desktopgen.showdown import base, figures, videos

ID = "infinite"
TITLE = "7. Infinite generation: past the training length"
CLAIM = 'AR "can generate infinitely long sequences"; diffusion "has a fixed canvas size".'
MEASURES = ("64-frame clips of both families (trained on 16; 24 frames in --quick): class "
            "consistency and identity per frame; retention = consistency of the frames past 16 "
            "(the last 16 at most) / frames 1-16.")
RULE = ("Holds: AR's retention is at least 0.9 and diffusion's is below 0.9 (or it cannot make 64 "
        "frames). Does not hold: diffusion's retention is at least AR's. Else mixed.")
NEEDS = videos.WAITING + " with clips past 16 frames"
FRAMES = 64


def experiment(ctx: base.Context) -> dict:
    why = videos.missing()
    if why:
        return {"missing": why}
    frames = ctx.settings.video_long or FRAMES
    return {"frames": frames, "families": videos.measure(ctx, frames)}


def retention(f: dict) -> float:
    """Class consistency of the frames past the training length (the last 16 at most: 49-64 of a
    64-frame clip) over that of frames 1-16."""
    c = f["consistency"]
    early = videos.mean(c[:16])
    return videos.mean(c[max(16, len(c) - 16):]) / early if early else 0.0


def verdict(numbers: dict) -> tuple[str, str]:
    fams = numbers.get("families") or {}
    if "diffusion" not in fams or "ar" not in fams:
        return base.needs(numbers.get("missing") or videos.WAITING)
    rd, ra = retention(fams["diffusion"]), retention(fams["ar"])
    t = len(fams["ar"]["consistency"]) or numbers.get("frames", FRAMES)
    text = (f"class consistency kept from frames 1-16 to {max(17, t - 15)}-{t}: AR {ra:.2f}, "
            f"diffusion {rd:.2f} "
            f"(n={fams['ar']['n']} clips)")
    if ra >= 0.9 and rd < 0.9:
        return base.HOLDS, text
    if rd >= ra:
        return base.NOT_HOLD, text
    return base.MIXED, text


def figure(numbers: dict):
    fams = numbers.get("families") or {}
    if not fams:
        return None
    fig, (ax,) = figures.new(1)
    for fam, f in fams.items():
        ax.plot(range(1, len(f["consistency"]) + 1), f["consistency"], color=figures.color(fam), label=fam)
    ax.axvline(16.5, color=figures.COLORS["floor"], ls=":", lw=1, label="training length")
    ax.set_xlabel("frame")
    ax.set_ylabel("class consistency")
    ax.legend(fontsize=7)
    return fig
