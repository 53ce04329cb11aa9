"""Headless export: `desktopgen sample --clip`, `desktopgen race`, and the subcommand registry."""

from __future__ import annotations

import types

import imageio.v3 as iio
import numpy as np
import pytest
from export_helpers import fake_trace
from PIL import Image

from desktopgen import cli
from desktopgen.export.recall import read_recipe


def test_sample_writes_png_and_clip(tmp_path, capsys):
    out, clip = tmp_path / "s.png", tmp_path / "s.mp4"
    rc = cli.main(["sample", "--family", "diffusion", "--steps", "3", "--n", "2", "--batch", "2",
                   "--seed", "5", "--device", "cpu", "--out", str(out), "--clip", str(clip),
                   "--fps", "6", "--seconds", "2", "--hold", "0.5", "--size", "64"])
    assert rc == 0, capsys.readouterr().err
    frames = iio.imread(clip, index=None)
    assert frames.shape[0] == 12 + 3  # 2 s at 6 fps, + the hold
    assert frames.shape[-1] == 3 and frames.shape[1] % 16 == 0
    assert read_recipe(out).request.steps == 3
    # the clip ends on the images the PNG holds: its last frame's tile matches the grid
    from desktopgen.export.composite import HEADER, MARGIN, fit
    from desktopgen.export.images import grid

    g = grid(np.zeros((2, 28, 28), np.uint8))  # 32 x 62
    big = np.asarray(Image.open(out))
    factor = 512 // 62  # upscaled like the GUI's image export (longer side ~512 px), not 2x
    assert big.shape == (32 * factor, 62 * factor)
    png = big[::factor, ::factor]
    tile = fit(png, 64)
    got = frames[-1][HEADER : HEADER + 64, MARGIN : MARGIN + 64, 0].astype(int)
    assert np.abs(got - tile).mean() < 6
    assert png.shape == g.shape


def test_sample_refuses_existing_clip_before_sampling(tmp_path, capsys):
    out, clip = tmp_path / "s.png", tmp_path / "s.gif"
    clip.write_bytes(b"old")
    rc = cli.main(["sample", "--family", "ar", "--n", "1", "--out", str(out), "--clip", str(clip)])
    err = capsys.readouterr().err
    assert rc == 2 and "exists" in err and "--overwrite" in err
    assert clip.read_bytes() == b"old" and not out.exists()


