"""The Fashion-MNIST reader's errors, and the shared training loop (resume, DDP on CPU)."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktopgen.core import checkpoints
from desktopgen.data import fmnist
from desktopgen.train.loop import TrainConfig, train

TINY = {"width": 8, "feature_dim": 16}


def test_reader_gives_the_right_shapes():
    x, y = fmnist.load("test")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8 and set(np.unique(y)) == set(range(10))


def test_missing_data_names_the_package(tmp_path):
    with pytest.raises(fmnist.DatasetError, match="apt-get install dataset-fashion-mnist"):
        fmnist.load("test", tmp_path)


def test_truncated_data_is_reported(tmp_path):
    src = Path(fmnist.DEFAULT_DIR)
    for name in fmnist.FILES["test"][:2]:
        (tmp_path / name).write_bytes((src / name).read_bytes())
    raw = gzip.decompress((tmp_path / fmnist.FILES["test"][0]).read_bytes())
    (tmp_path / fmnist.FILES["test"][0]).write_bytes(gzip.compress(raw[:5000]))
    with pytest.raises(fmnist.DatasetError, match="truncated"):
        fmnist.load("test", tmp_path)
    (tmp_path / fmnist.FILES["test"][0]).write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(fmnist.DatasetError, match="truncated or corrupt"):
        fmnist.load("test", tmp_path)


def test_training_writes_a_model_and_resumes(tmp_path):
    out = tmp_path / "clf"
    cfg = TrainConfig(model="classifier", out=str(out), steps=4, batch=16, limit=256, device="cpu",
                      checkpoint_every=2, arch=TINY)
    card = train(cfg)
    assert card["steps"] == 4 and np.isfinite(card["final_loss"])
    model, card = checkpoints.load_model(str(out))
    state = json.loads((out / "train_state" / "state.json").read_text())
    assert state["step"] == 4
    cfg.steps, cfg.resume = 6, True
    card = train(cfg)
    assert card["steps"] == 6 and len(card["history"]) == 2 and card["history"][1]["steps"] == 2


def test_ddp_with_two_cpu_processes(tmp_path):
    """torchrun + gloo: two processes train one model; rank 0 writes it."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "desktopgen", "train", "classifier", "--out", str(out), "--steps", "3",
           "--batch", "16", "--limit", "256", "--device", "cpu", "--arch", json.dumps(TINY)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["device"].endswith("x2") and card["steps"] == 3
    checkpoints.load_model(str(out))


def test_engine_packages_never_import_qt():
    code = ("import sys, desktopgen.engine, desktopgen.train.loop, desktopgen.metrics,"
            " desktopgen.export.images;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')"
            " or m.startswith('desktopgen.gui')]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
