"""Export: PNG with the recipe embedded, NPZ arrays, process clips and side-by-side composites.

pixels.py     batch grids and crisp nearest-neighbour upscaling (shared by images and frames)
images.py     `export_image` (PNG/WebP/JPEG + recipe), `save_grid_png` / `save_npz` for the CLI
recall.py     `read_recipe(path)`: an exported image back into SampleRequests, plus warnings
composite.py  frame drawing (panels, labels, overlays, side-by-side layout) with PIL, no Qt
clips.py      `export_clip(...)`: MP4/GIF/WebP from RunTraces, a generator yielding progress
record.py     run a sampler while recording its RunTrace
Every file is written through desktopgen.core.atomic: complete or absent, never replacing a
file unless asked to.
"""
