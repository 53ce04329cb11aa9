"""Inpainting, headless: mask presets and checks, what raster AR can see, kept pixels exact in both
samplers (tiny random models, so it runs in seconds), AR's blindness to context after the scan
position, and the `desktopgen inpaint` command."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from desktopgen import sampling
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import masks


# --- masks ------------------------------------------------------------------------------------
def test_presets():
    assert masks.PRESETS == ("bottom-half", "top-half", "left-half", "right-half", "center-square",
                             "random-blocks")
    b, t, left, r, c = (masks.preset(n) for n in masks.PRESETS[:5])
    assert b[14:].all() and not b[:14].any()
    assert t[:14].all() and not t[14:].any()
    assert left[:, :14].all() and not left[:, 14:].any()
    assert r[:, 14:].all() and not r[:, :14].any()
    assert c.sum() == 196 and c[7:21, 7:21].all()
    for m in (b, t, left, r, c):
        assert m.dtype == np.uint8 and m.shape == (28, 28)
    r0, r0b, r1 = (masks.preset("random-blocks", s) for s in (0, 0, 1))
    assert np.array_equal(r0, r0b) and not np.array_equal(r0, r1)
    assert 40 < r0.sum() < 500
    with pytest.raises(masks.MaskError, match="unknown mask preset 'middle'"):
        masks.preset("middle")


def test_check_nothing_everything_and_shape():
    with pytest.raises(masks.MaskError, match="covers no pixel"):
        masks.check(np.zeros((28, 28), np.uint8))
    assert "plain generation" in masks.check(np.ones((28, 28), np.uint8))
    assert masks.check(masks.preset("top-half")) is None
    with pytest.raises(masks.MaskError, match="28x28"):
        masks.check(np.ones((14, 14), np.uint8))
    with pytest.raises(masks.MaskError, match="0 \\(keep\\)"):
        masks.check(np.full((28, 28), 2, np.uint8))


def test_ar_context_sees_only_known_pixels_before_it():
    top, bottom, centre = (masks.preset(n) for n in ("top-half", "bottom-half", "center-square"))
    assert masks.ar_context(top, 391).sum() == 0  # the whole hole is generated blind
    assert masks.ar_context(top, 392).sum() == 0
    assert masks.ar_context(top, 500).sum() == 500 - 392
    assert masks.ar_context(bottom, 392).sum() == 392  # every known pixel is before the hole
    # pixel 300 = row 10, col 20: rows 0-6 (196) + rows 7-9 (3 x 14 outside the square) + 7 in row 10
    ctx = masks.ar_context(centre, 300)
    assert ctx.sum() == 196 + 42 + 7 and not ctx[centre == 1].any()
    hidden = masks.hidden_context(centre, 300)
    assert ctx.sum() + hidden.sum() == (centre == 0).sum()


def test_load_mask_png(tmp_path):
    m = masks.preset("left-half")
    Image.fromarray(np.kron(m * 255, np.ones((4, 4), np.uint8)), "L").save(tmp_path / "m.png")
    np.testing.assert_array_equal(masks.load_mask_png(tmp_path / "m.png"), m)


# --- samplers (tiny random models: fast, and the properties do not depend on training) ----------
@pytest.fixture(scope="module")
def tiny():
    from desktopgen.nets.pixel_ar import PixelAR, PixelARConfig
    from desktopgen.nets.unet import UNet, UNetConfig

    torch.manual_seed(0)
    ar = PixelAR(PixelARConfig(n_layer=1, n_head=2, n_embd=32, dropout=0.0)).eval()
    unet = UNet(UNetConfig(channels=32, mults=(1, 1), blocks=1, attn_res=(), dropout=0.0)).eval()
    return {"ar": ar, "diffusion": unet}


def _run(model, **kw):
    req = SampleRequest(**kw)
    return sampling.run_to_end(sampling.sample(model, req, "cpu", preview_every=0))


@pytest.mark.parametrize("family, sampler, resample, jump", [
    ("diffusion", "ddim", 1, 1), ("diffusion", "ddpm", 1, 1), ("diffusion", "dpmpp-2m", 1, 1),
    ("diffusion", "dpmpp-2m", 3, 2), ("diffusion", "ddpm", 2, 1),
    pytest.param("ar", "pixel", 1, 1, marks=pytest.mark.slow),  # AR kept pixels: also checked below
])
def test_kept_pixels_are_exact(tiny, test_set, family, sampler, resample, jump):
    src = test_set[0][:3]
    mask = masks.preset("center-square")
    steps = 4 if family == "diffusion" else 0
    r = _run(tiny[family], family=family, sampler=sampler, steps=steps, seed=3, batch=3,
             resample=resample, jump=jump, source=masks.as_grid(src), mask=masks.as_grid(mask))
    assert r.images.shape == (3, 28, 28)
    np.testing.assert_array_equal(r.images[:, mask == 0], src[:, mask == 0])
    if family == "diffusion":
        assert r.steps == 4 * resample  # every block of `jump` steps is run `resample` times
        assert (r.images[:, mask == 1] != src[:, mask == 1]).any()


def test_one_source_for_the_batch_and_batch_independence(tiny, test_set):
    src = test_set[0][7]
    mask = masks.preset("bottom-half")
    kw = dict(family="diffusion", steps=3, seed=5, source=masks.as_grid(src), mask=masks.as_grid(mask))
    four = _run(tiny["diffusion"], batch=4, **kw).images
    one = _run(tiny["diffusion"], batch=1, first_index=2, **kw).images
    np.testing.assert_array_equal(four[2], one[0])
    assert (four[:, mask == 0] == src[mask == 0]).all()


def test_ar_cannot_see_context_after_the_scan_but_diffusion_can(tiny, diffusion_model, test_set):
    """The family's real limitation: with the top half masked, raster AR fills the hole the same
    whatever the kept bottom half holds (and keeps that half exactly), while diffusion's fill
    depends on it."""
    a, b = test_set[0][0], test_set[0][1]
    top = masks.preset("top-half")
    models = {"ar": tiny["ar"], "diffusion": diffusion_model[0]}
    outs = {}
    for fam, steps in (("ar", 0), ("diffusion", 3)):
        outs[fam] = [_run(models[fam], family=fam, steps=steps, seed=1, guidance=0.0,
                          source=masks.as_grid(s), mask=masks.as_grid(top)).images[0] for s in (a, b)]
    np.testing.assert_array_equal(outs["ar"][0][:14], outs["ar"][1][:14])
    np.testing.assert_array_equal(outs["ar"][0][14:], a[14:])
    np.testing.assert_array_equal(outs["ar"][1][14:], b[14:])
    assert not np.array_equal(outs["diffusion"][0][:14], outs["diffusion"][1][:14])


@pytest.mark.slow
def test_ar_does_use_context_before_the_hole(tiny, test_set):
    a, b = test_set[0][0], test_set[0][1]
    bottom = masks.preset("bottom-half")
    ab = [_run(tiny["ar"], family="ar", seed=1, guidance=0.0, source=masks.as_grid(s),
               mask=masks.as_grid(bottom)).images[0] for s in (a, b)]
    assert not np.array_equal(ab[0][14:], ab[1][14:])


def test_real_diffusion_few_steps_keeps_pixels(diffusion_model, test_set):
    src = test_set[0][4]
    mask = masks.preset("random-blocks", 2)
    r = _run(diffusion_model[0], family="diffusion", steps=3, seed=0, batch=2,
             class_label=int(test_set[1][4]), source=masks.as_grid(src), mask=masks.as_grid(mask))
    assert (r.images[:, mask == 0] == src[mask == 0]).all()


@pytest.mark.slow
def test_real_models_fill_better_than_a_black_hole(diffusion_model, ar_model, test_set):
    x = test_set[0][:8]
    mask = masks.preset("center-square")
    black = ((x[:, mask == 1] / 255.0) ** 2).mean()
    for fam, model in (("diffusion", diffusion_model[0]), ("ar", ar_model[0])):
        r = _run(model, family=fam, guidance=0.0, batch=8, seed=0, source=masks.as_grid(x),
                 mask=masks.as_grid(mask))
        mse = (((r.images[:, mask == 1].astype(float) - x[:, mask == 1]) / 255.0) ** 2).mean()
        assert mse < black / 2, (fam, mse, black)


# --- CLI --------------------------------------------------------------------------------------
def _cli(*args):
    from desktopgen.cli import main
    return main(["inpaint", *map(str, args)])


FAST = ("--family", "diffusion", "--steps", "2", "--device", "cpu")


def test_cli_png_with_recipe_and_npz(tmp_path, test_set, capsys):
    from desktopgen.export.images import RECIPE_KEY

    ex = sorted((Path(__file__).parents[1] / "resources" / "examples").glob("*.png"))[0]
    assert _cli(*FAST, "--image", ex, "--mask", "top-half", "--n", "2", "--out", tmp_path / "a.png") == 0
    meta = json.loads(Image.open(tmp_path / "a.png").text[RECIPE_KEY])
    req = SampleRequest.from_dict(meta["request"])
    assert np.array_equal(np.array(req.mask), masks.preset("top-half")) and req.guidance == 0.0
    out = tmp_path / "a.npz"
    assert _cli(*FAST, "--image", ex, "--mask", "center-square", "--class", "9", "--out", out) == 0
    z = np.load(tmp_path / "a.npz")
    assert z["images"].shape == z["masks"].shape == z["sources"].shape == (1, 28, 28)
    assert z["images"].dtype == z["masks"].dtype == z["sources"].dtype == np.uint8
    assert (z["images"][0][z["masks"][0] == 0] == z["sources"][0][z["masks"][0] == 0]).all()
    assert "Imported" in capsys.readouterr().err


def test_cli_batch_of_test_images(tmp_path, test_set):
    np.savez(tmp_path / "in.npz", images=test_set[0][:5])
    assert _cli(*FAST, "--images", tmp_path / "in.npz", "--mask", "bottom-half", "--batch", "2",
                "--out", tmp_path / "o.npz") == 0
    z = np.load(tmp_path / "o.npz")
    np.testing.assert_array_equal(z["sources"], test_set[0][:5])
    m = masks.preset("bottom-half")
    assert (z["images"][:, m == 0] == test_set[0][:5][:, m == 0]).all()
    assert (z["masks"] == m).all()


def test_cli_bad_input_one_line_and_no_file(tmp_path, capsys):
    ex = tmp_path / "x.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(ex)
    (tmp_path / "t.txt").write_text("no")
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "none.png")
    np.savez(tmp_path / "bad.npz", pictures=np.zeros((2, 28, 28), np.uint8))
    cases = [
        (("--image", tmp_path / "t.txt", "--mask", "top-half"), "not an image"),
        (("--image", ex, "--mask", "middle"), "neither a preset"),
        (("--image", ex, "--mask", tmp_path / "none.png"), "covers no pixel"),
        (("--images", tmp_path / "bad.npz", "--mask", "top-half"), "no `images`"),
        (("--image", ex, "--mask", "top-half", "--resample", "0"), "resample"),
    ]
    for args, words in cases:
        out = tmp_path / "out.png"
        assert _cli(*FAST, *args, "--out", out) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert err and words in err[-1] and err[-1].startswith("desktopgen: error:"), (args, err)
        assert not out.exists()
    (tmp_path / "exists.png").write_bytes(b"keep me")
    assert _cli(*FAST, "--image", ex, "--mask", "top-half", "--out", tmp_path / "exists.png") == 2
    assert (tmp_path / "exists.png").read_bytes() == b"keep me"


def test_cli_whole_mask_is_plain_generation(tmp_path, capsys):
    ex = tmp_path / "x.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(ex)
    Image.fromarray(np.full((28, 28), 255, np.uint8)).save(tmp_path / "all.png")
    assert _cli(*FAST, "--image", ex, "--mask", tmp_path / "all.png", "--out", tmp_path / "o.npz") == 0
    assert "plain generation" in capsys.readouterr().err
