"""Every bad input listed in issue 8 gets one line on stderr and exit 2 (or 1 for the
environment), and no file is lost; internal errors are called so, with --debug for the traceback."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format
from PIL import Image

from desktopgen.cli import main

DIFF = ["sample", "--family", "diffusion", "--steps", "1", "--device", "cpu"]


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("desktopgen: error:") and "\n" not in err, err
    return err


@pytest.mark.parametrize("args", [
    [*DIFF, "--n", "1", "--guidance", "nan", "--out", "x.png"],
    [*DIFF, "--n", "1", "--guidance", "NaN", "--out", "x.png"],
    [*DIFF, "--n", "1", "--guidance", "inf", "--out", "x.png"],
    ["sample", "--family", "ar", "--n", "1", "--temperature", "nan", "--out", "x.png"],
    ["race", "--diffusion-guidance", "nan", "--clip", "x.mp4"],
    ["race", "--clip", "x.mp4", "--seconds", "nan"],
    ["race", "--clip", "x.mp4", "--hold=-inf"],
    ["inpaint", "--family", "diffusion", "--image", "a.png", "--mask", "top-half", "--guidance", "nan",
     "--class", "1", "--out", "x.png"],
    ["train", "diffusion", "--out", "m", "--lr", "nan"],
    ["train", "diffusion", "--out", "m", "--minutes", "inf"],
])
def test_non_finite_numbers_are_refused(args, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert "finite" in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_grid_png_records_the_real_batch(tmp_path):
    from desktopgen.export.recall import read_recipe

    out = tmp_path / "g.png"
    assert main([*DIFF, "--n", "4", "--batch", "3", "--seed", str(2**63 - 1), "--out", str(out)]) == 0
    req = read_recipe(out).request
    assert (req.batch, req.first_index, req.seed) == (4, 0, 2**63 - 1)


def _bad_npz_files(tmp_path):
    np.save(tmp_path / "renamed.npy", np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "renamed.npy").rename(tmp_path / "renamed.npz")
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": (10**9, 28, 28)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("images.npy", buf.getvalue() + b"\0" * 64)
    (tmp_path / "garbage.npz").write_bytes(b"\x01\x02 not a zip" * 50)
    return {"renamed.npz": ".npy file", "huge.npz": "(1000000000, 28, 28)", "garbage.npz": "not an .npz file"}


def test_inpaint_bad_npz_gets_one_line(tmp_path, capsys):
    for name, words in _bad_npz_files(tmp_path).items():
        out = tmp_path / "o.png"
        rc = main(["inpaint", "--family", "diffusion", "--steps", "1", "--device", "cpu", "--images",
                   str(tmp_path / name), "--mask", "top-half", "--out", str(out)])
        err = one_line(capsys)
        assert rc == 2 and words in err and "pickle" not in err, (name, err)
        assert not out.exists()


def test_eval_json_path_is_checked_before_evaluating(tmp_path, capsys, monkeypatch):
    import desktopgen.engine as engine

    def boom(*a, **k):
        raise AssertionError("evaluated before the --json path was checked")

    monkeypatch.setattr(engine, "evaluate", boom)
    (tmp_path / "old.json").write_text("keep")
    base = ["eval", "--family", "classifier", "--device", "cpu", "--json"]
    for target, words in [("r.txt", "must end in .json"), ("nofolder/r.json", "does not exist"),
                          ("old.json", "--overwrite")]:
        assert main([*base, str(tmp_path / target)]) == 2
        assert words in one_line(capsys)
    assert (tmp_path / "old.json").read_text() == "keep"


def test_eval_writes_strict_json_and_warns_at_small_n(tmp_path, capsys, monkeypatch):
    import desktopgen.engine as engine

    seen = {}

    def fake(cfg, on_event=None):
        seen["cfg"] = cfg
        return {"rows": [{"fd": 3.2, "kid": float("nan")}], "model": "x", "warnings": cfg.warnings()}

    monkeypatch.setattr(engine, "evaluate", fake)
    out = tmp_path / "r.json"
    assert main(["eval", "--family", "diffusion", "--n", "100", "--device", "cpu", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    assert "n=100 is small" in err and "FD and KID mean little" in err
    assert seen["cfg"].n == 100 and seen["cfg"].family == "diffusion"  # data, not a Namespace
    assert json.loads(out.read_text()) == {"rows": [{"fd": 3.2, "kid": None}], "model": "x",
                                           "warnings": seen["cfg"].warnings()}
    assert main(["eval", "--family", "diffusion", "--n", "1000", "--device", "cpu", "--json", str(out),
                 "--overwrite"]) == 0
    assert "small" not in capsys.readouterr().err


def test_full_disk_names_the_file(tmp_path, capsys, monkeypatch):
    def full(f, **arrays):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full)
    out = tmp_path / "x.npz"
    assert main([*DIFF, "--n", "1", "--out", str(out)]) == 1
    assert f"cannot write {out}: No space left on device" in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_file_created_during_the_run_is_kept(tmp_path, capsys, monkeypatch):
    import desktopgen.engine as engine

    out = tmp_path / "x.png"
    real = engine.sample_images

    def meanwhile(*a, **k):
        result = real(*a, **k)
        out.write_bytes(b"another run's")  # appears after the start-up check
        return result

    monkeypatch.setattr(engine, "sample_images", meanwhile)
    assert main([*DIFF, "--n", "1", "--out", str(out)]) == 1
    assert "appeared while writing" in one_line(capsys)
    assert out.read_bytes() == b"another run's" and [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_internal_errors_are_not_dressed_as_user_errors(tmp_path, capsys, monkeypatch):
    import desktopgen.engine as engine

    def bug(*a, **k):
        return np.zeros(3) + np.zeros(4)  # a ValueError from inside numpy: our bug, not the user's

    monkeypatch.setattr(engine, "sample_images", bug)
    args = [*DIFF, "--n", "1", "--out", str(tmp_path / "x.png")]
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("desktopgen: internal error: ValueError") and "--debug" in err and "\n" not in err
    with pytest.raises(ValueError, match="broadcast"):
        main(["--debug", *args])
    assert list(tmp_path.iterdir()) == []


def test_progress_is_per_step(tmp_path, monkeypatch):
    from desktopgen.commands import _progress

    bars = []

    class Recorder:
        def __init__(self, total, desc, unit="step"):
            self.n = 0
            bars.append(self)

        def update(self, k):
            self.n += k

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(_progress, "bar", Recorder)
    assert main(["sample", "--family", "diffusion", "--steps", "3", "--device", "cpu", "--n", "3",
                 "--batch", "2", "--out", str(tmp_path / "p.npz")]) == 0
    assert [b.n for b in bars] == [2 * 3]  # two chunks of three steps, each step counted


def test_progress_is_quiet_when_not_a_terminal(tmp_path):
    r = subprocess.run([sys.executable, "-m", "desktopgen", *DIFF, "--n", "2",
                        "--out", str(tmp_path / "q.npz")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "" and r.stdout.startswith("wrote ")


def test_png_written_is_recallable_and_not_replaced_by_a_second_run(tmp_path, capsys):
    out = tmp_path / "a.png"
    assert main([*DIFF, "--n", "2", "--out", str(out)]) == 0
    first = out.read_bytes()
    assert main([*DIFF, "--n", "2", "--seed", "9", "--out", str(out)]) == 2
    assert out.read_bytes() == first and Image.open(out).size[0] >= 256


@pytest.mark.parametrize("arch,words", [('{"n_layer": NaN}', "NaN"), ("[" * 100_000, "nested too deeply"),
                                        ("[4]", "JSON object"), ("{nope", "not JSON")])
def test_train_arch_json_is_strict(arch, words, capsys, tmp_path):
    assert main(["train", "diffusion", "--out", str(tmp_path / "m"), "--arch", arch]) == 2
    assert words in one_line(capsys) and list(tmp_path.iterdir()) == []
