"""The torch.compile switch of the U-Net call (sampling/graphs.py): CUDA only, off by default,
a compiler failure falls back to the uncompiled call. (Compiled == uncompiled within bf16 on a
GPU: tests/test_gpu.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from desktopgen import nets, sampling
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import diffusion, graphs


def double(x):
    return 2 * x


@pytest.fixture
def spy_compile(monkeypatch):
    calls = []

    def fake(fn, **kw):
        calls.append(kw)
        return lambda *a: fn(*a) + 1  # a "compiled" function that is told apart by its output

    monkeypatch.setattr(torch, "compile", fake)
    monkeypatch.setattr(graphs, "_compile", {"on": False})
    return calls


def test_compiles_only_on_cuda_and_only_when_switched_on(spy_compile):
    x = torch.ones(3)
    assert graphs.maybe_compile(double, "cpu", True) is double
    assert graphs.maybe_compile(double, "cuda", False) is double
    assert graphs.maybe_compile(double, "cuda") is double  # the switch is off
    graphs.set_compile(True)
    assert graphs.compile_enabled()
    f = graphs.maybe_compile(double, "cuda")
    assert isinstance(f, graphs.Compiled) and torch.equal(f(x), 2 * x + 1)
    assert spy_compile == [{"dynamic": False}]
    assert graphs.maybe_compile(double, "cpu") is double  # never on the CPU


def test_a_compiler_failure_falls_back_to_the_uncompiled_call(monkeypatch, caplog):
    def broken(fn, **kw):
        def run(*a):
            raise RuntimeError("no C compiler")
        return run

    monkeypatch.setattr(torch, "compile", broken)
    f = graphs.Compiled(double)
    x = torch.arange(4.0)
    assert torch.equal(f(x), 2 * x) and f.compiled is None
    assert "torch.compile failed" in caplog.text
    assert torch.equal(f(x), 2 * x)


def test_the_switch_leaves_cpu_sampling_bit_for_bit_unchanged(spy_compile):
    torch.manual_seed(0)
    model = nets.build("unet", {"channels": 32, "mults": [1], "blocks": 1, "attn_res": []}).eval()
    req = SampleRequest(family="diffusion", sampler="ddim", steps=2, seed=5, batch=2)

    def run(**kw):
        return sampling.run_to_end(diffusion.sample(model, req, "cpu", preview_every=0, **kw))

    off = run()
    graphs.set_compile(True)
    on, forced = run(), run(compile=True)
    assert off.extra["compiled"] is False and on.extra["compiled"] is False
    assert np.array_equal(off.images, on.images) and np.array_equal(off.images, forced.images)
    assert spy_compile == []


def test_the_environment_variable_turns_it_on(monkeypatch):
    import importlib

    monkeypatch.setenv("DESKTOPGEN_COMPILE", "1")
    try:
        assert importlib.reload(graphs).compile_enabled()
        monkeypatch.setenv("DESKTOPGEN_COMPILE", "0")
        assert not importlib.reload(graphs).compile_enabled()
    finally:
        monkeypatch.delenv("DESKTOPGEN_COMPILE")
        importlib.reload(graphs)


def test_the_app_option_sets_the_switch_and_is_remembered(qtbot, tmp_path, monkeypatch):
    """Image menu > "Compile the U-Net (CUDA)": checking it turns the switch on for the next runs
    (graphs directly once loaded, and $DESKTOPGEN_COMPILE for an engine not imported yet) and is
    kept in the settings; a new window starts with it as it was left."""
    import os

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QWidget

    from desktopgen.core.flags import COMPILE_ENV
    from desktopgen.gui.menus import compile_toggle
    from desktopgen.gui.settings import COMPILE_KEY

    monkeypatch.setattr(graphs, "_compile", {"on": False})
    monkeypatch.setenv(COMPILE_ENV, "0")
    host = QWidget()
    qtbot.addWidget(host)
    st = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    act = compile_toggle(host, st)
    assert act.isEnabled() and not act.isChecked() and "20 s" in act.toolTip()
    act.trigger()
    assert graphs.compile_enabled() and os.environ[COMPILE_ENV] == "1"
    assert st.value(COMPILE_KEY) in (True, "true")
    graphs.set_compile(False)  # a new window reads the saved choice back
    monkeypatch.setenv(COMPILE_ENV, "0")
    again = compile_toggle(host, QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    assert again.isChecked() and graphs.compile_enabled() and os.environ[COMPILE_ENV] == "1"
    again.trigger()
    assert not graphs.compile_enabled() and os.environ[COMPILE_ENV] == "0"
    assert st.value(COMPILE_KEY) in (False, "false")
