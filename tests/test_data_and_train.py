"""The Fashion-MNIST reader's errors, and the shared training loop (resume, DDP on CPU)."""

import gzip
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from desktopgen.core import checkpoints
from desktopgen.data import fmnist
from desktopgen.train.loop import TrainConfig, train
from desktopgen.train.recipes import parse_arch

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
    # --minutes counts earlier runs: with the budget already spent, a resume stops at once
    cfg.steps, cfg.minutes = 300, 1e-5
    card = train(cfg)
    assert card["steps"] == 6 and card["history"][-1]["steps"] == 0


def test_init_from_starts_from_a_saved_models_weights_and_keeps_its_history(tmp_path):
    first = tmp_path / "first"
    train(TrainConfig(model="classifier", out=str(first), steps=4, batch=16, limit=256, device="cpu",
                      arch=TINY, seed=1))
    saved, saved_card = checkpoints.load_model(str(first))
    # lr ~ 0: one step cannot move a weight by one float16 step, so the result is the start
    tuned = tmp_path / "tuned"
    card = train(TrainConfig(model="classifier", out=str(tuned), steps=1, batch=16, limit=256,
                             device="cpu", lr=1e-12, init_from=str(first), seed=2))
    model, _ = checkpoints.load_model(str(tuned))
    a, b = dict(saved.named_parameters()), dict(model.named_parameters())  # (BatchNorm's buffers move)
    assert a.keys() == b.keys() and [k for k in a if not torch.equal(a[k], b[k])] == []
    assert card["init_from"]["sha256"] == saved_card["sha256"] and card["init_from"]["steps"] == 4
    assert [h["steps"] for h in card["history"]] == [4, 1]
    fresh = train(TrainConfig(model="classifier", out=str(tmp_path / "fresh"), steps=1, batch=16,
                              limit=256, device="cpu", lr=1e-12, arch=TINY, seed=2))
    other, _ = checkpoints.load_model(str(tmp_path / "fresh"))
    assert "init_from" not in fresh
    assert not all(torch.equal(a[k], v) for k, v in other.named_parameters())
    with pytest.raises(ValueError, match="--init-from"):  # another network than the saved one
        train(TrainConfig(model="classifier", out=str(tmp_path / "bad"), steps=1, batch=16,
                          limit=256, device="cpu", arch={"width": 4, "feature_dim": 16},
                          init_from=str(first)))


