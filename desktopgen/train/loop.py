"""The one training loop every model shares.

bf16 autocast on CUDA, AdamW with warm-up and cosine decay (over steps or a wall-clock budget,
whichever ends first), an EMA of the weights (what ships), periodic checkpoints with resume, a
progress line with loss and ETA, and DistributedDataParallel when started by `torchrun`.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import save_file

from desktopgen import nets
from desktopgen.core import atomic, checkpoints
from desktopgen.core.device import autocast_dtype, device_name, pick_device
from desktopgen.data import fmnist
from desktopgen.train.recipes import RECIPES, check_arch

STATE = "state.safetensors"


@dataclass
class TrainConfig:
    model: str  # "diffusion" | "ar" | "classifier"
    out: str  # model folder to write (weights + config + card)
    data: str | None = None  # Fashion-MNIST folder (default: Debian's)
    steps: int = 10_000  # optimiser steps at most
    minutes: float = 0.0  # wall-clock budget (0 = none); the LR schedule follows whichever ends first
    batch: int = 0  # global batch (0 = the recipe's default)
    lr: float = 0.0  # peak learning rate (0 = the recipe's default)
    warmup: int = 200  # linear warm-up steps
    ema: float = 0.0  # EMA decay (0 = the recipe's default)
    weight_decay: float = -1.0  # (<0 = the recipe's default)
    checkpoint_every: int = 1000  # steps between resumable checkpoints
    seed: int = 0
    device: str = "auto"
    resume: bool = False
    arch: dict | None = None  # overrides of the network config, e.g. {"n_layer": 4}
    limit: int = 0  # use only the first `limit` training images (0 = all); for smoke tests
    init_from: str = ""  # start from this model folder's weights (fine-tuning; fresh optimiser)
    adversarial: float = 0.0  # tokenizer-decoder: weight of the GAN loss (0 = none)
    teacher: str = ""  # token-ar: a trained token AR to distil from (its model folder)
    distill: float = 0.8  # with a teacher: the weight of its distribution in the target


def _init_from(name: str, saved, arch: str, model, ema) -> None:
    """Copy the weights of `saved` (model `name`'s shipped EMA, float16 on disk) into `model` and
    `ema`. The architecture and config must match the run's exactly."""
    s_arch, s_config = nets.arch_of(saved)
    m_arch, m_config = nets.arch_of(model)
    if s_arch != arch or s_config != m_config:
        raise ValueError(f"--init-from {name}: it is {s_arch} {s_config}, but this run trains "
                         f"{m_arch} {m_config}")
    state = saved.state_dict()
    with torch.no_grad():
        for net in (model, ema):
            net.load_state_dict({k: v.to(torch.float32) if v.is_floating_point() else v
                                 for k, v in state.items()})


def _is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def log(msg: str) -> None:
    if _is_main():
        print(msg, file=sys.stderr, flush=True)


class Budget:
    """How far the run is (0..1): steps done, or wall time against `--minutes` if that is further.

    Under DDP every rank must take the same LR and stop at the same step, or one rank waits
    forever in the next all-reduce. So rank 0's clock decides: its time fraction is broadcast
    every `sync_every` steps (one tiny collective; not every step, which would stall the GPU
    queue) and every rank computes LR and stop from that shared value alone.
    """

    def __init__(self, total_steps: int, budget_s: float, device: torch.device, world: int,
                 sync_every: int = 10):
        self.total, self.budget, self.device, self.world = total_steps, budget_s, device, world
        self.sync_every = sync_every
        self.t0 = time.perf_counter()
        # Tests only: rank r's clock reads r * this many seconds ahead (ranks that disagree).
        rank = dist.get_rank() if dist.is_initialized() else 0
        self.skew = float(os.environ.get("DESKTOPGEN_TEST_RANK_SKEW_S") or 0) * rank
        self.time_frac = 0.0

    def local_time_fraction(self) -> float:
        return (time.perf_counter() + self.skew - self.t0) / self.budget if self.budget else 0.0

    def fraction(self, step: int) -> float:
        """The same value on every rank for the same step."""
        if self.world == 1:
            self.time_frac = self.local_time_fraction()
        elif self.budget and step % self.sync_every == 0:
            t = torch.tensor([self.local_time_fraction()], dtype=torch.float64, device=self.device)
            dist.broadcast(t, src=0)
            self.time_frac = float(t.item())
        return min(max(step / self.total, self.time_frac), 1.0)

    def over(self, step: int) -> bool:
        return bool(self.budget) and self.fraction(step) >= 1.0


class Progress:
    """One status line (rank 0): step, loss, images/s and ETA; a plain line every 10% when not
    on a terminal."""

    def __init__(self, budget: Budget, batch: int, start_step: int = 0):
        self.budget, self.batch, self.start = budget, batch, start_step
        self.t0 = time.perf_counter()
        self.tty = sys.stderr.isatty()
        self.last_decile = -1

    def images_per_s(self, step: int) -> float:
        return (step - self.start) * self.batch / max(time.perf_counter() - self.t0, 1e-9)

    def update(self, step: int, loss: float, frac: float) -> None:
        if not _is_main():
            return
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / frac - elapsed if frac > 0 else float("nan")
        line = (f"step {step}/{self.budget.total} {frac:6.1%} loss {loss:.4f} "
                f"{(step - self.start) / max(elapsed, 1e-9):.1f} it/s {self.images_per_s(step):.0f} images/s "
                f"elapsed {elapsed:.0f}s ETA {eta:.0f}s")
        decile = int(frac * 10)
        if self.tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
        elif decile != self.last_decile:
            print(line, file=sys.stderr, flush=True)
        self.last_decile = decile


def _setup_distributed(requested: str) -> tuple[torch.device, int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return pick_device(requested), 0, 1
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and requested != "cpu"
    dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local)
        return torch.device("cuda", local), rank, world
    return torch.device("cpu"), rank, world


def _save_state(folder: Path, model, ema, opt, step: int, elapsed: float, loss: float,
                recipe=None) -> None:
    """A resumable checkpoint: tensors and scalars in one safetensors file (scalars as JSON in
    its metadata), so a crash leaves either the old checkpoint or the new one, never a mix.
    state.json repeats the scalars for people; resume reads only the safetensors file."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"ema.{k}": v for k, v in ema.state_dict().items()}
    if hasattr(recipe, "state_dict"):  # e.g. the tokenizer decoder's discriminator
        tensors |= {f"recipe.{k}": v for k, v in recipe.state_dict().items()}
    opt_state = opt.state_dict()
    for pid, st in opt_state["state"].items():
        for k, v in st.items():
            tensors[f"opt.{pid}.{k}"] = v if torch.is_tensor(v) else torch.tensor(v)
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    meta = {"step": step, "elapsed": elapsed, "loss": loss, "param_groups": opt_state["param_groups"]}
    atomic.atomic_write(folder / STATE, lambda tmp: save_file(
        tensors, str(tmp), metadata={"state": json.dumps(meta)}), overwrite=True)
    checkpoints.atomic_write_text(folder / "state.json", json.dumps(meta))


def _load_state(folder: Path, model, ema, opt, recipe=None) -> tuple[int, float]:
    with safe_open(str(folder / STATE), "pt") as f:
        meta = json.loads((f.metadata() or {})["state"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    if hasattr(recipe, "load_state_dict"):
        recipe.load_state_dict({k[7:]: v for k, v in tensors.items() if k.startswith("recipe.")})
    state: dict = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return meta["step"], meta["elapsed"]


def train(cfg: TrainConfig) -> dict:
    """Train one model and write its folder; returns the card. A bad `cfg.arch` raises
    nets.ConfigError (a ValueError) before anything is loaded or started."""
    arch = check_arch(cfg.model, cfg.arch)
    init_model, init_card = checkpoints.load_model(cfg.init_from, "cpu") if cfg.init_from \
        else (None, None)
    if init_model is not None:  # fine-tuning: the saved network, with --arch's keys changed
        arch = check_arch(cfg.model, {**nets.arch_of(init_model)[1], **(cfg.arch or {})})
    needs_init = getattr(RECIPES[cfg.model], "needs_init", False)
    if needs_init and init_model is None:
        raise ValueError(f"train {cfg.model} needs --init-from (the model to start from)")
    if cfg.adversarial and "adversarial" not in getattr(RECIPES[cfg.model], "options", ()):
        raise ValueError(f"--adversarial is for train tokenizer-decoder and video-decoder, "
                         f"not {cfg.model}")
    if cfg.teacher and "teacher" not in getattr(RECIPES[cfg.model], "options", ()):
        raise ValueError(f"--teacher is for train token-ar, not {cfg.model}")
    device, rank, world = _setup_distributed(cfg.device)
    recipe = RECIPES[cfg.model](device)
    if cfg.adversarial:
        recipe.adversarial = cfg.adversarial
    if cfg.teacher:
        recipe.teacher_name, recipe.distill = cfg.teacher, cfg.distill
    d = recipe.defaults
    batch = cfg.batch or d["batch"]
    lr = cfg.lr or d["lr"]
    ema_decay = cfg.ema or d["ema"]
    wd = d["weight_decay"] if cfg.weight_decay < 0 else cfg.weight_decay
    if batch % world:
        raise ValueError(f"batch {batch} must divide by the number of processes ({world})")
    torch.manual_seed(cfg.seed)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    images, labels = fmnist.load("train", cfg.data)
    if cfg.limit:
        images, labels = images[: cfg.limit], labels[: cfg.limit]
    images = torch.as_tensor(images).to(device)  # 47 MB: the whole set lives on the device
    labels = torch.as_tensor(labels).to(device)
    if hasattr(recipe, "prepare"):  # e.g. token AR: the images become their tokenizer's codes, once
        images, labels = recipe.prepare(images, labels, nets.check_config(recipe.arch, arch))

    model = nets.build(recipe.arch, arch).to(device)
    ema = copy.deepcopy(model).eval().requires_grad_(False)
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.dim() >= 2 else no_decay).append(p)
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr, betas=(0.9, 0.99), fused=device.type == "cuda",
    )
    out = Path(cfg.out)
    state_dir = out / "train_state"
    step, prior_elapsed = 0, 0.0
    resuming = cfg.resume and (state_dir / STATE).exists()
    if hasattr(recipe, "init_from"):  # its own copy (e.g. part of the network); on resume too,
        recipe.init_from(cfg.init_from, init_model, init_card, model, ema)  # for its card
        if not resuming:
            log(f"starting from {cfg.init_from} ({init_card.get('steps', '?')} steps)")
    elif init_model is not None and not resuming:
        _init_from(cfg.init_from, init_model, recipe.arch, model, ema)
        log(f"starting from the weights of {cfg.init_from} ({init_card.get('steps', '?')} steps)")
    elif hasattr(recipe, "start") and not resuming:  # e.g. a student from its teacher's layers
        recipe.start(model, ema)
    model.train()
    if hasattr(recipe, "setup"):  # e.g. freeze part of the network, build a discriminator
        recipe.setup(model)
    if resuming:
        step, prior_elapsed = _load_state(state_dir, model, ema, opt, recipe)
        log(f"resumed from {state_dir} at step {step}")
    start_step = step
    train_model = model
    if world > 1:
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    amp = autocast_dtype(device)
    gen = torch.Generator(device).manual_seed(cfg.seed * 1000 + rank + step)
    per_rank = batch // world
    budget = cfg.minutes * 60
    # --minutes counts the runs before a resume too; none left: stop at once (not "no limit")
    clock = Budget(cfg.steps, max(budget - prior_elapsed, 1e-6) if budget else 0.0, device, world)
    log(f"training {cfg.model} ({sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters) "
        f"on {device_name(device)} x{world}, batch {batch}, lr {lr}, "
        f"{'bf16' if amp == torch.bfloat16 else 'fp16' if amp else 'fp32'}")
    t_start = time.perf_counter()
    progress = Progress(clock, batch, step)
    loss_avg, losses = None, []
    while step < cfg.steps:
        frac = clock.fraction(step)
        if budget and frac >= 1.0:  # the same decision on every rank (see Budget)
            break
        warm = min(1.0, (step + 1) / cfg.warmup)
        for g in opt.param_groups:
            g["lr"] = lr * warm * 0.5 * (1 + math.cos(math.pi * frac))
        idx = torch.randint(0, len(images), (per_rank,), device=device, generator=gen)
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            loss = recipe.loss(train_model, images[idx], labels[idx], gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            d_eff = min(ema_decay, (1 + step) / (10 + step))  # short warm-up of the EMA
            torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - d_eff)
            for be, bm in zip(ema.buffers(), model.buffers()):
                be.copy_(bm)
        step += 1
        if step % 50 == 0 or step == cfg.steps:
            lv = loss.item()
            loss_avg = lv if loss_avg is None else 0.9 * loss_avg + 0.1 * lv
            losses.append((step, round(loss_avg, 5)))
            progress.update(step, loss_avg, frac)
        if step % cfg.checkpoint_every == 0 and _is_main():
            _save_state(state_dir, model, ema, opt, step,
                        prior_elapsed + time.perf_counter() - t_start, loss_avg or float("nan"), recipe)
    if step > start_step and (not losses or losses[-1][0] != step):
        lv = loss.item()  # stopped by the clock between two progress lines
        loss_avg = lv if loss_avg is None else 0.9 * loss_avg + 0.1 * lv
        losses.append((step, round(loss_avg, 5)))
    run_s = time.perf_counter() - t_start
    wall = prior_elapsed + run_s
    images_per_s = (step - start_step) * batch / max(run_s, 1e-9)
    if progress.tty and _is_main():
        print(file=sys.stderr)
    card = {}
    try:
        if _is_main():  # only rank 0 writes; the others wait at the barrier below
            _save_state(state_dir, model, ema, opt, step, wall, loss_avg or float("nan"), recipe)
            card = {
                "model": cfg.model,
                "data": "Fashion-MNIST train split (60,000 images), Debian package dataset-fashion-mnist"
                + (f", first {cfg.limit} only" if cfg.limit else ""),
                "steps": step, "batch": batch, "images_seen": step * batch,
                "epochs": round(step * batch / len(images), 2),
                "wall_time_s": round(wall, 1), "device": f"{device_name(device)} x{world}",
                "precision": "bf16 autocast" if amp == torch.bfloat16 else "fp16 autocast" if amp else "fp32",
                "final_loss": loss_avg, "loss_curve": losses[:: max(1, len(losses) // 40)],
                "train_config": asdict(cfg), "ema_decay": ema_decay, "lr": lr, "weight_decay": wd,
                "command": "desktopgen train " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "",
                **getattr(recipe, "card_extra", {}),
            }
            history = []
            if cfg.resume and (out / checkpoints.CARD).exists():
                prev = checkpoints.read_card(str(out))
                history = prev.get("history", [])
                if "init_from" in prev:
                    card["init_from"] = prev["init_from"]
            elif init_model is not None:  # fine-tuned: the earlier training is part of this model's
                history = init_card.get("history") or [
                    {k: init_card.get(k) for k in ("command", "steps", "wall_time_s", "final_loss")}]
                card["init_from"] = {"model": cfg.init_from, "sha256": init_card.get("sha256"),
                                     "steps": init_card.get("steps"),
                                     "wall_time_s": init_card.get("wall_time_s")}
            card["history"] = history + [{"command": card["command"], "steps": step - start_step,
                                          "wall_time_s": round(wall - prior_elapsed, 1),
                                          "final_loss": loss_avg, "images_per_s": round(images_per_s, 1)}]
            checkpoints.save_model(ema, out, card)
            log(f"saved {out} after {step} steps, {wall:.0f}s, final loss {loss_avg}, "
                f"{images_per_s:.0f} images/s on {world} process{'es' if world > 1 else ''}")
    finally:
        if world > 1:
            dist.barrier()
            dist.destroy_process_group()
    return card
