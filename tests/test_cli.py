"""The command line: files it writes, and one-line errors with exit status 2 for nonsense."""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from desktopgen.cli import main


def test_sample_writes_a_png_grid_and_an_npz(tmp_path, capsys):
    png = tmp_path / "d.png"
    assert main(["sample", "--family", "diffusion", "--n", "12", "--steps", "3", "--out", str(png),
                 "--device", "cpu"]) == 0
    img = Image.open(png)
    assert img.mode == "L" and img.size[0] > 28 * 3 and "desktopgen" in img.text
    npz = tmp_path / "d.npz"
    assert main(["sample", "--family", "diffusion", "--n", "12", "--steps", "3", "--class", "7",
                 "--seed", "3", "--out", str(npz), "--device", "cpu"]) == 0
    data = np.load(npz)
    assert data["images"].shape == (12, 28, 28) and data["images"].dtype == np.uint8
    assert data["labels"].dtype == np.int64 and (data["labels"] == 7).all()


def test_sample_without_class_cycles_classes(tmp_path):
    npz = tmp_path / "c.npz"
    assert main(["sample", "--family", "diffusion", "--n", "13", "--steps", "2", "--batch", "5",
                 "--out", str(npz), "--device", "cpu"]) == 0
    assert np.load(npz)["labels"].tolist() == [i % 10 for i in range(13)]


def test_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "x.npz"
    out.write_bytes(b"keep me")
    assert main(["sample", "--family", "diffusion", "--n", "1", "--steps", "1", "--out", str(out)]) == 2
    assert out.read_bytes() == b"keep me"
    assert "--overwrite" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["sample", "--family", "diffusion", "--n", "4", "--steps", "0", "--out", "x.png"],
    ["sample", "--family", "diffusion", "--n", "0", "--out", "x.png"],
    ["sample", "--family", "diffusion", "--n", "4", "--seed", "-1", "--out", "x.png"],
    ["sample", "--family", "diffusion", "--n", "4", "--batch", "1000000", "--out", "x.png"],
    ["sample", "--family", "gan", "--n", "4", "--out", "x.png"],
    ["sample", "--family", "ar", "--n", "4", "--out", "x.jpg"],
    ["sample", "--family", "ar", "--n", "4", "--out", "x.png", "--steps", "10"],
    ["sample", "--family", "diffusion", "--n", "4", "--out", "x.png", "--sampler", "euler"],
    ["sample", "--family", "diffusion", "--n", "4", "--out", "x.png", "--model", "nope"],
    ["sample", "--family", "diffusion", "--n", "4", "--out", "x.png", "--device", "cuda"],
    ["train", "gan", "--out", "x"],
])
def test_nonsense_gets_one_line_and_exit_2(args, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("desktopgen: error:") and "\n" not in err, err
    assert not (tmp_path / "x.png").exists()


def test_console_entry_point_runs_help():
    r = subprocess.run([sys.executable, "-m", "desktopgen", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "sample" in r.stdout
