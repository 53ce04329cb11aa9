"""The CPU decode step (PixelAR.decode_step_at through FilledStep) against the module path it
replaces (decode_step_at_blocks: Block.decode_at per layer): the same logits and cache bit for
bit with F.gelu, the same sampled tokens with the native GELU kernel, and that kernel is exact
(erf) GELU. Tiny random models: the properties do not depend on training."""

import math

import pytest
import torch
import torch.nn.functional as F

from desktopgen import sampling
from desktopgen.core.requests import SampleRequest
from desktopgen.nets.pixel_ar import FilledStep, PixelAR, PixelARConfig, gelu_native
from desktopgen.nets.token_ar import TokenAR, TokenARConfig
from desktopgen.sampling import ar


def _peaked(model):
    with torch.no_grad():  # bigger weights than the 0.02 init: peaked, varied distributions;
        for p in model.parameters():  # and nonzero biases (a zero bias hides a changed sum order)
            p.mul_(25.0).add_(torch.randn_like(p), alpha=0.1)
    return model.eval()


@pytest.fixture(scope="module")
def tiny_pixel():
    torch.manual_seed(0)
    return _peaked(PixelAR(PixelARConfig(n_layer=2, n_head=2, n_embd=32, dropout=0.0, seq_len=96)))


@pytest.fixture(scope="module")
def tiny_token():
    torch.manual_seed(1)
    return _peaked(TokenAR(TokenARConfig(n_layer=3, n_head=4, n_embd=32, dropout=0.0, vocab=64,
                                         seq_len=49)))


@pytest.fixture
def module_gelu(monkeypatch):
    monkeypatch.setattr(FilledStep, "NATIVE_GELU", False)


@pytest.mark.parametrize("name", ["tiny_pixel", "tiny_token"])
@pytest.mark.parametrize("rows", [1, 2, 3])
def test_filled_step_is_the_block_path_bit_for_bit(name, rows, module_gelu, request):
    """With F.gelu, every step's logits and the whole cache equal the module path's exactly."""
    model = request.getfixturevalue(name)
    c = model.config
    y = torch.tensor([3, 10, 7][:rows])
    ka, kb = model.new_cache(rows, "cpu"), model.new_cache(rows, "cpu")
    g = torch.Generator().manual_seed(2)
    tokens = torch.randint(0, c.vocab, (rows, c.seq_len), generator=g)
    with torch.no_grad():
        for p in range(c.seq_len):
            tok = tokens[:, p - 1] if p else tokens[:, 0]
            a = model.decode_step_at_blocks(tok, y, p, ka)
            b = model.decode_step_at(tok, y, p, kb)
            assert torch.equal(a, b), f"step {p}"
    assert isinstance(kb.filled, FilledStep) and ka.filled is None
    assert torch.equal(ka.k, kb.k) and torch.equal(ka.v, kb.v) and ka.k.abs().sum() > 0


def _run(model, req, reference: bool):
    dec = ar._Decoder(model, req, torch.device("cpu"), req.guidance)
    if reference:  # the committed CPU step: the modules layer by layer
        dec.model = type("Ref", (), {"decode_step_at": model.decode_step_at_blocks,
                                     "config": model.config})()
    for p in range(model.config.seq_len):
        dec.step_at(p)
    return dec.pixels


@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("kw", [dict(guidance=1.5), dict(guidance=1.0, temperature=0.7, top_k=20),
                                dict(guidance=0.0)])
def test_cpu_sampler_tokens_equal_the_module_path(tiny_token, native, kw, monkeypatch):
    """Whole runs through _Decoder.step_at: the same tokens as the module path, with F.gelu
    (bits) and with the native GELU kernel (the same maths; no token moves on these seeds)."""
    monkeypatch.setattr(FilledStep, "NATIVE_GELU", native)
    for seed in (0, 1):
        req = sampling.with_defaults(SampleRequest(family="ar", sampler="tokens", seed=seed, batch=3,
                                                   **kw), tiny_token)
        ref = _run(tiny_token, req, reference=True)
        assert torch.equal(_run(tiny_token, req, reference=False), ref)
        assert ref.unique().numel() > 10  # varied tokens, not a constant


def test_a_cache_keeps_its_step_for_its_model_only(tiny_pixel, tiny_token):
    """The gathered weights ride on the cache; a cache handed to another model gets new ones."""
    cache = tiny_pixel.new_cache(2, "cpu")
    y, tok = torch.tensor([1, 10]), torch.zeros(2, dtype=torch.long)
    with torch.no_grad():
        tiny_pixel.decode_step_at(tok, y, 0, cache)
        first = cache.filled
        tiny_pixel.decode_step_at(tok, y, 1, cache)
        assert cache.filled is first and first.model is tiny_pixel
    other = PixelAR(tiny_pixel.config).eval()
    with torch.no_grad():
        other.decode_step_at(tok, y, 0, cache)
    assert cache.filled.model is other


@pytest.mark.parametrize("shape", [(1, 128), (2, 1024), (5, 64)])
def test_native_gelu_is_exact_gelu(shape):
    """gelu_native is erf GELU (not the tanh form) from PyTorch's own vectorised kernel: equal bit
    for bit to F.gelu with oneDNN switched off, within float rounding of x/2 (1 + erf(x/sqrt 2)) in float64,
    and contiguous like F.gelu's output. (oneDNN's kernel, F.gelu's on a contiguous tensor, is off
    from float64 by up to 1.2e-6 on such values, this one by 4.5e-7.)"""
    x = torch.randn(shape, generator=torch.Generator().manual_seed(3)) * 4
    out = gelu_native(x)
    assert out.shape == x.shape and out.is_contiguous()
    with torch.backends.mkldnn.flags(enabled=False):  # PyTorch's kernel for a contiguous tensor
        assert torch.equal(out, F.gelu(x))
    d = x.double()
    exact = d * 0.5 * (1 + torch.erf(d / math.sqrt(2)))
    assert (out.double() - exact).abs().max() <= 4e-7 * max(1.0, exact.abs().max().item())
    tanh = F.gelu(x, approximate="tanh")
    assert (out - tanh).abs().max() > 1e-5  # it is not the tanh approximation
