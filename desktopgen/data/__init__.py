"""Data: the Fashion-MNIST IDX reader and user-image import."""
