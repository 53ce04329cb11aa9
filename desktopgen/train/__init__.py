"""Training: one shared loop (bf16 autocast, EMA, checkpoints, resume, DDP) and per-model recipes."""
