"""Pick the tokenizer whose test reconstructions the classifier reads best (then the lowest MSE)
among evaluated candidates (`desktopgen eval --family tokenizer --model NAME --update-card` first)
and copy it to models/fmnist-tokenizer; its card's `selection` records every candidate's figures
and the rule. With --incumbent, the shipped tokenizer is a candidate too, and a newcomer replaces
it only when it beats it by --margin (then the incumbent is kept as models/<incumbent>-prev, for
the models trained on it).

    PYTHONPATH=. python tools/pick_tokenizer.py fmnist-tokenizer-fsq fmnist-tokenizer-vq
    PYTHONPATH=. python tools/pick_tokenizer.py tokA tokB --incumbent fmnist-tokenizer --margin 0.007

Candidates whose weights exceed --max-mb (the project's 20 MB) are listed and never picked.
Prints one line per candidate; exit status 0 when models/fmnist-tokenizer was (re)written,
3 when the incumbent stays, 1 when no candidate was evaluated (or all were too large).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from desktopgen.core.checkpoints import atomic_write_text

FILES = ("weights.safetensors", "config.json", "card.json")
MAX_MB = 20.0  # the project's limit on a shipped model's weights
RULE = "highest classifier accuracy on the 10k test reconstructions (then lowest MSE)"


def figures(name: str) -> dict | None:
    """A candidate's evaluated figures from its card, None when it has none."""
    path = Path("models") / name / "card.json"
    if not path.is_file():
        return None
    card = json.loads(path.read_text())
    m = card.get("metrics") or {}
    if "test_reconstruction_accuracy" not in m:
        return None
    cfg = json.loads((path.parent / "config.json").read_text())["config"]
    return {"model": name, "steps": card["steps"], "wall_time_s": card["wall_time_s"],
            "parameters": card["parameters"], "weights_bytes": card["weights_bytes"],
            "config": cfg,
            **{k: m[k] for k in ("test_reconstruction_accuracy", "test_mse", "test_mse_48x48",
                                 "test_label_agreement")},
            "codebook_used": m["codebook_usage_test"]["fraction_used"],
            "codebook_perplexity": m["codebook_usage_test"]["perplexity"],
            "fd_train_reconstructions": m["train_reconstructions_vs_test"]["fd"]}


def score(t: dict) -> tuple[float, float]:
    return t["test_reconstruction_accuracy"], -t["test_mse"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("candidates", nargs="+")
    p.add_argument("--out", default="fmnist-tokenizer")
    p.add_argument("--incumbent", default="", help="the shipped tokenizer, a candidate to beat")
    p.add_argument("--margin", type=float, default=0.0, help="accuracy a newcomer must gain over it")
    p.add_argument("--max-mb", type=float, default=MAX_MB,
                   help="weights over this many MB (10^6 bytes) are reported, never picked")
    a = p.parse_args(argv)
    tried = {n: t for n in a.candidates if (t := figures(n)) is not None}
    for n in a.candidates:
        if n not in tried:
            print(f"{n}: no evaluation (see the logs)")
    for n, t in list(tried.items()):
        if t["weights_bytes"] > a.max_mb * 1e6:
            mb = t["weights_bytes"] / 1e6
            print(f"{n}: weights {mb:.1f} MB, over the {a.max_mb:g} MB limit: not a candidate")
            del tried[n]
    if not tried:
        print("no tokenizer was evaluated (within the size limit)")
        return 1
    best = max(tried, key=lambda n: score(tried[n]))
    inc = figures(a.incumbent) if a.incumbent else None
    keep = inc is not None and (tried[best]["test_reconstruction_accuracy"]
                                < inc["test_reconstruction_accuracy"] + a.margin)
    for n, t in tried.items():
        print(f"{n}: recon accuracy {t['test_reconstruction_accuracy']:.4f}, MSE {t['test_mse']:.4f} "
              f"(48x48 {t['test_mse_48x48']:.4f}), codebook used {t['codebook_used']:.1%}, "
              f"perplexity {t['codebook_perplexity']:.0f}, FD {t['fd_train_reconstructions']:.3f}, "
              f"{t['weights_bytes'] / 1e6:.1f} MB{' <- best' if n == best else ''}")
    if inc is not None:
        print(f"incumbent {a.incumbent}: recon accuracy {inc['test_reconstruction_accuracy']:.4f}; "
              f"margin {a.margin}: {'kept' if keep else 'replaced by ' + best}")
    if keep:
        return 3
    dst = Path("models") / a.out
    if inc is not None:
        prev = Path("models") / f"{a.incumbent}-prev"
        shutil.rmtree(prev, ignore_errors=True)
        shutil.copytree(Path("models") / a.incumbent, prev)
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for f in FILES:
        shutil.copy(Path("models") / best / f, dst / f)
    card = json.loads((dst / "card.json").read_text())
    card["metrics"]["model"] = a.out
    selection = {"picked": best, "rule": RULE, "tried": tried}
    if inc is not None:
        selection.update(incumbent=inc, margin=a.margin)
    card["selection"] = selection
    atomic_write_text(dst / "card.json", json.dumps(card, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
