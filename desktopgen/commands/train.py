"""`desktopgen train`: train one of the project's models (use torchrun for several GPUs)."""

from __future__ import annotations

import argparse

from desktopgen.commands._args import UsageError, add_device_arg, number


def register(subparsers) -> None:
    t = subparsers.add_parser("train", help="train a model (use torchrun for several GPUs)")
    t.add_argument("model", choices=("diffusion", "ar", "classifier", "flow", "shortcut", "inpaint",
                                     "tokenizer", "tokenizer-decoder", "token-ar", "maskgit", "video-ar",
                                     "video-diffusion", "video-decoder"))
    t.add_argument("--data", default=None, help="Fashion-MNIST folder")
    t.add_argument("--out", required=True, help="model folder to write, e.g. models/fmnist-diffusion")
    t.add_argument("--steps", type=number(int, 1, 10**7, "steps"), default=10_000)
    t.add_argument("--minutes", type=number(float, 0, 10**5, "minutes"), default=0.0)
    t.add_argument("--batch", type=number(int, 0, 65536, "batch"), default=0)
    t.add_argument("--lr", type=number(float, 0, 1, "lr"), default=0.0)
    t.add_argument("--checkpoint-every", type=number(int, 1, 10**7, "checkpoint-every"), default=1000)
    t.add_argument("--seed", type=number(int, 0, 2**31, "seed"), default=0)
    add_device_arg(t)
    t.add_argument("--resume", action="store_true")
    t.add_argument("--arch", default=None, help='network overrides as JSON, e.g. \'{"n_layer": 4}\'')
    t.add_argument("--limit", type=number(int, 0, 60000, "limit"), default=0)
    t.add_argument("--init-from", default="",
                   help="start from this model's weights (a fine-tuning run; --arch changes "
                        "keys of its config); tokenizer-decoder, video-decoder: the tokenizer whose "
                        "codes stay")
    t.add_argument("--adversarial", type=number(float, 0, 10, "adversarial"), default=0.0,
                   help="tokenizer-decoder, video-decoder: weight of a GAN loss beside the "
                        "reconstruction (0: none)")
    t.add_argument("--teacher", default="",
                   help="token-ar: a trained token AR to distil from (same tokenizer); the new "
                        "model starts from its embeddings, head and evenly spaced blocks")
    t.add_argument("--distill", type=number(float, 0, 1, "distill"), default=None,
                   help="with --teacher: the weight of the teacher's distribution in the target "
                        "(the rest on the true code; default 0.8)")
    t.add_argument("--tokenizer", default=None,
                   help="token-ar: the tokenizer model folder (same as --arch '{\"tokenizer\": ...}')")


def run(a: argparse.Namespace) -> int:
    from desktopgen.core.requests import RequestError, strict_json

    try:
        arch = strict_json(a.arch) if a.arch else None
    except RequestError as e:
        raise UsageError(f"--arch: {e}") from None
    if a.tokenizer is not None:
        if a.model != "token-ar":
            raise UsageError("--tokenizer is for train token-ar only")
        arch = {} if arch is None else arch
        if isinstance(arch, dict):  # anything else is refused by check_arch below
            arch = {**arch, "tokenizer": a.tokenizer}

    if a.distill is not None and not a.teacher:
        raise UsageError("--distill needs --teacher")
    from desktopgen import nets
    from desktopgen.train.recipes import check_arch

    try:  # known keys and bounded values, before any data or network exists
        arch = check_arch(a.model, arch) if arch is not None else None
    except nets.ConfigError as e:
        raise UsageError(f"--arch: {e}") from None
    from desktopgen.train.loop import TrainConfig, train

    train(TrainConfig(model=a.model, out=a.out, data=a.data, steps=a.steps, minutes=a.minutes,
                      batch=a.batch, lr=a.lr, checkpoint_every=a.checkpoint_every, seed=a.seed,
                      device=a.device, resume=a.resume, arch=arch, limit=a.limit,
                      init_from=a.init_from, adversarial=a.adversarial, teacher=a.teacher,
                      **({} if a.distill is None else {"distill": a.distill})))
    return 0
