"""Colours and names shared by the canvases, controls and plots (one colour per family)."""

COLORS = {"diffusion": "#3b8beb", "ar": "#f08c2e"}
NAMES = {"diffusion": "Diffusion", "ar": "Autoregressive"}
FAMILIES = ("diffusion", "ar")  # left, right
