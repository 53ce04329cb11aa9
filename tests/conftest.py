"""Test set-up: Qt offscreen, CPU only, a few threads; shared fixtures."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ["CUDA_VISIBLE_DEVICES"] = ""  # tests use the CPU, as CI does

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def diffusion_model():
    from desktopgen import sampling
    return sampling.load("diffusion", "", "cpu")


@pytest.fixture(scope="session")
def ar_model():
    from desktopgen import sampling
    return sampling.load("ar", "", "cpu")


@pytest.fixture(scope="session")
def classifier():
    from desktopgen.core import checkpoints
    return checkpoints.load_model("fmnist-classifier", "cpu")[0]


@pytest.fixture(scope="session")
def test_set():
    from desktopgen.data import fmnist
    return fmnist.load("test")
