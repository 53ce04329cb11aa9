"""`desktopgen eval`: the quality table of a model (DESIGN.md "Quality"), optionally as JSON or
written into the model's card."""

from __future__ import annotations

import argparse
import sys

from desktopgen.commands._args import add_sampling_args, check_out, number
from desktopgen.core.jsonable import jsonable


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="print the quality table of a model")
    p.add_argument("--family", required=True, choices=("diffusion", "ar", "classifier", "tokenizer"),
                   help="tokenizer: reconstructions of --model (default fmnist-tokenizer)")
    add_sampling_args(p, family_required=False)
    p.add_argument("--n", type=number(int, 10, 10000, "n"), default=1000)
    p.add_argument("--batch", type=number(int, 1, 2000, "batch"), default=500)
    p.add_argument("--data", default=None, help="Fashion-MNIST folder")
    p.add_argument("--sweep", action="store_true", help="every sampler x steps x guidance")
    p.add_argument("--classifier", default="fmnist-classifier")
    p.add_argument("--update-card", action="store_true", help="write the table into the card")
    p.add_argument("--json", default=None, help="also write the results as JSON here (.json)")
    p.add_argument("--overwrite", action="store_true", help="--json may replace an existing file")


def config(a: argparse.Namespace):
    from desktopgen.engine import EvalConfig

    return EvalConfig(family=a.family, model=a.model, sampler=a.sampler, steps=a.steps, guidance=a.guidance,
                      temperature=a.temperature, top_k=a.top_k, class_label=a.class_label, seed=a.seed,
                      n=a.n, batch=a.batch, sweep=a.sweep, classifier=a.classifier, data=a.data,
                      device=a.device)


def run(a: argparse.Namespace) -> int:
    json_out = check_out(a.json, (".json",), a.overwrite, "--json") if a.json else None  # before the work
    cfg = config(a)
    for w in cfg.warnings():
        print(f"warning: {w}", file=sys.stderr)

    from desktopgen.commands import _progress
    from desktopgen.core import atomic, checkpoints
    from desktopgen.engine import evaluate

    if a.family == "tokenizer":
        from desktopgen.metrics.tokens import run_eval

        results = run_eval(a.model or "fmnist-tokenizer", a.classifier, a.data, a.device, a.n)
    else:
        with _progress.bar(None, "sampling") as bar:
            results = evaluate(cfg, on_event=_progress.on_step(bar))
    if json_out is not None:
        atomic.write_json(json_out, jsonable(results), overwrite=a.overwrite)
        print(f"wrote {json_out}")
    if a.update_card:
        folder = checkpoints.resolve(results["model"])
        card = checkpoints.read_card(str(folder))
        card["metrics"] = jsonable(results)
        atomic.write_json(folder / checkpoints.CARD, card, overwrite=True)
        print(f"updated {folder / checkpoints.CARD}")
    return 0
