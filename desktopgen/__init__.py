"""DesktopGen: diffusion and autoregressive image generators, side by side, live.

This module holds the version only; it imports nothing heavy so the window can appear before
torch has loaded.
"""

__version__ = "0.1.0"

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
