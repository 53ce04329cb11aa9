"""The Showdown: each claim of the diffusion-vs-AR write-ups measured on this machine, given a
verdict by a rule written before running, with its figure; one self-contained HTML report.

One module per claim (see showdown/base.py for what each exposes); `runner.run` measures them in
order with progress and cancel; `report.write` saves the HTML and the JSON. No Qt here."""

from __future__ import annotations

from desktopgen.showdown import (
    compression,
    infinite,
    inpainting,
    memory,
    quality,
    speed,
    stability,
    trends,
    video,
)

CLAIMS = (quality, speed, inpainting, memory, stability, video, infinite, compression, trends)
BY_ID = {c.ID: c for c in CLAIMS}
