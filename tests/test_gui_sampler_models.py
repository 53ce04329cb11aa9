"""The diffusion side's samplers and models go together: each sampler row names its model,
choosing a sampler switches to a model that can run it (its own by default), choosing a model
switches to a sampler it runs, and a model of the wrong kind never runs (the engine refuses it,
the window says why). Tiny stand-in models in a temporary models folder ($DESKTOPGEN_MODELS),
so the flow rows are testable before fmnist-flow is trained."""

from __future__ import annotations

import pytest
import torch
from PySide6.QtCore import QObject, Slot

from desktopgen import nets
from desktopgen.core import checkpoints, samplers
from desktopgen.core.requests import SampleRequest
from desktopgen.gui.controls import ControlPanel
from desktopgen.gui.workers import Job, WorkerThread, running_threads

TINY_UNET = {"channels": 32, "mults": [1], "blocks": 1, "attn_res": []}
TINY_AR = {"n_layer": 1, "n_head": 2, "n_embd": 32}


def _save(root, name, arch, config):
    torch.manual_seed(0)
    checkpoints.save_model(nets.build(arch, config), root / name, {"note": "test stand-in"})


@pytest.fixture
def models(tmp_path, monkeypatch):
    """fmnist-diffusion, fmnist-flow, a second flow model and an inpainting U-Net, all tiny."""
    _save(tmp_path, "fmnist-diffusion", "unet", TINY_UNET)
    _save(tmp_path, "fmnist-flow", "shortcut_unet", TINY_UNET)
    _save(tmp_path, "my-flow", "shortcut_unet", TINY_UNET)
    _save(tmp_path, "fmnist-inpaint", "inpaint_unet", TINY_UNET)
    _save(tmp_path, "fmnist-pixel-ar", "pixel_ar", TINY_AR)
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    return tmp_path


@pytest.fixture
def panel(qtbot, models):
    p = ControlPanel()
    qtbot.addWidget(p)
    return p


def choose(combo, data) -> None:
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)


def test_torch_free_kind_table_agrees_with_the_networks():
    """The GUI's torch-free ARCH_KIND says what nets.KINDS says, for every architecture a
    diffusion sampler runs (an architecture it does not know runs only as its sampler's
    default model: the panel falls back to the name)."""
    assert checkpoints.ARCH_KIND.items() <= nets.KINDS.items()
    assert {"unet", "shortcut_unet", "inpaint_unet", "pixel_ar"} <= checkpoints.ARCH_KIND.keys()


def test_every_sampler_row_names_its_model(panel):
    combo = panel.sampler_combo["diffusion"]
    for i, spec in enumerate(samplers.samplers_for("diffusion")):
        assert combo.itemText(i) == f"{spec.label} — {spec.default_model}"
        assert combo.model().item(i).isEnabled(), spec.name  # every model is in the folder
    assert combo.itemText(combo.findData("few-step")) == "Few-step (shortcut model) — fmnist-flow"


def test_choosing_a_sampler_switches_to_the_model_it_needs(panel):
    f = "diffusion"
    assert panel.model_name(f) == "fmnist-diffusion"
    choose(panel.sampler_combo[f], "few-step")
    assert panel.model_name(f) == "fmnist-flow"
    req = panel.request_for(f)
    assert (req.model, req.sampler) == ("fmnist-flow", "few-step") and 1 <= req.steps <= 4
    choose(panel.sampler_combo[f], "ddim")
    assert panel.model_name(f) == "fmnist-diffusion"


def test_few_step_guidance_follows_the_step_count_until_the_user_sets_it(panel):
    """Its measured best guidance is 2 at 4 steps and 1.5 at 1 step (the table's guidance_at)."""
    f, g = "diffusion", panel.guidance_spin["diffusion"]
    choose(panel.sampler_combo[f], "few-step")
    assert panel.steps_spin[f].value() == 4 and g.value() == 2.0
    panel.steps_spin[f].setValue(1)
    assert g.value() == 1.5 and panel.request_for(f).guidance == 1.5
    panel.steps_spin[f].setValue(3)
    assert g.value() == 2.0
    g.setValue(3.0)  # the user's own choice stays
    panel.steps_spin[f].setValue(1)
    assert g.value() == 3.0
    choose(panel.sampler_combo[f], "ddim")  # ... across a sampler switch too
    assert g.value() == 3.0
    g.setValue(2.0)  # DDIM's default: untouched, so the next sampler brings its own
    choose(panel.sampler_combo[f], "dpmpp-2m")
    assert g.value() == samplers.get_sampler("dpmpp-2m").guidance == 1.5


