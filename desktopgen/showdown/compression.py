"""Claim 8: compression. Model sizes from the cards; pixel AR's bits per dimension on test images
(what arithmetic coding with the model would take) against per-image zlib, LZMA and PNG; the
tokenizer's compression ratio against its reconstruction quality, when it is shipped."""

from __future__ import annotations

import io
import lzma
import math
import zlib

from desktopgen.showdown import base, figures, likelihood

ID = "compression"
TITLE = "8. Compression: model sizes, bits per dimension, tokenizer"
CLAIM = '"AR models can be very compact; VQ-VAE achieves extreme compression".'
MEASURES = ("Parameters and weight bytes of every shipped model; pixel AR's NLL in bits per "
            "dimension on n test images against zlib, LZMA and PNG on the same images one by one; "
            "the tokenizer's bits per image (tokens x log2 codebook) and its reconstructions' "
            "MSE and class accuracy.")
RULE = ("A (AR compresses): AR's bits/dim is below 0.9x the best classical compressor's. B (VQ): "
        "the tokenizer compresses at least 20x and its reconstructions' class accuracy is within "
        "0.05 of the originals'. Holds: A and B. Does not hold: neither. Else mixed. Without a "
        "tokenizer the verdict is A's alone, and the reason says the VQ-VAE half is not measured.")
NEEDS = "models/fmnist-pixel-ar; models/fmnist-tokenizer for the VQ-VAE half (issue 9)"
TOKENIZER = "fmnist-tokenizer"


def classical_bits(images) -> dict:
    """Bits per pixel of each image compressed alone, averaged: zlib -9, LZMA -9e, PNG (optimised)."""
    from PIL import Image

    n_pix = images[0].size * len(images)
    totals = {"zlib": 0, "lzma": 0, "png": 0}
    for im in images:
        raw = im.tobytes()
        totals["zlib"] += len(zlib.compress(raw, 9))
        totals["lzma"] += len(lzma.compress(raw, format=lzma.FORMAT_RAW, filters=[  # no container
            {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]))
        buf = io.BytesIO()
        Image.fromarray(im).save(buf, format="PNG", optimize=True)
        totals["png"] += len(buf.getvalue())
    return {k: 8 * v / n_pix for k, v in totals.items()}


def tokenizer_row(ctx) -> dict | None:
    import numpy as np
    import torch

    from desktopgen import metrics
    from desktopgen.core import checkpoints

    if not base.model_present(TOKENIZER):
        return None
    tok, card = checkpoints.load_model(TOKENIZER, ctx.device)
    x, y = ctx.test_set()
    x, y = x[: ctx.settings.nll_n * 4], y[: ctx.settings.nll_n * 4]
    with torch.no_grad():
        t = torch.as_tensor(x, device=ctx.device).float()[:, None] / 127.5 - 1
        codes = tok.encode(t)
        rec = tok.decode(codes).clamp(-1, 1)
    rec = ((rec[:, 0].float().cpu().numpy() + 1) * 127.5).round().astype(np.uint8)
    bits = codes[0].numel() * math.log2(tok.codebook_size)
    acc = float((metrics.classify(ctx.classifier(), rec, ctx.device)[0] == y).mean())
    orig = float((metrics.classify(ctx.classifier(), x, ctx.device)[0] == y).mean())
    return {"name": TOKENIZER, "tokens": list(codes.shape[1:]), "codebook": int(tok.codebook_size),
            "bits_per_image": bits, "ratio": 784 * 8 / bits, "bits_per_dim": bits / 784,
            "mse": float((((rec.astype("float64") - x) / 255) ** 2).mean()),
            "accuracy": acc, "original_accuracy": orig, "n": len(x)}


def experiment(ctx: base.Context) -> dict:
    from desktopgen.core import checkpoints

    sizes = {}
    names = {s.default_model for s in base.runnable_samplers()[0]} | {"fmnist-classifier", TOKENIZER}
    for name in sorted(names):
        if base.model_present(name):
            card = checkpoints.read_card(name)
            sizes[name] = {"parameters": card.get("parameters"), "weights_bytes": card.get("weights_bytes")}
    ctx.progress(0.2, "pixel AR bits per dimension")
    nll = likelihood.real_row_nll(ctx)
    x = ctx.test_set()[0][: ctx.settings.nll_n]
    ctx.progress(0.6, "zlib, LZMA, PNG")
    out = {"sizes": sizes, "n": len(x), "classical": classical_bits(x),
           "ar_bits_per_dim": None if nll is None else float(nll.mean())}
    ctx.progress(0.8, "tokenizer")
    out["tokenizer"] = tokenizer_row(ctx)
    return out


def verdict(numbers: dict) -> tuple[str, str]:
    ar, cl, tok = numbers.get("ar_bits_per_dim"), numbers.get("classical") or {}, numbers.get("tokenizer")
    if ar is None or not cl:
        return base.needs("models/fmnist-pixel-ar for bits per dimension")
    best_name = min(cl, key=cl.get)
    a = ar < 0.9 * cl[best_name]
    text = (f"pixel AR codes test images in {ar:.2f} bits/dim vs {best_name} {cl[best_name]:.2f} "
            f"(n={numbers.get('n')}; the model's own {_mb(numbers, 'fmnist-pixel-ar')} not counted)")
    if tok is None:
        return (base.HOLDS if a else base.NOT_HOLD), text + ("; the VQ-VAE half is not measured: "
                                                             f"needs models/{TOKENIZER} (issue 9)")
    b = tok["ratio"] >= 20 and tok["accuracy"] >= tok["original_accuracy"] - 0.05
    text += (f"; tokenizer {tok['ratio']:.0f}x ({tok['bits_per_image']:.0f} bits/image), "
             f"reconstructions' accuracy {tok['accuracy']:.3f} vs originals {tok['original_accuracy']:.3f}")
    if a and b:
        return base.HOLDS, text
    if not a and not b:
        return base.NOT_HOLD, text
    return base.MIXED, text


def _mb(numbers, name) -> str:
    s = (numbers.get("sizes") or {}).get(name) or {}
    return f"{s['weights_bytes'] / 1e6:.1f} MB of weights" if s.get("weights_bytes") else "weights"


def figure(numbers: dict):
    cl = numbers.get("classical") or {}
    if not cl:
        return None
    fig, (ax1, ax2) = figures.new(2)
    names = list(cl) + (["pixel AR"] if numbers.get("ar_bits_per_dim") is not None else [])
    vals = list(cl.values()) + ([numbers["ar_bits_per_dim"]] if len(names) > len(cl) else [])
    tok = numbers.get("tokenizer")
    if tok:
        names.append("tokenizer")
        vals.append(tok["bits_per_dim"])
    cols = [figures.COLORS["floor"]] * len(cl) + [figures.color("ar")] * (len(names) - len(cl))
    ax1.bar(range(len(vals)), vals, color=cols)
    ax1.axhline(8, color="k", ls=":", lw=1, label="raw: 8 bits")
    ax1.set_xticks(range(len(vals)), names, fontsize=8)
    ax1.set_ylabel("bits per pixel")
    ax1.legend(fontsize=7)
    sizes = numbers.get("sizes") or {}
    ax2.barh(list(sizes), [(s.get("weights_bytes") or 0) / 1e6 for s in sizes.values()])
    ax2.set_xlabel("weights, MB")
    ax2.tick_params(axis="y", labelsize=7)
    figures.note(ax1, f"n={numbers.get('n')} test images")
    return fig
