"""Issue 10: the inpainting diffusion model (masked image and mask as inputs), its training
masks, and `desktopgen inpaint --family diffusion` choosing it."""

import json

import numpy as np
import pytest
import torch

from desktopgen import nets, sampling
from desktopgen.core.requests import SampleRequest
from desktopgen.nets.inpaint_unet import condition_input
from desktopgen.sampling import inpaint_model
from desktopgen.sampling.masks import as_grid, preset
from desktopgen.train import masks as train_masks
from desktopgen.train.loop import TrainConfig, train

TINY = {"channels": 32, "mults": [1], "blocks": 1, "attn_res": []}
RNG = np.random.default_rng(0)
SOURCES = RNG.integers(0, 256, (3, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = nets.build("inpaint_unet", TINY).eval()
    with torch.no_grad():
        for p in m.parameters():  # all random: the zero-initialised output would hide the inputs
            p.normal_(0, 0.1)
    return m


def inpaint(model, sources, masks, sampler="ddim", **kw):
    req = SampleRequest(family="diffusion", sampler=sampler, steps=3, batch=len(sources), seed=1,
                        source=as_grid(sources), mask=as_grid(masks), guidance=0.0, **kw)
    return sampling.run_to_end(sampling.sample(model, req)).images


@pytest.mark.parametrize("sampler", ["ddim", "dpmpp-2m", "ddpm"])
def test_known_pixels_come_back_exactly(model, sampler):
    masks = np.stack([preset("bottom-half"), preset("center-square"), preset("random-blocks", 3)])
    out = inpaint(model, SOURCES, masks, sampler)
    for image, source, mask in zip(out, SOURCES, masks):
        assert np.array_equal(image[mask == 0], source[mask == 0])
        assert not np.array_equal(image[mask == 1], source[mask == 1])


def test_the_hole_of_the_source_is_never_seen(model):
    mask = preset("bottom-half")
    other = SOURCES.copy()
    other[:, mask == 1] = 255 - other[:, mask == 1]
    assert np.array_equal(inpaint(model, SOURCES, mask), inpaint(model, other, mask))


def test_the_model_sees_the_known_pixels(model):
    """The condition reaches the network: a different kept half gives a different fill (the
    per-step paste alone could not do that with the same noise and a plain model's x)."""
    mask = preset("bottom-half")
    other = SOURCES.copy()
    other[:, :3] = 255 - other[:, :3]
    a, b = inpaint(model, SOURCES, mask), inpaint(model, other, mask)
    assert not np.array_equal(a[:, mask == 1], b[:, mask == 1])


def test_condition_input_zeroes_the_hole():
    known = torch.ones(2, 1, 28, 28)
    mask = torch.as_tensor(preset("top-half"), dtype=torch.float32)[None, None]
    cond = condition_input(known, mask)
    assert cond.shape == (2, 2, 28, 28)
    assert torch.equal(cond[:, 0], 1 - mask[:, 0].expand(2, 28, 28))
    assert torch.equal(cond[:, 1], mask[:, 0].expand(2, 28, 28))


def test_without_a_mask_it_generates(model):
    req = SampleRequest(family="diffusion", sampler="ddim", steps=2, batch=2, seed=3)
    result = sampling.run_to_end(sampling.sample(model, req))
    assert result.images.shape == (2, 28, 28)


def test_training_masks_mix_every_kind_and_are_never_empty():
    m = train_masks.training_masks(3000, torch.Generator().manual_seed(0), "cpu")
    assert m.shape == (3000, 1, 28, 28) and set(m.unique().tolist()) == {0.0, 1.0}
    covered = m.flatten(1).sum(1)
    assert (covered > 0).all()
    assert abs((covered == 784).float().mean().item() - train_masks.SHARES["full"]) < 0.02
    flat = m.flatten(1)
    for name in train_masks.FIXED_PRESETS:  # every preset of the editor is trained on
        p = torch.as_tensor(preset(name), dtype=torch.float32).flatten()
        assert (flat == p).all(1).sum() > 30, name


def test_default_inpaint_model_is_the_inpainting_one_when_shipped(tmp_path, monkeypatch):
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    assert inpaint_model.default_model("diffusion") == ""  # not shipped: the family's default
    (tmp_path / "fmnist-inpaint").mkdir()
    assert inpaint_model.default_model("diffusion") == "fmnist-inpaint"
    assert inpaint_model.default_model("diffusion", resample=5) == ""  # RePaint: the plain model
    assert inpaint_model.default_model("ar") == ""


def test_tiny_training_runs_and_the_cli_inpaints_with_it(tmp_path, monkeypatch, capsys):
    out = tmp_path / "fmnist-inpaint"
    card = train(TrainConfig(model="inpaint", out=str(out), steps=20, batch=4, limit=64,
                             device="cpu", arch=TINY))
    assert card["steps"] == 20 and np.isfinite(card["final_loss"])
    assert json.loads((out / "config.json").read_text())["arch"] == "inpaint_unet"
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    from desktopgen import cli

    npz = tmp_path / "in.npz"
    np.savez(npz, images=SOURCES)
    code = cli.main(["inpaint", "--family", "diffusion", "--images", str(npz), "--mask",
                     "bottom-half", "--steps", "2", "--device", "cpu", "--out",
                     str(tmp_path / "o.npz")])
    assert code == 0, capsys.readouterr().err
    with np.load(tmp_path / "o.npz") as z:
        keep = preset("bottom-half") == 0
        assert np.array_equal(z["images"][:, keep], SOURCES[:, keep])


def test_samples_depend_only_on_seed_and_index(model):
    masks = np.stack([preset("bottom-half"), preset("top-half"), preset("center-square")])
    whole = inpaint(model, SOURCES, masks)
    for i in range(3):
        one = inpaint(model, SOURCES[i : i + 1], masks[i : i + 1], first_index=i)
        assert np.array_equal(one[0], whole[i])
