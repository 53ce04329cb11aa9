"""Static report figures: matplotlib's Agg backend (no display, no Qt), PNG bytes out."""

from __future__ import annotations

import io

COLORS = {"diffusion": "#1f77b4", "ar": "#d62728", "floor": "#7f7f7f"}
KIND_COLORS = {"diffusion-unet": "#1f77b4", "flow": "#2ca02c", "pixel-ar": "#d62728",
               "token-ar": "#9467bd", "maskgit": "#8c564b"}


def new(ncols: int = 1, width: float = 5.0, height: float = 3.4):
    """A figure with `ncols` axes side by side (Agg canvas; never touches a GUI toolkit)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height), dpi=100)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def png_bytes(fig) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def color(family: str) -> str:
    return COLORS.get(family, "#2ca02c")


def note(ax, text: str) -> None:
    """A grey remark in the axes' corner (e.g. 'n=12: noisy')."""
    ax.text(0.99, 0.01, text, transform=ax.transAxes, ha="right", va="bottom", fontsize=7,
            color="#555555")