@pytest.mark.parametrize("args,message", [
    (["--clip", "x.avi"], "must end in"),
    (["--clip", "nofolder/x.mp4"], "does not exist"),
    (["--clip", "x.mp4", "--fps", "0"], "fps must be"),
    (["--clip", "x.mp4", "--align", "sideways"], "invalid choice"),
    (["--clip", "x.mp4", "--out", "x.bmp"], "--out"),
])
def test_race_argument_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["race", *args]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_race_writes_composite_and_both_recipes(tmp_path, monkeypatch, capsys):
    """The race plumbing with recorded traces standing in for the (slow on CPU) real runs."""
    import desktopgen.export.record as record_mod
    from desktopgen import sampling
    from desktopgen.core.events import RunResult

    def fake_record(model, req, device="cpu", on_event=None):
        req = sampling.with_defaults(req)
        tr = fake_trace(req.family, req.steps, 0.3 if req.family == "diffusion" else 1.5, batch=req.batch)
        res = RunResult(req.family, tr.frames[-1][2], np.zeros(req.batch, np.int64), req.steps,
                        tr.duration, 1, "process", "cpu")
        return req, res, tr

    monkeypatch.setattr(record_mod, "record", fake_record)
    monkeypatch.setattr(sampling, "load", lambda fam, name="", dev="cpu": (None, {
        "name": f"fake-{fam}", "sha256": "ab" * 32}))
    clip, out = tmp_path / "race.gif", tmp_path / "race.png"
    rc = cli.main(["race", "--class", "7", "--seed", "3", "--clip", str(clip), "--out", str(out),
                   "--align", "progress", "--fps", "4", "--seconds", "2", "--hold", "0",
                   "--size", "48", "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    frames = iio.imread(clip, index=None)
    assert 2 <= len(frames) <= 8 and frames.shape[2] > 2 * 48  # two panels side by side
    recipe = read_recipe(out)
    assert set(recipe.requests) == {"diffusion", "ar"}
    assert all(r.class_label == 7 and r.seed == 3 for r in recipe.requests.values())
    assert recipe.requests["ar"].steps == 784 and recipe.requests["diffusion"].model == "fake-diffusion"
    # run again: refused without --overwrite, accepted with it
    again = ["race", "--clip", str(clip), "--fps", "4", "--seconds", "1", "--device", "cpu"]
    assert cli.main(again) == 2
    assert cli.main([*again, "--overwrite"]) == 0


@pytest.mark.slow
def test_race_end_to_end(tmp_path):
    clip = tmp_path / "race.mp4"
    assert cli.main(["race", "--class", "1", "--seed", "0", "--diffusion-steps", "4", "--clip", str(clip),
                     "--fps", "5", "--max-seconds", "3", "--device", "cpu"]) == 0
    frames = iio.imread(clip, index=None)
    assert frames.shape[0] >= 10 + 5 and frames.shape[-1] == 3


def test_commands_register_themselves(monkeypatch, capsys):
    """A desktopgen/commands/*.py module adds a subcommand without touching cli.py."""
    from desktopgen import commands

    seen = {}

    def register(sub):
        p = sub.add_parser("hello")
        p.add_argument("--name", default="x")

    def run(args):
        seen["name"] = args.name
        return 7

    fake = types.SimpleNamespace(register=register, run=run)
    real = commands.discover
    monkeypatch.setattr(commands, "discover", lambda: [*real(), fake])
    assert "race" in [m.__name__.rsplit(".", 1)[-1] for m in real()]
    assert cli.main(["hello", "--name", "ada"]) == 7 and seen == {"name": "ada"}
    assert cli.main(["hello", "--bogus"]) == 2  # the shared one-line usage errors apply


def test_sigterm_while_encoding_a_clip_leaves_nothing(tmp_path):
    """`desktopgen race` killed by SIGTERM mid-clip: no hidden temp file, no clip, exit 143."""
    import os
    import signal
    import subprocess
    import sys
    import textwrap
    from pathlib import Path

    import desktopgen

    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import numpy as np
        from export_helpers import fake_trace
        from desktopgen import cli, sampling
        from desktopgen.core.events import RunResult
        from desktopgen.export import clips, record as record_mod

        def fake_record(model, req, device="cpu", on_event=None):
            req = sampling.with_defaults(req)
            tr = fake_trace(req.family, 10, 0.5, batch=1)
            return req, RunResult(req.family, tr.frames[-1][2], np.zeros(1, np.int64), 10, 0.5, 1,
                                  "process", "cpu"), tr

        real = clips.iter_frames
        def slow(sides, opts):
            for frame in real(sides, opts):
                print("frame", flush=True)
                time.sleep(0.3)
                yield frame

        record_mod.record = fake_record
        sampling.load = lambda fam, name="", dev="cpu": (None, {{"name": fam, "sha256": "ab" * 32}})
        clips.iter_frames = slow
        sys.exit(cli.main(["race", "--clip", {str(tmp_path / "race.gif")!r}, "--fps", "10",
                           "--seconds", "5", "--size", "32", "--device", "cpu"]))
    """)
    root = str(Path(desktopgen.__file__).parents[1])
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": root})
    for _ in range(3):
        assert proc.stdout.readline().strip() == "frame", proc.stderr.read()
    assert [p.name for p in tmp_path.iterdir()][0].startswith(".race.")  # the temp file, mid-write
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    assert list(tmp_path.iterdir()) == []
