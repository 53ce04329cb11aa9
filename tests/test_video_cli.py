"""`desktopgen video`: clips of either family to .npz or a played grid, seeded per clip, and one
line + exit 2 for bad input."""

import json
import sys
import types

import numpy as np
import pytest
import torch
from PIL import Image

from desktopgen import nets
from desktopgen.cli import main
from desktopgen.core import checkpoints
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.export.images import EXIF_DESCRIPTION
from desktopgen.sampling import video, video_diffusion

TINY = {"channels": 8, "mults": [1, 1, 2], "blocks": 1, "temporal_res": [12], "head_dim": 8}
BASE = ["video", "--family", "diffusion", "--steps", "1", "--device", "cpu", "--frames", "3"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    m = nets.build("video_unet", TINY)
    with torch.no_grad():
        for p in m.parameters():
            if not p.abs().sum():
                p.normal_(0, 0.1)
    checkpoints.save_model(m, root / video_diffusion.DEFAULT_MODEL, {"model": "video-diffusion"})
    return root


@pytest.fixture(autouse=True)
def _models_dir(models, monkeypatch):
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(models))


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("desktopgen: error:") and "\n" not in err, err
    return err


def test_npz_holds_videos_and_labels(tmp_path):
    out = tmp_path / "v.npz"
    assert main([*BASE, "--n", "3", "--class", "7", "--out", str(out)]) == 0
    with np.load(out) as z:
        assert z["videos"].shape == (3, 3, 48, 48) and z["videos"].dtype == np.uint8
        assert z["labels"].tolist() == [7, 7, 7]


def test_clip_i_depends_only_on_seed_and_i(tmp_path):
    def videos(batch, n=3, seed=5):
        out = tmp_path / f"b{batch}-{n}-{seed}.npz"
        args = [*BASE, "--n", str(n), "--batch", str(batch), "--seed", str(seed)]
        assert main([*args, "--out", str(out)]) == 0
        with np.load(out) as z:
            return z["videos"], z["labels"]
    v3, l3 = videos(3)
    v1, l1 = videos(1)
    assert np.array_equal(v1, v3) and np.array_equal(l1, l3)  # bit for bit
    assert l3.tolist() == [0, 1, 2]  # no --class: clip i gets class i mod 10
    assert np.array_equal(videos(2, n=2)[0], v3[:2])
    assert not np.array_equal(videos(3, seed=6)[0], v3)


def _gif_recipe(path):
    with Image.open(path) as im:
        n = im.n_frames
        text = im.info["comment"].decode()
    return n, text


@pytest.mark.parametrize("suffix", [".gif", ".webp", ".mp4"])
def test_played_grid_with_the_recipe(tmp_path, suffix):
    out = tmp_path / f"v{suffix}"
    assert main([*BASE, "--n", "4", "--seed", "9", "--out", str(out), "--size", "96"]) == 0
    assert out.is_file() and out.stat().st_size > 0
    if suffix == ".mp4":
        import imageio.v3 as iio
        assert iio.imread(out, index=None).shape[0] == 3  # one video frame per clip frame
        return
    if suffix == ".gif":
        n, text = _gif_recipe(out)
    else:
        with Image.open(out) as im:
            n, text = im.n_frames, im.getexif()[EXIF_DESCRIPTION]
    assert n == 3 and text.startswith("desktopgen:")
    meta = json.loads(text[len("desktopgen:"):])
    assert meta["request"]["seed"] == 9 and meta["request"]["batch"] == 4
    assert meta["request"]["model"] == video_diffusion.DEFAULT_MODEL
    assert len(meta["request"]["model_sha256"]) == 64
    assert meta["video"]["frames"] == 3 and meta["video"]["n"] == 4 and meta["video"]["sampler"] == "dpmpp-2m"
    # the defaults are written in: the recipe regenerates these clips after a default changes
    assert meta["request"]["guidance"] == video_diffusion.DEFAULT_GUIDANCE
    assert meta["request"]["sampler"] == "dpmpp-2m" and meta["request"]["steps"] == 1


def test_the_video_ar_recipe_holds_its_default_guidance():
    from desktopgen.sampling import video_ar

    req = SampleRequest(family="ar", batch=2)
    assert video_ar.with_defaults(req).guidance == video_ar.DEFAULT_GUIDANCE
    assert video_ar.with_defaults(req.with_(guidance=2.5)).guidance == 2.5


def test_longer_than_one_block(tmp_path):
    out = tmp_path / "long.npz"
    assert main([*BASE[:-1], "18", "--n", "1", "--out", str(out)]) == 0
    with np.load(out) as z:
        assert z["videos"].shape == (1, 18, 48, 48)


