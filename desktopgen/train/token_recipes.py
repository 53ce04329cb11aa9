"""Recipes of the token models (issue 9): the tokenizer, and the raster token transformer.

`desktopgen train tokenizer` learns to reconstruct images through the discrete bottleneck, with
random shifts and, one step in four, garments placed anywhere on a 48x48 black canvas (the
video frames it will also tokenise). `desktopgen train token-ar` encodes the train set once with
the frozen tokenizer its config names (`--arch '{"tokenizer": "NAME"}'`, or `--tokenizer NAME`)
and learns next-token cross-entropy over those codes.

With `--teacher NAME` a (smaller) token AR learns from a trained one as well (knowledge
distillation, Hinton et al. 2015): its target at each position is `--distill` x the teacher's
next-token distribution (given the same codes and the same, sometimes dropped, class) plus the rest
on the true code, and it starts from the teacher's embeddings, head and evenly spaced blocks
(DistilBERT's initialisation) where the widths match.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from desktopgen import nets
from desktopgen.train.common import drop_labels

CANVAS = 48  # the video frames' size
CANVAS_EVERY = 4  # one step in this many trains on the big canvas
SHIFT = 4  # random shifts of up to this many pixels on 28x28 steps
L1_WEIGHT = 0.1  # a little L1 beside MSE keeps edges sharper


def place(images: torch.Tensor, size: int, gen: torch.Generator, margin: int = 0) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float (B, 1, size, size) in [-1, 1]: each image at its own random
    place on a black canvas (`size` = 28 + 2 * margin: shifts of up to `margin` pixels)."""
    B, h, w = images.shape
    dev = images.device
    oy = torch.randint(0, size - h + 1, (B,), device=dev, generator=gen)
    ox = torch.randint(0, size - w + 1, (B,), device=dev, generator=gen)
    canvas = torch.full((B, size, size), -1.0, device=dev)
    rows = (oy[:, None] + torch.arange(h, device=dev))[:, :, None]  # (B, h, 1)
    cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, :]  # (B, 1, w)
    canvas[torch.arange(B, device=dev)[:, None, None], rows, cols] = images.float() / 127.5 - 1
    if margin:  # crop the middle 28x28 back: a shift of -margin..margin pixels
        canvas = canvas[:, margin : size - margin, margin : size - margin]
    return canvas[:, None]


class TokenizerRecipe:
    """Reconstruction (MSE + a little L1) through the quantiser, plus VQ's commitment loss."""

    arch = "tokenizer"
    defaults = {"batch": 256, "lr": 1e-3, "ema": 0.999, "weight_decay": 0.0}

    def __init__(self, device):
        self.step = 0

    def loss(self, model, images, labels, gen):
        self.step += 1
        if self.step % CANVAS_EVERY == 0:
            x = place(images, CANVAS, gen)
        else:
            x = place(images, 28 + 2 * SHIFT, gen, margin=SHIFT)
        recon, aux, _ = model(x, gen)
        recon = recon.float()
        return F.mse_loss(recon, x) + L1_WEIGHT * F.l1_loss(recon, x) + aux


