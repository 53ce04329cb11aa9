"""Test set-up: Qt offscreen, CPU only, a few threads; shared fixtures."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
os.environ["CUDA_VISIBLE_DEVICES"] = ""  # tests use the CPU, as CI does

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session", autouse=True)
def _gc_on_the_gui_thread(request):
    """As in the app (desktopgen.gui.gc_guard): a cycle of Qt objects left by one test and
    freed by the collector on a worker thread of another deadlocks Qt. None where Qt is not
    installed (an engine-only machine, e.g. the GPU box for `pytest -m gpu`)."""
    try:
        import PySide6  # noqa: F401
        import pytestqt  # noqa: F401
    except ImportError:
        return None
    request.getfixturevalue("qapp")
    from desktopgen.gui import gc_guard

    return gc_guard.install(interval_s=0.5)


@pytest.fixture(autouse=True)
def _collect_between_tests(_gc_on_the_gui_thread):
    yield
    if _gc_on_the_gui_thread is not None:
        _gc_on_the_gui_thread.check()  # on this (the GUI) thread, by the usual thresholds


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