@pytest.mark.parametrize("args,words", [
    (["--frames", "0"], "frames must be between 1"),
    (["--frames", "300"], "frames must be between 1"),
    (["--n", "0"], "n must be between"),
    (["--batch", "1000"], "batch must be between"),
    (["--seed", "-1"], "seed must be between"),
    (["--class", "10"], "class must be between"),
    (["--steps", "0"], "steps must be between"),
    (["--sampler", "flow-euler"], "video diffusion samplers"),
    (["--sampler", "pixel"], "video diffusion samplers"),
    (["--model", "nope"], "not found"),
    (["--device", "tpu"], "unknown device"),
    (["--n", "300", "--out-suffix", ".gif"], "at most 256 clips"),
    (["--n", "10000", "--frames", "64"], "too many frames"),
    (["--out-suffix", ".png"], "must end in"),
])
def test_bad_input_is_one_line_and_exit_2(args, words, tmp_path, capsys):
    suffix = ".npz"
    if "--out-suffix" in args:
        i = args.index("--out-suffix")
        suffix, args = args[i + 1], args[:i] + args[i + 2:]
    args = [*BASE, "--n", "1", *args] if "--n" not in args else [*BASE, *args]
    assert main([*args, "--out", str(tmp_path / f"x{suffix}")]) == 2
    assert words in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_existing_file_is_kept_without_overwrite(tmp_path, capsys):
    out = tmp_path / "v.npz"
    out.write_bytes(b"keep")
    assert main([*BASE, "--n", "1", "--out", str(out)]) == 2
    assert "--overwrite" in one_line(capsys) and out.read_bytes() == b"keep"


def test_missing_default_model_says_how_to_train_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    assert main([*BASE, "--n", "1", "--out", str(tmp_path / "v.npz")]) == 2
    assert "train video-diffusion" in one_line(capsys)


def test_ar_family_without_its_sampler_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(video, "MODULES", {**video.MODULES, "ar": "desktopgen.sampling.no_such_video_ar"})
    assert main(["video", "--family", "ar", "--n", "1", "--out", str(tmp_path / "v.npz")]) == 2
    err = one_line(capsys)
    assert "video sampler" in err and "not in this build" in err


def _fake_ar_module():
    """A stand-in for vidar's desktopgen.sampling.video_ar, following notes/video-api.md."""
    mod = types.ModuleType("fake_video_ar")
    mod.DEFAULT_MODEL = "fake-ar"
    calls = []

    def load(name="", device="cpu"):
        return object(), {"name": name or "fake-ar", "sha256": "f" * 64}

    def sample_video(model, request, frames, device="cpu", preview_every=1):
        calls.append((request, frames))
        clips = np.zeros((request.batch, frames, 48, 48), np.uint8)
        for i in range(request.batch):  # clip i from (seed, first_index + i) only
            rng = np.random.default_rng([request.seed, request.first_index + i])
            clips[i] = rng.integers(0, 256, (frames, 48, 48))
        for t in range(frames):
            yield StepEvent(family="ar", step=t + 1, total=frames, elapsed=0.0, preview=clips, position=t)
        return RunResult(family="ar", images=clips, labels=np.asarray(request.labels()), steps=frames,
                         elapsed=0.0, peak_memory=0, mem_kind="process", device=str(device),
                         extra={"frames": frames, "window": 16, "cuda_graph": False,
                                "codes": np.zeros((request.batch, frames, 12, 12), np.int32)})

    mod.load, mod.sample_video, mod.calls = load, sample_video, calls
    return mod


def test_ar_family_goes_through_the_video_ar_contract(tmp_path, monkeypatch):
    fake = _fake_ar_module()
    monkeypatch.setitem(sys.modules, video.MODULES["ar"], fake)
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    args = ["video", "--family", "ar", "--frames", "5", "--n", "3", "--seed", "2", "--temperature", "0.9",
            "--device", "cpu"]
    assert main([*args, "--batch", "2", "--out", str(a)]) == 0
    assert main([*args, "--batch", "3", "--out", str(b)]) == 0
    with np.load(a) as za, np.load(b) as zb:
        assert za["videos"].shape == (3, 5, 48, 48) and np.array_equal(za["videos"], zb["videos"])
    req, frames = fake.calls[1]
    assert (req.family, req.model, req.temperature, req.first_index, req.batch, frames) == \
        ("ar", "fake-ar", 0.9, 2, 1, 5)


def test_ar_played_grid_embeds_its_settings_not_its_codes(tmp_path, monkeypatch):
    """Video AR's RunResult.extra carries every generated code (an array): the embedded recipe
    keeps the settings (frames, window) and leaves the codes out (it once failed on them)."""
    monkeypatch.setitem(sys.modules, video.MODULES["ar"], _fake_ar_module())
    out = tmp_path / "a.gif"
    assert main(["video", "--family", "ar", "--frames", "4", "--n", "2", "--device", "cpu",
                 "--out", str(out)]) == 0
    n, text = _gif_recipe(out)
    meta = json.loads(text[len("desktopgen:"):])
    assert n == 4 and meta["video"]["frames"] == 4 and meta["video"]["window"] == 16
    assert "codes" not in meta["video"] and meta["video"]["cuda_graph"] is False
