"""nets/rows.py: the image sampler's CPU path runs the U-Net a few rows per call and makes the
same images as one call (the video sampler's tests, bit for bit, are in test_video_diffusion.py)."""

import numpy as np
import pytest
import torch

from desktopgen import nets, sampling
from desktopgen.core.requests import SampleRequest
from desktopgen.nets import rows
from desktopgen.sampling import diffusion
from desktopgen.sampling.masks import as_grid, preset

TINY = {"channels": 32, "mults": [1], "blocks": 1, "attn_res": []}


def _random(arch):
    torch.manual_seed(0)
    m = nets.build(arch, TINY).eval()
    with torch.no_grad():
        for p in m.parameters():  # the zero-initialised output would hide every path
            p.normal_(0, 0.1)
    return m


def _rows_seen(model):
    seen = []
    model.stem.register_forward_hook(lambda mod, inp, out: seen.append(len(inp[0])))
    return seen


def test_split_call_repeats_the_condition_before_splitting():
    calls = []

    def fn(x, t, y, cond):
        calls.append(len(x))
        per_row = cond.sum((1, 2, 3)) + y + t
        return x * 2 + per_row[:, None, None, None]

    x, t, y = torch.randn(6, 1, 2, 2), torch.arange(6.0), torch.tensor([0, 1, 2, 10, 10, 10])
    cond = torch.randn(3, 2, 2, 2)  # one per sample of a batch doubled for guidance
    whole = fn(x, t, y, cond.repeat(2, 1, 1, 1))
    calls.clear()
    assert torch.equal(rows.split_call(fn, x, t, y, cond, 4), whole) and calls == [4, 2]
    with pytest.raises(ValueError):
        rows.ByRows(torch.nn.Identity(), 0)


def test_plain_unet_by_rows_matches_one_call_to_rounding():
    """The image U-Net's embedding MLP is a batched matmul, so a split's output differs from one
    call's by float rounding (~2e-7 here), not more; the uint8 images below come out equal."""
    m = _random("unet")
    x, t, y = torch.randn(6, 1, 28, 28), torch.rand(6) * 999, torch.tensor([1, 2, 3, 10, 10, 10])
    seen = _rows_seen(m)
    with torch.no_grad():
        whole = m(x, t, y)
        split = rows.by_rows(m, 2)(x, t, y)
    assert seen == [6, 2, 2, 2]
    torch.testing.assert_close(split, whole, rtol=0, atol=1e-5)
    assert rows.by_rows(m, None) is m


@pytest.mark.parametrize("guidance", [0.0, 2.0])
def test_cpu_images_are_made_a_few_rows_per_call_with_the_same_bits(monkeypatch, guidance):
    m = _random("unet")
    seen = _rows_seen(m)
    req = SampleRequest(family="diffusion", sampler="ddim", steps=2, batch=5, seed=3, guidance=guidance)
    monkeypatch.setattr(diffusion, "CPU_ROWS", None)
    whole = sampling.run_to_end(sampling.sample(m, req)).images
    n = 10 if guidance else 5
    assert set(seen) == {n}
    seen.clear()
    monkeypatch.setattr(diffusion, "CPU_ROWS", 4)
    split = sampling.run_to_end(sampling.sample(m, req)).images
    assert set(seen) == ({4, 2} if guidance else {4, 1})
    assert np.array_equal(whole, split)


def test_inpainting_model_split_keeps_each_samples_mask(monkeypatch):
    """Per-sample sources and masks with guidance: each split carries its own samples' condition."""
    m = _random("inpaint_unet")
    seen = _rows_seen(m)
    sources = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    masks = np.stack([preset("bottom-half"), preset("center-square"), preset("random-blocks", 3)])
    req = SampleRequest(family="diffusion", sampler="ddim", steps=2, batch=3, seed=1, guidance=2.0,
                        source=as_grid(sources), mask=as_grid(masks))
    monkeypatch.setattr(diffusion, "CPU_ROWS", None)
    whole = sampling.run_to_end(sampling.sample(m, req)).images
    seen.clear()
    monkeypatch.setattr(diffusion, "CPU_ROWS", 4)
    split = sampling.run_to_end(sampling.sample(m, req)).images
    assert set(seen) == {4, 2}
    assert np.array_equal(whole, split)
