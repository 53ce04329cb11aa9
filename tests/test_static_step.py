"""The static decode step's lean form (StaticStep: what decode_step runs on CUDA, `cache.lean`)
against the module path (Block.decode per layer with a boolean mask), for the pixel, token and
video transformers: the same logits at every position and the same cache, within float32
rounding (the kernels differ, so not bit for bit), and a CUDA-free sampler run through it; on
CUDA (`pytest -m gpu`), in bf16, an error against float32 no worse than the old step's.
Tiny random models with peaked weights: the properties do not depend on training."""

import copy
import os
import sys

if os.environ.get("CUDA_VISIBLE_DEVICES") == "" and "gpu" in " ".join(sys.argv[1:]):
    del os.environ["CUDA_VISIBLE_DEVICES"]  # set by conftest.py for the CPU-only tests (test_gpu.py)

import pytest  # noqa: E402
import torch  # noqa: E402

from desktopgen import sampling  # noqa: E402
from desktopgen.core.requests import SampleRequest  # noqa: E402
from desktopgen.nets.pixel_ar import KVCache, PixelAR, PixelARConfig, StaticStep  # noqa: E402
from desktopgen.nets.token_ar import TokenAR, TokenARConfig  # noqa: E402
from desktopgen.nets.video_ar import VideoAR, VideoARConfig  # noqa: E402
from desktopgen.sampling import tokens  # noqa: E402


def _peaked(model):
    with torch.no_grad():  # larger weights than the 0.02 init: varied, peaked attention and logits
        for p in model.parameters():
            p.mul_(25.0).add_(torch.randn_like(p), alpha=0.1)
    return model.eval()


def _tiny(name):
    torch.manual_seed(0)
    if name == "pixel":
        return _peaked(PixelAR(PixelARConfig(n_layer=2, n_head=2, n_embd=32, dropout=0.0, seq_len=64)))
    if name == "token":
        return _peaked(TokenAR(TokenARConfig(n_layer=3, n_head=4, n_embd=32, dropout=0.0, vocab=64,
                                             seq_len=49)))
    return _peaked(VideoAR(VideoARConfig(n_layer=2, n_head=4, n_embd=32, vocab=64, frames=3, grid=4)))


@pytest.mark.parametrize("name", ["pixel", "token", "video"])
@pytest.mark.parametrize("rows", [1, 3])
def test_lean_static_step_matches_the_module_path(name, rows):
    """Every step's logits and, at the end, every cached key and value agree with Block.decode's
    (the masked attention over the whole cache) to float32 rounding."""
    model = _tiny(name)
    c = model.config
    vocab = c.vocab
    y = torch.tensor([3, 10, 7][:rows])
    ref, lean = model.new_cache(rows, "cpu"), model.new_cache(rows, "cpu")
    assert not ref.lean  # the CPU's default: the module path
    lean.lean = True
    g = torch.Generator().manual_seed(2)
    seq = torch.randint(0, vocab, (rows, c.seq_len), generator=g)
    with torch.no_grad():
        for p in range(c.seq_len):
            tok = seq[:, p - 1] if p else seq[:, 0]
            pos = torch.tensor([p])
            a = model.decode_step(tok, y, pos, ref)
            b = model.decode_step(tok, y, pos, lean)
            assert a.shape == b.shape == (rows, vocab)
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4 * a.abs().max().item(),
                                       msg=lambda m, p=p: f"step {p}: {m}")
    assert isinstance(lean.static, StaticStep) and ref.static is None
    for a, b in ((lean.k, ref.k), (lean.v, ref.v)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item())


def test_lean_step_keeps_a_prefilled_cache_and_shares_its_storage():
    """StaticStep re-homes k and v into one tensor: what was written before it (the video
    sampler's prefill) is kept, and later writes through cache.k / cache.v reach the step."""
    model = _tiny("video")
    cache = model.new_cache(2, "cpu")
    cache.lean = True
    with torch.no_grad():
        cache.k.normal_(), cache.v.normal_()
        k0, v0 = cache.k.clone(), cache.v.clone()
        step = StaticStep.of(model, cache)
    assert torch.equal(cache.k, k0) and torch.equal(cache.v, v0)
    cache.k[1].fill_(1.0)
    cache.v[0].fill_(2.0)
    assert step.kv[1, 0].eq(1).all() and step.kv[0, 1].eq(2).all()
    assert StaticStep.of(model, cache) is step


def test_token_sampler_through_the_lean_step(monkeypatch):
    """The token sampler's static path with the lean step (forced on the CPU) makes the module
    path's tokens for a seeded run (float32 rounding flips no token of this tiny model)."""
    model = _tiny("token")

    class Tok(torch.nn.Module):  # a stand-in tokenizer: 4x down, blank code 0
        down = 4

        def blank_code(self):
            return 0

        def decode(self, codes):
            return codes[:, None].float().repeat_interleave(4, -1).repeat_interleave(4, -2) / 32 - 1

    model.attach_tokenizer(Tok())
    req = SampleRequest(family="ar", sampler="tokens", guidance=2.0, batch=3, seed=5)

    def run():
        return sampling.run_to_end(tokens.sample(model, req, "cpu", preview_every=0,
                                                 filled_cache=False)).extra["tokens"]

    ref = run()
    monkeypatch.setattr(KVCache, "LEAN", True)  # every new cache on the lean step, the CPU's too
    lean = run()
    assert (lean == ref).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", ["token", "video"])
def test_on_cuda_the_lean_step_is_as_accurate_as_the_module_path(name):
    """In bf16 on CUDA (as sampling.load gives the AR models) the lean step takes the float32-score
    path, and its logits are as close to a float32 run of the same (bf16-rounded) weights as the
    module path's (PyTorch's fused attention): within 1.5x of its error at every position's worst
    and on average. (Two bf16 paths are not compared with each other: with these peaked weights
    both move by ~10 % of the largest logit late in the sequence.)"""
    model = _tiny(name).cuda().to(torch.bfloat16)
    model32 = copy.deepcopy(model).float()
    c = model.config
    y = torch.tensor([3, 10, 7], device="cuda")
    ref, old, lean = model32.new_cache(3, "cuda"), model.new_cache(3, "cuda"), model.new_cache(3, "cuda")
    ref.lean = old.lean = False
    assert lean.lean and lean.kv is not None
    g = torch.Generator().manual_seed(4)
    tokens_ = torch.randint(0, c.vocab, (3, c.seq_len), generator=g).cuda()
    errs = {"old": [], "lean": []}
    with torch.no_grad():
        for p in range(c.seq_len):
            tok = tokens_[:, p - 1] if p else tokens_[:, 0]
            pos = torch.tensor([p], device="cuda")
            r = model32.decode_step(tok, y, pos, ref)
            for key, cache in (("old", old), ("lean", lean)):
                out = model.decode_step(tok, y, pos, cache).float()
                errs[key].append(((out - r).abs().max() / r.abs().max()).item())
    assert lean.static.scores32
    old_e, lean_e = torch.tensor(errs["old"]), torch.tensor(errs["lean"])
    assert lean_e.max() <= 1.5 * old_e.max() + 1e-3, (lean_e.max(), old_e.max())
    assert lean_e.mean() <= 1.5 * old_e.mean() + 1e-3, (lean_e.mean(), old_e.mean())