def test_ddp_with_two_cpu_processes_trains_and_resumes(tmp_path):
    """torchrun + gloo: two processes train one model; rank 0 writes it; --resume continues it."""
    out = tmp_path / "ddp"
    r = _torchrun(["--out", str(out), "--steps", "3", "--checkpoint-every", "2"])
    assert r.returncode == 0, r.stderr[-2000:]
    card = json.loads((out / "card.json").read_text())
    assert card["device"].endswith("x2") and card["steps"] == 3
    assert "images/s" in r.stderr and card["history"][0]["images_per_s"] > 0
    checkpoints.load_model(str(out))
    r = _torchrun(["--out", str(out), "--steps", "5", "--resume"])
    assert r.returncode == 0, r.stderr[-2000:]
    assert "resumed from" in r.stderr and "at step 3" in r.stderr
    card = json.loads((out / "card.json").read_text())
    assert card["steps"] == 5 and [h["steps"] for h in card["history"]] == [3, 2]
    assert not list(out.glob("train_state/*.tmp")) and not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("arch, match", [
    ("[1]", "the classifier config must be a JSON object, not list"),
    ('"x"', "must be a JSON object, not str"),
    ('{"n_layer": 4}', "unknown classifier config key: n_layer (known: width,"),
    ('{"width": 100000}', "width must be an integer from 1 to 512, not 100000"),
    ('{"width": "8"}', "width must be an integer"),
    ('{"num_classes": 12}', "num_classes must be 10"),
])
def test_bad_arch_overrides_get_one_line_and_exit_2(arch, match, tmp_path, capsys, monkeypatch):
    """Issue 8: `train --arch '[1]'` gave a traceback. Refused before any data is loaded."""
    from desktopgen import cli

    def no_data(*a, **k):
        raise AssertionError("data loaded before --arch was checked")
    monkeypatch.setattr(fmnist, "load", no_data)
    out = tmp_path / "m"
    assert cli.main(["train", "classifier", "--out", str(out), "--arch", arch, "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("desktopgen: error:") and "\n" not in err and match in err, err
    assert not out.exists()


def test_parse_arch_is_what_the_cli_calls():
    assert parse_arch("ar", '{"n_layer": 2, "n_embd": 64}') == {"n_layer": 2, "n_embd": 64}
    assert parse_arch("diffusion", None) == {} and parse_arch("diffusion", "") == {}
    for text, match in [("{", "--arch is not JSON"), ("[1]", "--arch: the pixel_ar config must be"),
                        ('{"n_layer": 1e9}', "--arch: n_layer must be an integer")]:
        with pytest.raises(ValueError, match=match.replace("[", r"\[")):
            parse_arch("ar", text)


def test_engine_packages_never_import_qt():
    code = ("import sys, desktopgen.engine, desktopgen.train.loop, desktopgen.metrics,"
            " desktopgen.export.images;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')"
            " or m.startswith('desktopgen.gui')]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _torchrun(args, env_extra=None, timeout=120):
    """Two CPU processes under torchrun; a hang fails the test and kills the whole group."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "desktopgen", "train", "classifier", "--batch", "16", "--limit", "256",
           "--device", "cpu", "--arch", json.dumps(TINY), *args]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                         start_new_session=True)
    try:
        stdout, stderr = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        pytest.fail(f"torchrun hung for {timeout}s: {' '.join(args)}")
    return subprocess.CompletedProcess(cmd, p.returncode, stdout, stderr)


def test_ddp_time_budget_stops_every_rank_at_the_same_step(tmp_path):
    """Issue 8, bug 2: each rank stopped on its own clock and the other waited in all-reduce.
    Rank 1's clock is made to run 1 s ahead; rank 0's clock decides for both, every time."""
    for run in range(3):
        out = tmp_path / f"ddp{run}"
        r = _torchrun(["--out", str(out), "--steps", "100000", "--minutes", "0.03"],
                      {"DESKTOPGEN_TEST_RANK_SKEW_S": "1.0"})
        assert r.returncode == 0, r.stderr[-2000:]
        card = json.loads((out / "card.json").read_text())
        assert 0 < card["steps"] < 100000
        assert json.loads((out / "train_state" / "state.json").read_text())["step"] == card["steps"]


# No dropout: attention dropout on the CPU draws a 784 x 784 mask per head and costs seconds a step.
TINY_RECIPES = {
    "diffusion": {"channels": 32, "mults": [1, 2], "blocks": 1, "attn_res": [7], "dropout": 0.0},
    "ar": {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0},
}


def _recipe_loss(model_name: str, model, images, labels) -> float:
    """The recipe's training loss on a fixed batch with fixed noise, in eval mode."""
    import torch

    from desktopgen.train.recipes import RECIPES
    gen = torch.Generator().manual_seed(123)
    with torch.no_grad():
        return float(RECIPES[model_name]("cpu").loss(model.eval(), torch.as_tensor(images),
                                                     torch.as_tensor(labels), gen))


@pytest.mark.parametrize("model_name", ["diffusion", "ar"])
def test_diffusion_and_pixel_ar_recipes_learn_save_sample_and_resume(model_name, tmp_path):
    """Issue 8: training was tested only with the classifier recipe."""
    import torch

    from desktopgen import nets, sampling
    from desktopgen.core.requests import SampleRequest
    from desktopgen.engine import sample_images
    from desktopgen.train.recipes import RECIPES

    out = tmp_path / model_name
    cfg = TrainConfig(model=model_name, out=str(out), steps=40, batch=8, limit=256, device="cpu",
                      lr=3e-3, warmup=5, ema=0.5, arch=TINY_RECIPES[model_name], checkpoint_every=1000)
    card = train(cfg)
    assert card["steps"] == 40 and np.isfinite(card["final_loss"])
    images, labels = fmnist.load("train")
    images, labels = images[:64], labels[:64]
    torch.manual_seed(0)
    untrained = nets.build(RECIPES[model_name].arch, TINY_RECIPES[model_name])
    model, card = sampling.load(model_name, str(out), "cpu")
    before = _recipe_loss(model_name, untrained, images, labels)
    after = _recipe_loss(model_name, model, images, labels)
    assert np.isfinite(after) and after < 0.85 * before, (before, after)
    if model_name == "diffusion":
        req = SampleRequest(family=model_name, steps=4, seed=3)
        x, y, _ = sample_images(req, 2, 2, "cpu", model=model)
        assert x.shape == (2, 28, 28) and x.dtype == np.uint8 and len(y) == 2
    else:  # the first 20 of 784 pixels: enough to show the checkpoint decodes
        run = sampling.sample(model, SampleRequest(family="ar", seed=3, batch=2), "cpu")
        events = [next(run) for _ in range(20)]
        run.close()
        assert events[-1].step == 20 and events[-1].preview.shape == (2, 28, 28)
    cfg.steps, cfg.resume = 44, True
    card = train(cfg)
    assert card["steps"] == 44 and [h["steps"] for h in card["history"]] == [40, 4]
