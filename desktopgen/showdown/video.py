"""Claim 6: video. Joint video diffusion against frame-by-frame AR: class consistency and
identity per frame (showdown/videos.py), and time per clip."""

from __future__ import annotations

from desktopgen.showdown import base, figures, videos

ID = "video"
TITLE = "6. Video: consistency, drift, speed"
CLAIM = ('Video: AR "errors compound over time", it is "hard to maintain consistency" and "very '
         'slow"; diffusion has "better temporal consistency".')
MEASURES = ("16-frame clips of both families (n clips each): class consistency and identity per "
            "frame index, and seconds per clip (including model loading). --quick reads the first "
            "16 frames of claim 7's clips and scales their time to 16 frames.")
RULE = ("Holds: diffusion's mean class consistency is above AR's by more than 2 standard errors "
        "and AR takes longer per clip. Does not hold: AR's consistency is above diffusion's by "
        "more than 2 standard errors or equal to within 0.03, and AR's last 4 frames are not "
        "below its first 4 (by 2 standard errors). Else mixed.")
NEEDS = videos.WAITING
FRAMES = 16


def experiment(ctx: base.Context) -> dict:
    why = videos.missing()
    if why:
        return {"missing": why}
    return {"frames": FRAMES, "families": videos.measure(ctx, FRAMES)}


def verdict(numbers: dict) -> tuple[str, str]:
    fams = numbers.get("families") or {}
    if "diffusion" not in fams or "ar" not in fams:
        return base.needs(numbers.get("missing") or videos.WAITING)
    d, a = fams["diffusion"], fams["ar"]
    n_d, n_a = d["n"] * d["frames"], a["n"] * a["frames"]
    cd, ca = videos.mean(d["consistency"]), videos.mean(a["consistency"])
    better = base.differs(cd, n_d, ca, n_a) > 0
    slower = a["seconds_per_clip"] > d["seconds_per_clip"]
    early, late = videos.mean(a["consistency"][:4]), videos.mean(a["consistency"][-4:])
    compounds = base.differs(late, 4 * a["n"], early, 4 * a["n"]) < 0
    text = (f"class consistency diffusion {cd:.2f} vs AR {ca:.2f} (n={d['n']} clips); AR's first "
            f"4 frames {early:.2f}, last 4 {late:.2f}; seconds per clip diffusion "
            f"{d['seconds_per_clip']:.2f}, AR {a['seconds_per_clip']:.2f}")
    if better and slower:
        return base.HOLDS, text
    vs = base.differs(cd, n_d, ca, n_a)
    against = vs < 0 or (vs == 0 and base.precise(cd, n_d, ca, n_a))
    if against and not compounds:
        return base.NOT_HOLD, text
    return base.MIXED, text


def figure(numbers: dict):
    fams = numbers.get("families") or {}
    if not fams:
        return None
    fig, (ax1, ax2) = figures.new(2)
    for fam, f in fams.items():
        ax1.plot(range(1, len(f["consistency"]) + 1), f["consistency"], color=figures.color(fam), label=fam)
        ax2.plot(range(1, len(f["identity"]) + 1), f["identity"], color=figures.color(fam), label=fam)
    ax1.set_ylabel("class consistency")
    ax2.set_ylabel("identity (cosine to frame 1)")
    for ax in (ax1, ax2):
        ax.set_xlabel("frame")
        ax.legend(fontsize=7)
    return fig
