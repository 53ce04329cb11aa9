"""The speed paths give the same samples as the plain ones: pixel AR's CPU decode over the filled
cache only (vs the static, masked cache the GPU keeps), and the diffusion sampler's denoiser with
its CUDA-graph switch off on the CPU. Tiny random models: the properties do not depend on training.
"""

import numpy as np
import pytest
import torch

from desktopgen import sampling
from desktopgen.core.requests import SampleRequest
from desktopgen.nets.pixel_ar import PixelAR, PixelARConfig
from desktopgen.sampling import ar, masks


def _tiny_ar(seq_len: int = 784, n_layer: int = 2) -> PixelAR:
    torch.manual_seed(0)
    model = PixelAR(PixelARConfig(n_layer=n_layer, n_head=2, n_embd=32, dropout=0.0,
                                  seq_len=seq_len)).eval()
    with torch.no_grad():  # bigger weights than the 0.02 init: peaked, varied pixel distributions
        for p in model.parameters():
            p.mul_(25.0)
    return model


@pytest.fixture(scope="module")
def tiny_ar():
    return _tiny_ar(seq_len=96)  # the decoder does not care that 96 is no square image


def _decoders(model, **kw):
    req = sampling.with_defaults(SampleRequest(family="ar", seed=5, batch=3, **kw))
    w = req.guidance
    return ar._Decoder(model, req, torch.device("cpu"), w), ar._Decoder(model, req, torch.device("cpu"), w)


@pytest.mark.parametrize("kw", [
    dict(guidance=1.5),  # the default: doubled batch, log-prob mixing
    dict(guidance=1.0, temperature=0.7, top_k=20),
    dict(guidance=0.0),
])
def test_filled_cache_decode_gives_the_static_cache_samples_bit_for_bit(tiny_ar, kw):
    """The CPU path (slots 0..p, no mask) samples every pixel exactly as the masked full cache:
    both softmaxes see the same finite scores (the masked slots add exact zeros), so the logits
    agree to float rounding and, on this seed, every token is identical."""
    old, new = _decoders(tiny_ar, **kw)
    for p in range(tiny_ar.config.seq_len):
        old.step()
        new.step_at(p)
    assert int(old.pos) == tiny_ar.config.seq_len
    assert torch.equal(old.pixels, new.pixels)
    assert old.pixels.unique().numel() > 20  # a real image's worth of different values, not a constant


def test_filled_cache_logits_match_the_masked_cache(tiny_ar):
    """Step by step, fed the same tokens, the two decode steps' logits agree within float32
    rounding (the only difference is the order of the softmax sums' zero terms)."""
    c = tiny_ar.config
    y = torch.tensor([3, 10])
    ka, kb = tiny_ar.new_cache(2, "cpu"), tiny_ar.new_cache(2, "cpu")
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 256, (2, c.seq_len), generator=g)
    worst = 0.0
    with torch.no_grad():
        for p in range(c.seq_len):
            tok = tokens[:, p - 1] if p else tokens[:, 0]
            a = tiny_ar.decode_step(tok, y, torch.tensor([p]), ka)
            b = tiny_ar.decode_step_at(tok, y, p, kb)
            worst = max(worst, (a - b).abs().max().item())
    assert worst <= 1e-4 * max(1.0, tiny_ar.head.weight.abs().max().item())
    assert torch.equal(ka.k, kb.k) and torch.equal(ka.v, kb.v)  # the caches hold the same keys


def test_cpu_sampler_takes_the_filled_cache_path_and_keeps_inpainted_pixels(test_set):
    tiny_ar = _tiny_ar(n_layer=1)
    src = test_set[0][:2]
    mask = masks.preset("bottom-half")
    req = SampleRequest(family="ar", seed=2, batch=2, source=masks.as_grid(src),
                        mask=masks.as_grid(mask))
    r = sampling.run_to_end(sampling.sample(tiny_ar, req, "cpu", preview_every=0))
    assert r.extra["decode"] == "filled cache" and not r.extra["cuda_graph"]
    np.testing.assert_array_equal(r.images[:, mask == 0], src[:, mask == 0])


def test_diffusion_graph_switch_is_off_on_the_cpu_and_changes_nothing():
    """The CUDA-graph path is CUDA only: on the CPU `cuda_graph=True` runs the eager network
    call, the same images bit for bit, and says so."""
    from desktopgen.nets.unet import UNet, UNetConfig
    from desktopgen.sampling import diffusion, graphs

    torch.manual_seed(0)
    unet = UNet(UNetConfig(channels=32, mults=(1, 1), blocks=1, attn_res=(), dropout=0.0)).eval()
    req = SampleRequest(family="diffusion", sampler="ddim", steps=3, guidance=2.0, seed=4, batch=2)
    on = sampling.run_to_end(diffusion.sample(unet, req, "cpu", preview_every=0, cuda_graph=True))
    off = sampling.run_to_end(diffusion.sample(unet, req, "cpu", preview_every=0, cuda_graph=False))
    assert on.extra["cuda_graph"] is False and np.array_equal(on.images, off.images)
    fn = lambda x: x * 2  # noqa: E731
    assert graphs.capture(fn, (torch.ones(2),)) is fn  # CPU tensors: no capture