@torch.no_grad()
def encode_all(tokenizer, images: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    """uint8 (N, 28, 28) on the tokenizer's device -> codes (N, h * w), raster order."""
    out = []
    for i in range(0, len(images), batch):
        x = images[i : i + batch, None].float() / 127.5 - 1
        out.append(tokenizer.encode(x).flatten(1))
    return torch.cat(out)


def teacher_blocks(n_teacher: int, n_student: int) -> list[int]:
    """The teacher's blocks a student of `n_student` blocks starts from: evenly spaced from the
    first (8 -> 4: 0, 2, 4, 6)."""
    return [i * n_teacher // n_student for i in range(n_student)]


def distill_loss(logits: torch.Tensor, teacher_logits: torch.Tensor, codes: torch.Tensor,
                 weight: float) -> torch.Tensor:
    """Cross-entropy against `weight` x softmax(teacher) + (1 - weight) x one-hot(codes), averaged
    over positions: (1 - weight) x the hard loss + weight x (KL(teacher || student) + the
    teacher's entropy). The gradient is the student's softmax minus that mixed target."""
    logp = F.log_softmax(logits.float(), dim=-1)
    soft = -(F.softmax(teacher_logits.float(), dim=-1) * logp).sum(-1).mean()
    hard = F.nll_loss(logp.reshape(-1, logp.shape[-1]), codes.reshape(-1))
    return weight * soft + (1 - weight) * hard


class TokenARRecipe:
    """Next-token cross-entropy over the tokenizer's codes (the train set encoded once), or with
    `--teacher` a mix of it and the teacher's distribution (see the module docstring)."""

    arch = "token_ar"
    defaults = {"batch": 256, "lr": 6e-4, "ema": 0.999, "weight_decay": 0.05}
    options = ("teacher",)

    def __init__(self, device):
        self.device = device
        self.teacher_name, self.distill = "", 0.0
        self.teacher, self.init_blocks = None, None
        self.card_extra: dict = {}

    def _load_teacher(self, config: dict) -> None:
        from desktopgen.core import checkpoints

        teacher, card = checkpoints.load_model(self.teacher_name, self.device)
        if not isinstance(teacher, nets.TokenAR):
            raise nets.ConfigError(f"--teacher {self.teacher_name!r} is a {type(teacher).__name__}, "
                                   f"not a token AR")
        tc = teacher.config
        mine = {k: config[k] for k in ("tokenizer", "vocab", "seq_len", "num_classes")}
        theirs = {k: getattr(tc, k) for k in mine}
        if mine != theirs:
            raise nets.ConfigError(f"--teacher {self.teacher_name!r} models {theirs}, "
                                   f"this run {mine}: they must agree")
        self.teacher = teacher.float().eval().requires_grad_(False)
        self.init_blocks = teacher_blocks(tc.n_layer, config["n_layer"]) \
            if tc.n_embd == config["n_embd"] else None  # None: another width, nothing to copy
        self.card_extra = {"teacher": {
            "model": self.teacher_name, "sha256": card.get("sha256"), "distill": self.distill,
            "n_layer": tc.n_layer, "n_embd": tc.n_embd, "init_blocks": self.init_blocks}}

    def start(self, model, ema) -> None:
        """A fresh (not resumed) run with a teacher of the same width: copy its embeddings, final
        norm, head and evenly spaced blocks into `model` and `ema`."""
        if self.teacher is None or self.init_blocks is None:
            return
        theirs = self.teacher.state_dict()
        state = {k: v for k, v in theirs.items() if not k.startswith("blocks.")}
        for j, t in enumerate(self.init_blocks):  # student block j <- teacher block t
            prefix = f"blocks.{t}."
            state |= {f"blocks.{j}.{k[len(prefix):]}": v for k, v in theirs.items() if k.startswith(prefix)}
        with torch.no_grad():
            for net in (model, ema):
                net.load_state_dict(state)

    def prepare(self, images: torch.Tensor, labels: torch.Tensor, config: dict):
        """The loop's data, once: uint8 images -> their codes under the frozen tokenizer named by
        the (checked) network config; the vocabulary and length must be the tokenizer's."""
        from desktopgen.core import checkpoints

        tokenizer, _ = checkpoints.load_model(config["tokenizer"], self.device)
        if not isinstance(tokenizer, nets.Tokenizer):
            raise nets.ConfigError(f"tokenizer {config['tokenizer']!r} is a "
                                   f"{type(tokenizer).__name__}, not a tokenizer")
        codes = encode_all(tokenizer, images)
        if self.teacher_name:
            self._load_teacher(config)
        if tokenizer.codebook_size != config["vocab"] or codes.shape[1] != config["seq_len"]:
            raise nets.ConfigError(
                f"tokenizer {config['tokenizer']!r} makes {codes.shape[1]} codes of "
                f"{tokenizer.codebook_size} values per image: pass --arch '{{\"vocab\": "
                f"{tokenizer.codebook_size}, \"seq_len\": {codes.shape[1]}}}'")
        return codes, labels

    def loss(self, model, codes, labels, gen):
        y = drop_labels(labels, nets.TokenARConfig.num_classes, gen)
        logits = model(codes, y).float()
        if self.teacher is not None and self.distill > 0:  # (at 0 the teacher only starts it)
            with torch.no_grad():
                teacher_logits = self.teacher(codes, y)
            return distill_loss(logits, teacher_logits, codes, self.distill)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1))
