"""The tokenizer's card metrics, the ceiling of every token model: how well test images survive
encode -> decode (MSE, the classifier's accuracy and FD), how much of the codebook the test set
uses, and the token transformer's NLL in bits per token."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from desktopgen.metrics import classify, quality


@torch.no_grad()
def reconstruct(tokenizer, images: np.ndarray, device="cpu", bs: int = 500):
    """uint8 (N, H, W) -> (reconstructions uint8 (N, H, W), codes (N, H/4, W/4) long on the CPU)."""
    recons, codes = [], []
    for i in range(0, len(images), bs):
        x = torch.as_tensor(images[i : i + bs], device=device).float()[:, None] / 127.5 - 1
        c = tokenizer.encode(x)
        y = tokenizer.decode(c)
        recons.append(((y[:, 0] + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu())
        codes.append(c.cpu())
    return torch.cat(recons).numpy(), torch.cat(codes)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error on the [-1, 1] scale the models work in."""
    return float((((a.astype(np.float64) - b.astype(np.float64)) / 127.5) ** 2).mean())


def on_canvas(images: np.ndarray, size: int = 48, seed: int = 0) -> np.ndarray:
    """Each image at a random place on a black size x size canvas (a video frame's setting)."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(images), size, size), np.uint8)
    for i, im in enumerate(images):
        y, x = rng.integers(0, size - 28 + 1, 2)
        out[i, y : y + 28, x : x + 28] = im
    return out


def evaluate_tokenizer(tokenizer, classifier, test_x, test_y, train_x, train_y, n: int = 1000,
                       device="cpu") -> dict:
    """The tokenizer's table (all 10k test images unless said otherwise):
    - reconstruction MSE on 28x28 test images, and on 1,000 of them placed on 48x48 canvases;
    - codebook usage of the test set's codes (fraction of codes used, perplexity);
    - the classifier's accuracy on the test reconstructions, beside its accuracy on the originals,
      and how often it says the same on both;
    - FD and KID of the reconstructions of n train images against the test features, beside the
      floor (the same n real train images against the test features): exactly what the
      tokenizer costs, since both sides are the same images."""
    from desktopgen.nets.tokenizer import codebook_usage

    recon, codes = reconstruct(tokenizer, test_x, device)
    test_pred, test_feats = classify(classifier, test_x, device)
    recon_pred, _ = classify(classifier, recon, device)
    big = on_canvas(test_x[:1000])
    big_recon, _ = reconstruct(tokenizer, big, device)
    pick = np.random.default_rng(0).choice(len(train_x), n, replace=False)
    train_recon, _ = reconstruct(tokenizer, train_x[pick], device)
    return {
        "tokens_per_image": list(codes.shape[1:]),
        "test_mse": mse(recon, test_x),
        "test_mse_48x48": mse(big_recon, big),
        "codebook_usage_test": codebook_usage(codes, tokenizer.codebook_size),
        "test_reconstruction_accuracy": float((recon_pred == test_y).mean()),
        "test_original_accuracy": float((test_pred == test_y).mean()),
        "test_label_agreement": float((recon_pred == test_pred).mean()),
        "train_reconstructions_vs_test": quality(classifier, train_recon, train_y[pick], test_feats, device),
        "floor_train_vs_test": quality(classifier, train_x[pick], train_y[pick], test_feats, device),
    }


def print_table(r: dict) -> None:
    u = r["codebook_usage_test"]
    print(f"tokens per image {'x'.join(map(str, r['tokens_per_image']))}; codebook {u['codebook_size']}: "
          f"{u['used']} used on the test set ({u['fraction_used']:.1%}), perplexity {u['perplexity']:.1f}")
    print(f"reconstruction MSE ([-1, 1] scale): test {r['test_mse']:.4f}, on 48x48 canvases "
          f"{r['test_mse_48x48']:.4f}")
    print(f"classifier accuracy: test reconstructions {r['test_reconstruction_accuracy']:.4f}, "
          f"the originals {r['test_original_accuracy']:.4f}; same label on both "
          f"{r['test_label_agreement']:.4f}")
    q, f = r["train_reconstructions_vs_test"], r["floor_train_vs_test"]
    print(f"{'':34s} {'n':>5s} {'acc':>6s} {'FD':>8s} {'KID':>9s}")
    for name, row in (("floor: real train vs test", f), ("train reconstructions vs test", q)):
        print(f"{name:34s} {row['n']:5d} {row['accuracy']:6.3f} {row['fd']:8.3f} {row['kid']:9.5f}")


@torch.no_grad()
def nll_bits_per_token(model, codes: torch.Tensor, labels: np.ndarray | None, device="cpu",
                       bs: int = 500) -> float:
    """Mean negative log-likelihood of token sequences (N, L) under the token transformer, in bits
    per token (labels None = the null class)."""
    total, count = 0.0, 0
    for i in range(0, len(codes), bs):
        c = codes[i : i + bs].to(device)
        if labels is None:
            y = torch.full((len(c),), model.config.num_classes, device=device)
        else:
            y = torch.as_tensor(labels[i : i + bs], device=device)
        logits = model(c, y).float()
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), c.reshape(-1), reduction="sum").item()
        count += c.numel()
    return total / count / math.log(2)


def token_nll(model, test_x, test_y, device="cpu") -> dict:
    """The token transformer's NLL on the test set's codes (under its own tokenizer)."""
    _, codes = reconstruct(model.tokenizer, test_x, device)
    codes = codes.flatten(1)
    return {"test_conditional_bits_per_token": nll_bits_per_token(model, codes, test_y, device),
            "test_unconditional_bits_per_token": nll_bits_per_token(model, codes, None, device),
            "note": "bits per token of the tokenizer's codes; not comparable with pixel bits/dim"}


def run_eval(name: str, classifier: str = "fmnist-classifier", data=None, device="auto",
             n: int = 1000) -> dict:
    """`desktopgen eval --family tokenizer`: load, measure, print; the table as a dict."""
    from desktopgen.core import checkpoints
    from desktopgen.core.device import device_name, pick_device
    from desktopgen.data import fmnist
    from desktopgen.nets import Tokenizer

    dev = pick_device(device)
    tokenizer, card = checkpoints.load_model(name, dev)
    if not isinstance(tokenizer, Tokenizer):
        raise checkpoints.CheckpointError(f"model {card['name']!r} is a {type(tokenizer).__name__}, "
                                          "not a tokenizer")
    clf, _ = checkpoints.load_model(classifier, dev)
    test_x, test_y = fmnist.load("test", data)
    train_x, train_y = fmnist.load("train", data)
    r = evaluate_tokenizer(tokenizer, clf, test_x, test_y, train_x, train_y, n, dev)
    r = {"model": card["name"], "classifier": classifier, "device": device_name(dev),
         "quantizer": tokenizer.config.quantizer, **r}
    print(f"tokenizer {card['name']} ({tokenizer.config.quantizer}), classifier {classifier}")
    print_table(r)
    return r
