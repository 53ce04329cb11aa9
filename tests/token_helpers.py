"""Tiny token-model folders for tests: a real (untrained) tokenizer and a MaskGIT trained a few
steps on it, found through DESKTOPGEN_MODELS while in use."""

from __future__ import annotations

import contextlib

import pytest
import torch

from desktopgen import nets
from desktopgen.core import checkpoints
from desktopgen.train.loop import TrainConfig, train


@contextlib.contextmanager
def tiny_maskgit_folders(root, tokenizer_config: dict, steps: int):
    """root/tok (a tiny Tokenizer of `tokenizer_config`, 9 codes) and root/mg (MaskGIT trained
    `steps` steps with it); DESKTOPGEN_MODELS points at root until the block ends."""
    torch.manual_seed(0)
    checkpoints.save_model(nets.build("tokenizer", tokenizer_config), root / "tok", {"model": "tokenizer"})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DESKTOPGEN_MODELS", str(root))
        train(TrainConfig(model="maskgit", out=str(root / "mg"), steps=steps, batch=8, limit=64,
                          device="cpu", warmup=1, arch={"n_layer": 1, "n_head": 2, "n_embd": 16,
                                                        "tokenizer": "tok", "codebook_size": 9}))
        yield root
