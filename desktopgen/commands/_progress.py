"""Progress bars for the CLI (tqdm): per step, with rate and ETA, on stderr, and silent when
stderr is not a terminal (logs and pipes get the final "wrote ..." line only)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def bar(total: int, desc: str, unit: str = "step"):
    return tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, disable=None, dynamic_ncols=True,
                leave=True, smoothing=0.1)


def on_step(progress):
    """An engine `on_event` callback advancing `progress` by one per sampler step."""
    return lambda event: progress.update(1)


def on_frames(desc: str):
    """A `progress(done, total)` callback for clip writing (frames, then the final encode)."""
    state = {}

    def show(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = bar(total, desc, unit="frame")
        b = state["bar"]
        b.update(done - b.n)
        if done >= total:
            b.close()
    return show
