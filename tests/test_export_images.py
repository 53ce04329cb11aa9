"""Image export and recall: formats read back, the recipe round-trips, recall regenerates the same
pixels on the CPU, and bad targets or files give clear errors."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from desktopgen import __version__, sampling
from desktopgen.core.requests import SampleRequest
from desktopgen.export.images import (
    RECIPE_KEY,
    ExportError,
    export_image,
    grid,
    save_grid_png,
    single_request,
)
from desktopgen.export.recall import RecallError, has_recipe, read_recipe, recall_request


@pytest.fixture(scope="module")
def diffusion_run(diffusion_model):
    """A real 4-step diffusion batch of 3 (class None: samples get classes 0, 1, 2)."""
    model, card = diffusion_model
    req = sampling.with_defaults(SampleRequest("diffusion", model=card["name"], model_sha256=card["sha256"],
                                               steps=4, batch=3, seed=1234))
    result = sampling.run_to_end(sampling.sample(model, req, "cpu", preview_every=0))
    return req, result


def test_grid_png_reads_back_with_recipe(tmp_path, diffusion_run):
    req, res = diffusion_run
    p = export_image(tmp_path / "grid.png", {"diffusion": (req, res)}, size=200)
    img = Image.open(p)
    g = grid(res.images)  # 2x2 grid of 28 px + 2 px pads = 62 px; 200 // 62 = 3
    assert img.mode == "L" and img.size == (g.shape[1] * 3, g.shape[0] * 3)
    back = np.asarray(img)
    assert np.array_equal(back[::3, ::3], g)  # nearest-neighbour: every 3x3 block is one pixel
    meta = json.loads(img.text[RECIPE_KEY])  # standard tools see the recipe as a text chunk
    assert meta["request"] == req.to_dict()
    assert meta["app_version"] == __version__ and meta["device"] == "cpu"
    assert meta["elapsed"] > 0 and "batch_index" not in meta
    assert meta["request"]["model_sha256"] == req.model_sha256 != ""
    recipe = read_recipe(p)
    assert recipe.request == req and recipe.batch_index is None and has_recipe(p)


def test_single_sample_recall_is_bit_exact(tmp_path, diffusion_model, diffusion_run):
    req, res = diffusion_run
    p = export_image(tmp_path / "one.png", {"diffusion": (req, res)}, index=2, size=28)
    assert np.array_equal(np.asarray(Image.open(p)), res.images[2])
    back = recall_request(p, "diffusion")
    assert (back.batch, back.first_index, back.seed) == (1, 2, req.seed)
    assert read_recipe(p).batch_index == 2
    again = sampling.run_to_end(sampling.sample(diffusion_model[0], back, "cpu", preview_every=0))
    assert np.array_equal(again.images[0], res.images[2])
    assert again.labels[0] == res.labels[2] == 2


@pytest.mark.parametrize("suffix", [".webp", ".jpg"])
def test_webp_and_jpeg_carry_the_recipe(tmp_path, diffusion_run, suffix):
    req, res = diffusion_run
    p = export_image(tmp_path / f"img{suffix}", {"diffusion": (req, res)}, index=0, size=112)
    img = Image.open(p)
    assert img.size == (112, 112)
    diff = np.abs(np.asarray(img.convert("L"), np.int16) - np.repeat(np.repeat(res.images[0], 4, 0), 4, 1))
    assert diff.mean() < (1 if suffix == ".webp" else 6)  # WebP is written lossless
    assert read_recipe(p).request == single_request(req, 0)


def test_both_sides_image_holds_both_requests(tmp_path, diffusion_run):
    req, res = diffusion_run
    ar_req = req.with_(family="ar", model="fmnist-pixel-ar", sampler="pixel", steps=784, seed=99)
    p = export_image(tmp_path / "both.png", {"diffusion": (req, res), "ar": (ar_req, res)}, size=120)
    img = Image.open(p)
    assert img.mode == "RGB" and img.size[0] > 2 * 120
    recipe = read_recipe(p)
    assert recipe.requests == {"diffusion": req, "ar": ar_req}


def test_old_save_grid_png_still_recallable(tmp_path, diffusion_run):
    req, res = diffusion_run
    save_grid_png(tmp_path / "cli.png", res.images, req)
    assert read_recipe(tmp_path / "cli.png").request == req


def test_existing_file_is_refused_unless_overwrite(tmp_path, diffusion_run):
    req, res = diffusion_run
    p = tmp_path / "a.png"
    p.write_bytes(b"keep me")
    with pytest.raises(ExportError, match="exists"):
        export_image(p, {"diffusion": (req, res)})
    assert p.read_bytes() == b"keep me"
    export_image(p, {"diffusion": (req, res)}, overwrite=True)
    assert read_recipe(p).request == req


def test_read_only_folder_gives_a_clear_error(tmp_path, diffusion_run, monkeypatch):
    req, res = diffusion_run
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if os.geteuid() == 0:  # root may write anywhere: make the folder look read-only to the check
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(ro) else real(p, mode))
    try:
        with pytest.raises(ExportError, match="not writable"):
            export_image(ro / "x.png", {"diffusion": (req, res)})
    finally:
        ro.chmod(0o700)


def test_unwritable_paths_give_clear_errors(tmp_path, diffusion_run):
    req, res = diffusion_run
    with pytest.raises(ExportError, match="does not exist"):
        export_image(tmp_path / "missing" / "x.png", {"diffusion": (req, res)})
    (tmp_path / "f").write_bytes(b"")
    with pytest.raises(ExportError, match="is a file, not a folder"):
        export_image(tmp_path / "f" / "x.png", {"diffusion": (req, res)})
    with pytest.raises(ExportError, match="must end in"):
        export_image(tmp_path / "x.bmp", {"diffusion": (req, res)})
    with pytest.raises(ExportError, match="not in a batch"):
        export_image(tmp_path / "x.png", {"diffusion": (req, res)}, index=3)
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # nothing half-written, no temp files


def test_failed_write_leaves_nothing(tmp_path, diffusion_run, monkeypatch):
    """A write that fails midway (a full disk, say) removes its temp file and keeps the old file."""
    req, res = diffusion_run
    p = tmp_path / "x.png"
    p.write_bytes(b"old")

    def full_disk(self, fp, *a, **k):
        with open(fp, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        export_image(p, {"diffusion": (req, res)}, overwrite=True)
    assert [f.name for f in tmp_path.iterdir()] == ["x.png"] and p.read_bytes() == b"old"


def test_recall_errors_are_clear(tmp_path):
    plain = tmp_path / "plain.png"
    Image.new("L", (4, 4)).save(plain)
    with pytest.raises(RecallError, match="no DesktopGen recipe"):
        read_recipe(plain)
    assert not has_recipe(plain)
    (tmp_path / "junk.png").write_bytes(b"not an image at all")
    with pytest.raises(RecallError, match="not a readable image"):
        read_recipe(tmp_path / "junk.png")
    with pytest.raises(RecallError, match="no such file"):
        read_recipe(tmp_path / "nope.png")
    from PIL import PngImagePlugin

    for bad, why in [("{not json", "not JSON"), ('{"request": {"family": "gan"}}', "family"),
                     ('{"request": {"family": "ar", "colour": 1}}', "unknown request fields"),
                     ('{"app_version": "0.1.0"}', "holds no request"), ("[1, 2]", "JSON object")]:
        info = PngImagePlugin.PngInfo()
        info.add_text(RECIPE_KEY, bad)
        p = tmp_path / "broken.png"
        Image.new("L", (4, 4)).save(p, pnginfo=info)
        with pytest.raises(RecallError, match=why):
            read_recipe(p)


def test_inpainting_mask_round_trips(tmp_path, diffusion_run):
    req, res = diffusion_run
    source = tuple(tuple((r * 9 + c) % 256 for c in range(28)) for r in range(28))
    mask = tuple(tuple(int(8 <= r < 20 and 8 <= c < 20) for c in range(28)) for r in range(28))
    inpaint = req.with_(source=source, mask=mask, resample=2, jump=3)
    p = export_image(tmp_path / "inpaint.png", {"diffusion": (inpaint, res)}, index=1)
    back = read_recipe(p).request
    assert back.mask == mask and back.source == source and (back.resample, back.jump) == (2, 3)
    assert back == single_request(inpaint, 1)


@pytest.mark.slow
def test_ar_single_sample_recall_is_bit_exact(tmp_path, ar_model):
    model, card = ar_model
    req = sampling.with_defaults(SampleRequest("ar", model=card["name"], model_sha256=card["sha256"],
                                               batch=2, seed=77, class_label=None))
    res = sampling.run_to_end(sampling.sample(model, req, "cpu", preview_every=0))
    p = export_image(tmp_path / "ar.png", {"ar": (req, res)}, index=1)
    again = sampling.run_to_end(sampling.sample(model, recall_request(p), "cpu", preview_every=0))
    assert np.array_equal(again.images[0], res.images[1])
