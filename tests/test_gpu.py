"""The CUDA paths: CUDA-graph pixel-AR decoding, bf16 autocast sampling, bf16 training steps.

Run on a CUDA machine with `pytest -m gpu` (or `pytest tests/test_gpu.py`); skipped without CUDA.
conftest.py hides the GPUs from the tests (CUDA_VISIBLE_DEVICES=""), so that a plain `pytest`
stays on the CPU as CI does. When the command line asks for these tests, this module shows the
GPUs again before anything initialises CUDA (nothing in the engine does at import time).
"""

import os
import sys

if os.environ.get("CUDA_VISIBLE_DEVICES") == "" and "gpu" in " ".join(sys.argv[1:]):
    del os.environ["CUDA_VISIBLE_DEVICES"]  # set by conftest.py for the CPU-only tests

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from desktopgen import sampling  # noqa: E402
from desktopgen.core.requests import SampleRequest  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _run(gen):
    """Drain a sampler generator; its return value is the RunResult."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


@pytest.fixture(scope="module")
def ar_cuda():
    return sampling.load("ar", "", "cuda")[0]  # bf16 weights on CUDA (sampling.load)


@pytest.fixture(scope="module")
def unet_cuda():
    return sampling.load("diffusion", "", "cuda")[0]  # fp32 weights; sampled in graphs.unet_form()


def _fp32_images(unet, req, monkeypatch):
    """The request's images from the U-Net in true fp32 on CUDA (no autocast, no bf16 copy, no
    TF32); the monkeypatches stay for the rest of the test."""
    from desktopgen.sampling import diffusion

    monkeypatch.setattr(diffusion, "autocast_dtype", lambda device: None)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    return _run(diffusion.sample(unet, req, "cuda", preview_every=0)).images


def _assert_within_bf16(images, fp32):
    """bf16 moves pixels a little, never the image: mean under 1 grey level, 99 % within 4."""
    diff = np.abs(images.astype(np.int16) - fp32.astype(np.int16))
    assert diff.mean() < 1.0 and np.percentile(diff, 99) <= 4, (diff.mean(), np.percentile(diff, 99))


@pytest.mark.parametrize("guidance, top_k", [(1.0, 0), (1.5, 0), (2.0, 20)])
def test_cuda_graph_pixel_ar_decode_equals_eager_decode(ar_cuda, guidance, top_k):
    """The captured decode step replays the very kernels the eager step runs, on the same
    buffers: the same seed gives the same tokens, bit for bit. (With cuDNN's attention, PyTorch's
    default on an H200, even two eager runs differed: see nets/attention.py.)"""
    from desktopgen.sampling import ar

    req = SampleRequest(family="ar", sampler="pixel", guidance=guidance, top_k=top_k, seed=7,
                        batch=8, class_label=None)
    graph = _run(ar.sample(ar_cuda, req, "cuda", preview_every=0, cuda_graph=True))
    eager = _run(ar.sample(ar_cuda, req, "cuda", preview_every=0, cuda_graph=False))
    assert graph.extra["cuda_graph"] is True and eager.extra["cuda_graph"] is False
    assert np.array_equal(graph.images, eager.images)
    assert graph.images.std() > 20  # real images, not a blank that would trivially agree


def test_cuda_pixel_ar_sample_i_ignores_the_batch(ar_cuda):
    """Through the Triton step (the CUDA default): sample i of a batch of 3 is sample 0 of a batch
    of 1 started at index i, bit for bit (rows never mix: each row's sums run in one fixed order)."""
    from desktopgen.sampling import ar

    def run(batch, first):
        req = SampleRequest(family="ar", sampler="pixel", seed=5, batch=batch, first_index=first,
                            class_label=None)
        return _run(ar.sample(ar_cuda, req, "cuda", preview_every=0))

    three, one = run(3, 0), run(1, 1)
    assert three.extra["cuda_graph"] and np.array_equal(three.images[1], one.images[0])


def test_cuda_graph_decode_is_reusable_across_runs(ar_cuda):
    """Two graph runs with different seeds differ; the same seed again gives the same images
    (the captured graph holds no state from the run before)."""
    from desktopgen.sampling import ar

    def run(seed):
        req = SampleRequest(family="ar", sampler="pixel", seed=seed, batch=4)
        return _run(ar.sample(ar_cuda, req, "cuda", preview_every=0)).images

    a, b, a2 = run(1), run(2), run(1)
    assert np.array_equal(a, a2) and not np.array_equal(a, b)


def test_bf16_diffusion_sample_is_close_to_fp32_and_reproducible(unet_cuda, monkeypatch):
    """Same seed and deterministic sampler (DDIM, 20 steps, guidance 2), in the default U-Net form
    (graphs.unet_form; bf16 autocast when this test was written): bf16 may move pixels a little
    (bf16 keeps 8 bits of mantissa), never change the image. Measured on an H200 (torch 2.11,
    autocast): mean |bf16 - fp32| 0.20 grey levels, 99th percentile 1, max 12; fp32 CUDA vs CPU
    mean 0.0001, max 1. Tolerances: mean under 1 level, 99% within 4; CUDA vs CPU mean under 0.05.
    And bf16 is bit-for-bit reproducible (nets/attention.py keeps cuDNN's attention out)."""
    from desktopgen.sampling import diffusion

    req = SampleRequest(family="diffusion", sampler="ddim", steps=20, guidance=2.0, seed=11,
                        batch=16)
    bf16 = _run(diffusion.sample(unet_cuda, req, "cuda", preview_every=0)).images
    bf16_again = _run(diffusion.sample(unet_cuda, req, "cuda", preview_every=0)).images
    assert np.array_equal(bf16, bf16_again)
    fp32 = _fp32_images(unet_cuda, req, monkeypatch)
    _assert_within_bf16(bf16, fp32)
    unet_cpu = sampling.load("diffusion", "", "cpu")[0]
    cpu = _run(diffusion.sample(unet_cpu, req, "cpu", preview_every=0)).images
    d_cpu = np.abs(cpu.astype(np.int16) - fp32.astype(np.int16))
    assert d_cpu.mean() < 0.05, d_cpu.mean()


@pytest.mark.parametrize("model_name, arch", [
    ("diffusion", {"channels": 32, "mults": [1, 2], "blocks": 1, "attn_res": [7]}),
    ("ar", {"n_layer": 2, "n_head": 2, "n_embd": 64}),
    ("classifier", {"width": 16, "feature_dim": 32}),
])
def test_training_steps_run_under_bf16_on_cuda(model_name, arch, tmp_path):
    from desktopgen.core import checkpoints
    from desktopgen.train.loop import TrainConfig, train

    out = tmp_path / model_name
    cfg = TrainConfig(model=model_name, out=str(out), steps=30, batch=32, limit=512, device="cuda",
                      arch=arch, warmup=5, checkpoint_every=20)
    card = train(cfg)
    assert card["precision"] == "bf16 autocast" and card["steps"] == 30
    assert np.isfinite(card["final_loss"]) and card["device"].endswith("x1")
    model, _ = checkpoints.load_model(str(out), "cuda")
    assert next(model.parameters()).is_cuda
    cfg.steps, cfg.resume = 40, True
    assert train(cfg)["steps"] == 40


def _graph_matches_eager(module, model, sampler, steps):
    """Shared by the diffusion and flow checks: a graphed run, then another request graphed and
    eager, then the first request graphed again (see the two tests' docstrings)."""
    from desktopgen.sampling import graphs

    def run(req, graph):
        return _run(module.sample(model, req, "cuda", preview_every=0, cuda_graph=graph))

    a = SampleRequest(family="diffusion", sampler=sampler, steps=steps, guidance=2.0, seed=3, batch=16)
    b = a.with_(seed=4, class_label=7)
    first = run(a, True)
    network = graphs.in_form(model, torch.device("cuda"), torch.bfloat16)[0]  # the form it ran in
    assert first.extra["cuda_graph"] is True and network in graphs._captures
    graph_b, eager_b, again_a = run(b, True), run(b, False), run(a, True)
    assert eager_b.extra["cuda_graph"] is False
    assert np.array_equal(first.images, again_a.images)
    diff = np.abs(graph_b.images.astype(np.int16) - eager_b.images.astype(np.int16))
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 2, (diff.mean(), np.percentile(diff, 99))
    assert graph_b.images.std() > 20 and not np.array_equal(graph_b.images, first.images)


@pytest.mark.parametrize("sampler, steps", [("ddim", 20), ("dpmpp-2m", 4), ("ddpm", 4)])
def test_cuda_graph_diffusion_equals_eager_within_bf16(unet_cuda, sampler, steps):
    """The guided U-Net call replayed from a CUDA graph (channels-last, bf16 autocast) makes the
    eager run's images: the same kernels on the same inputs, so equal or, where cuBLAS/cuDNN pick
    another algorithm under capture, within bf16 rounding (mean under 0.5 grey levels, 99% within
    2). The capture is kept and reused by the next run of the same shapes: that run's own seed
    and classes must reach the graph (they are inputs, not captured constants), and the same
    request graphed twice gives the same bits."""
    from desktopgen.sampling import diffusion

    _graph_matches_eager(diffusion, unet_cuda, sampler, steps)


@pytest.fixture(scope="module")
def flow_cuda():
    return sampling.load("diffusion", "fmnist-flow", "cuda")[0]


@pytest.mark.parametrize("sampler, steps", [("few-step", 4), ("few-step", 1), ("flow-heun", 3)])
def test_cuda_graph_flow_equals_eager_within_bf16(flow_cuda, sampler, steps):
    """The shortcut U-Net's call replayed from a CUDA graph (t and the step size d are inputs of
    the graph, so Heun's two calls per step share one capture) makes the eager run's images within
    bf16 rounding, like the diffusion samplers' graph; another run's seed and classes reach it."""
    from desktopgen.sampling import flow

    _graph_matches_eager(flow, flow_cuda, sampler, steps)


def test_compiled_unet_call_matches_the_uncompiled_graph_within_bf16(unet_cuda):
    """torch.compile of the U-Net call (graphs.set_compile), replayed from its own CUDA graph,
    makes the uncompiled graph's images within bf16 rounding: Inductor fuses the same maths in
    another order (tools/unet_speed_probe.py on the H200, 20 steps at batch 100: mean |diff| 0.17
    grey levels). A second compiled run reuses the capture and gives the same bits."""
    from desktopgen.sampling import diffusion

    req = SampleRequest(family="diffusion", sampler="dpmpp-2m", steps=20, guidance=2.0, seed=3, batch=16)

    def run(compile):
        return _run(diffusion.sample(unet_cuda, req, "cuda", preview_every=0, compile=compile))

    plain, compiled, again = run(False), run(True), run(True)
    assert plain.extra["compiled"] is False and compiled.extra["compiled"] is True
    assert np.array_equal(compiled.images, again.images)
    diff = np.abs(compiled.images.astype(np.int16) - plain.images.astype(np.int16))
    assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 4, (diff.mean(), np.percentile(diff, 99))
    assert compiled.images.std() > 20


@pytest.mark.parametrize("form", ["autocast-cl", "autocast-nchw", "bf16-cl", "bf16-nchw", "fp16-nchw"])
def test_every_unet_form_makes_the_fp32_images_within_bf16(unet_cuda, form, monkeypatch):
    """Each U-Net form (graphs.UNET_FORMS: bf16 autocast or a bf16 copy of the network,
    channels-last or not), graphed, makes the fp32 run's images within bf16 rounding (the
    tolerance of the bf16 autocast test above), and the same bits when run again (the copy and
    its capture are reused)."""
    from desktopgen.sampling import diffusion, graphs

    req = SampleRequest(family="diffusion", sampler="dpmpp-2m", steps=20, guidance=1.5, seed=11,
                        batch=16)
    monkeypatch.setitem(graphs._form, "name", form)
    first = _run(diffusion.sample(unet_cuda, req, "cuda", preview_every=0)).images
    again = _run(diffusion.sample(unet_cuda, req, "cuda", preview_every=0)).images
    assert np.array_equal(first, again)
    if not form.startswith("autocast"):
        assert graphs.in_form(unet_cuda, torch.device("cuda"), torch.bfloat16)[0] is not unet_cuda
    fp32 = _fp32_images(unet_cuda, req, monkeypatch)
    _assert_within_bf16(first, fp32)
    assert first.std() > 20


def test_seeded_uniforms_are_the_same_numbers_on_cuda():
    """seeding.uniforms (the AR samplers' draws on CUDA) is exact integer arithmetic: the GPU's
    numbers are the CPU's."""
    from desktopgen.sampling import seeding

    assert torch.equal(seeding.uniforms(9, 50, 196, "cuda").cpu(), seeding.uniforms(9, 50, 196, "cpu"))


def test_memory_probe_reads_the_allocators_figures():
    """MemoryProbe.read takes both figures from one statistics dict: they are what PyTorch's
    getters say."""
    from desktopgen.core.device import MemoryProbe

    dev = torch.device("cuda")
    probe = MemoryProbe(dev)
    x = torch.empty(1 << 20, device=dev)
    assert probe.read(force=True) == (torch.cuda.memory_allocated(dev), torch.cuda.max_memory_allocated(dev))
    del x
