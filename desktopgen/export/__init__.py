"""Export: PNG with the recipe embedded, NPZ arrays, process clips and side-by-side composites.

images.py     grids, nearest-neighbour upscale, atomic writes, `export_image` (PNG/WebP/JPEG + recipe)
recall.py     `read_recipe(path)`: an exported image back into SampleRequests
composite.py  frame drawing (panels, labels, overlays, side-by-side layout) with PIL, no Qt
clips.py      `export_clip(...)`: MP4/GIF/WebP from RunTraces, a generator yielding progress
record.py     run a sampler while recording its RunTrace
"""