def test_a_compatible_model_the_user_picked_is_kept(panel):
    f = "diffusion"
    choose(panel.model_combo[f], "my-flow")  # a flow model: the sampler follows it
    assert panel.sampler(f).model_kind == "flow"
    choose(panel.sampler_combo[f], "few-step")  # my-flow can run it: it stays
    assert panel.model_name(f) == "my-flow"
    choose(panel.sampler_combo[f], "flow-heun")
    assert panel.model_name(f) == "my-flow"
    choose(panel.model_combo[f], "fmnist-inpaint")  # runs the diffusion samplers (no mask: all hole)
    assert panel.sampler(f).model_kind == "diffusion-unet"
    choose(panel.sampler_combo[f], "ddpm")
    assert panel.model_name(f) == "fmnist-inpaint"


def test_the_panel_never_pairs_a_model_with_a_sampler_it_cannot_run(panel):
    f = "diffusion"
    for model in ("fmnist-diffusion", "fmnist-flow", "my-flow", "fmnist-inpaint"):
        choose(panel.model_combo[f], model)
        for spec in samplers.samplers_for(f):
            choose(panel.sampler_combo[f], spec.name)
            req = panel.request_for(f)
            kind = checkpoints.model_kind(req.model)
            assert samplers.fits(samplers.get_sampler(req.sampler), kind), (model, spec.name, kind)


def test_a_recipe_with_a_model_that_cannot_run_its_sampler_says_so(panel):
    problems = panel.restore_request(SampleRequest("diffusion", model="fmnist-diffusion",
                                                   sampler="few-step", steps=4))
    assert panel.model_name("diffusion") == "fmnist-flow"
    assert any("cannot run few-step" in p for p in problems), problems
    assert panel.restore_request(SampleRequest("diffusion", model="my-flow", sampler="few-step",
                                               steps=2)) == []
    assert panel.model_name("diffusion") == "my-flow"


class Outcome(QObject):
    def __init__(self, worker):
        super().__init__()
        self.events, self.done, self.failed = [], [], []
        worker.event.connect(self.on_event)
        worker.finished.connect(self.on_done)
        worker.failed.connect(self.on_failed)

    @Slot(object)
    def on_event(self, e):
        self.events.append(e)

    @Slot(object)
    def on_done(self, d):
        self.done.append(d)

    @Slot(object)
    def on_failed(self, f):
        self.failed.append(f)


@pytest.fixture
def worker(models):
    wt = WorkerThread("diffusion")
    yield wt.worker
    wt.stop()
    assert not running_threads()


def test_worker_loads_the_model_the_sampler_needs(qtbot, worker):
    out = Outcome(worker)
    worker.submit(Job(1, SampleRequest("diffusion", sampler="few-step", steps=2, batch=1), "cpu"))
    qtbot.waitUntil(lambda: bool(out.done or out.failed), timeout=60000)
    assert not out.failed, out.failed[0].message
    assert out.done[0].card["name"] == "fmnist-flow" and out.done[0].request.model == "fmnist-flow"


def test_worker_never_runs_a_model_of_the_wrong_kind(qtbot, worker):
    """A request pairing few-step with the diffusion U-Net (a hand-edited recipe, say) fails
    before its first step with one clear sentence: nothing is sampled with the wrong model."""
    out = Outcome(worker)
    worker.submit(Job(1, SampleRequest("diffusion", model="fmnist-diffusion", sampler="few-step",
                                       steps=2, batch=1), "cpu"))
    qtbot.waitUntil(lambda: bool(out.done or out.failed), timeout=60000)
    assert not out.done and not out.events
    msg = out.failed[0].message
    assert "few-step needs a flow model" in msg and "fmnist-diffusion" in msg and "\n" not in msg


def test_race_few_step_picks_the_flow_model_by_itself(models, tmp_path, monkeypatch, capsys):
    """`desktopgen race --diffusion-sampler few-step` without --diffusion-model runs fmnist-flow
    (it used to load fmnist-diffusion and fail); recording is stubbed: only the choice matters."""
    import numpy as np
    from export_helpers import fake_trace

    from desktopgen import cli, sampling
    from desktopgen.core.events import RunResult
    from desktopgen.export import record as record_mod

    used = {}

    def fake_record(model, req, device="cpu", on_event=None):
        used[req.family] = (type(model).__name__, req.model)
        req = sampling.with_defaults(req)
        tr = fake_trace(req.family, req.steps, 0.3, batch=req.batch)
        res = RunResult(req.family, tr.frames[-1][2], np.zeros(req.batch, np.int64), req.steps,
                        tr.duration, 1, "process", "cpu")
        return req, res, tr

    monkeypatch.setattr(record_mod, "record", fake_record)
    rc = cli.main(["race", "--diffusion-sampler", "few-step", "--clip", str(tmp_path / "r.gif"),
                   "--fps", "4", "--seconds", "1", "--size", "32", "--device", "cpu"])
    assert rc == 0, capsys.readouterr().err
    assert used["diffusion"] == ("ShortcutUNet", "fmnist-flow")
