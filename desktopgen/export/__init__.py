"""Export: PNG with the recipe embedded, NPZ arrays, process clips and side-by-side composites."""
