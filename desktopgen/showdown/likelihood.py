"""Pixel AR's teacher-forced likelihood per image row (claims 5 and 8 share it)."""

from __future__ import annotations

import math

from desktopgen.showdown import base


def row_nll(model, images, labels, device, bs: int = 64):
    """(N, 28) bits per pixel of each row of each image under the pixel AR model (teacher-forced)."""
    import numpy as np
    import torch
    import torch.nn.functional as F

    out = []
    with torch.no_grad():
        for i in range(0, len(images), bs):
            px = torch.as_tensor(images[i : i + bs], device=device).long().flatten(1)
            y = torch.as_tensor(labels[i : i + bs], device=device)
            logits = model(px, y).float()
            ce = F.cross_entropy(logits.transpose(1, 2), px, reduction="none")  # (B, 784) nats
            out.append((ce / math.log(2)).view(len(px), 28, 28).mean(2).cpu().numpy())
    return np.concatenate(out)


def pixel_ar(ctx):
    """(spec, model in float32) of the first pixel-AR sampler whose model is shipped, or None."""
    import copy

    import torch

    rows, _ = base.runnable_samplers("ar", kinds=("pixel-ar",))
    if not rows:
        return None
    def as_float():  # a copy: .float() converts in place, and sampling keeps its bf16 weights
        m = ctx.model(rows[0])[0]
        return m if next(m.parameters()).dtype == torch.float32 else copy.deepcopy(m).float()
    return rows[0], ctx.cached(f"float:{rows[0].default_model}", as_float)


def real_row_nll(ctx):
    """row_nll of the first nll_n test images, computed once per run (None without pixel AR)."""
    found = pixel_ar(ctx)
    if found is None:
        return None
    n = ctx.settings.nll_n
    x, y = ctx.test_set()
    return ctx.cached("ar_row_nll_real", lambda: row_nll(found[1], x[:n], y[:n], ctx.device))
