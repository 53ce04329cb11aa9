"""The Triton decode step (nets/triton_step.py: what a lean cache runs on CUDA where Triton
imports) against the module path, and its fused draw against the sampler's PyTorch draw. On a
machine without CUDA the kernels run in Triton's interpreter (TRITON_INTERPRET=1, numpy), in
float32: the same logits and cache to float32 rounding, the same tokens. On CUDA (`pytest -m gpu`)
the compiled kernels in bf16 are held to a float32 reference no looser than StaticStep's.
Skipped where Triton is not installed (it comes with PyTorch's CUDA builds; `pip install triton`
on a CPU machine)."""

import copy
import os
import sys

if os.environ.get("CUDA_VISIBLE_DEVICES") == "" and "gpu" in " ".join(sys.argv[1:]):
    del os.environ["CUDA_VISIBLE_DEVICES"]  # set by conftest.py for the CPU-only tests
import torch  # noqa: E402

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton reads it (at @triton.jit)

import pytest  # noqa: E402

pytest.importorskip("triton")

from desktopgen.core.requests import SampleRequest  # noqa: E402
from desktopgen.nets import triton_step  # noqa: E402
from desktopgen.nets.pixel_ar import KVCache, PixelAR, PixelARConfig, StaticStep, lean_step  # noqa: E402
from desktopgen.nets.token_ar import TokenAR, TokenARConfig  # noqa: E402
from desktopgen.sampling import ar  # noqa: E402

CPU = not torch.cuda.is_available()


def _tiny(name, gain=25.0):
    """Tiny models with peaked weights (varied attention and logits), head size 16 (the
    kernels' smallest)."""
    torch.manual_seed(0)
    if name == "pixel":
        model = PixelAR(PixelARConfig(n_layer=2, n_head=2, n_embd=32, dropout=0.0, seq_len=24))
    else:
        model = TokenAR(TokenARConfig(n_layer=2, n_head=2, n_embd=32, dropout=0.0, vocab=100, seq_len=16))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(gain).add_(torch.randn_like(p), alpha=0.1)
    return model.eval()


@pytest.fixture
def triton_on(monkeypatch):
    monkeypatch.setattr(KVCache, "TRITON", True)
    monkeypatch.setattr(KVCache, "LEAN", True)


def test_supports_the_shipped_shapes_and_not_others():
    assert triton_step.supports(_tiny("token")) and triton_step.supports(_tiny("pixel"))
    odd = PixelAR(PixelARConfig(n_layer=1, n_head=4, n_embd=32, dropout=0.0, seq_len=8))  # head size 8
    assert not triton_step.supports(odd)


def test_programmatic_dependent_launch_only_where_the_gpu_has_it(monkeypatch):
    """PDL's instructions exist from compute capability 9.0 (Hopper): an older GPU (or the CPU,
    or the interpreter) launches the kernels plainly."""
    cuda = torch.device("cuda", 0)
    assert not triton_step.pdl_supported(torch.device("cpu"))
    monkeypatch.setattr(triton_step, "interpreting", lambda: False)
    for capability, want in (((8, 6), False), ((9, 0), True), ((10, 0), True)):
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None, c=capability: c)
        assert triton_step.pdl_supported(cuda) is want
    monkeypatch.setattr(triton_step, "interpreting", lambda: True)
    assert not triton_step.pdl_supported(cuda)


@pytest.mark.skipif(not CPU, reason="the interpreter's float32 run (CPU machines)")
@pytest.mark.parametrize("name,rows,bt", [("pixel", 1, 8), ("pixel", 17, 64), ("token", 1, 64),
                                         ("token", 17, 8)])
def test_triton_step_matches_the_module_path(name, rows, bt, triton_on, monkeypatch):
    """Every step's logits and, at the end, every cached key and value, against a float64 run of
    the module path (Block.decode): the Triton step (float32 in the interpreter) is as close as
    the float32 module path is. Not a plain float32 comparison: with these peaked weights a few
    LayerNorms are ill-conditioned, where two float32 orders of summation differ by ~1e-4 of the
    logits' scale, each as far from float64 as the other. rows 17: two row blocks of 16, the
    second mostly masked; bt 8: the attention's online softmax over several blocks of slots."""
    monkeypatch.setitem(triton_step.TritonStep.META, "attend_bt", bt)
    model = _tiny(name)
    m64 = copy.deepcopy(model).double()
    c = model.config
    y = torch.tensor([3, 10, 7] * 6)[:rows]
    ref, mod, fast = m64.new_cache(rows, "cpu"), model.new_cache(rows, "cpu"), model.new_cache(rows, "cpu")
    ref.lean = mod.lean = False
    g = torch.Generator().manual_seed(2)
    seq = torch.randint(0, c.vocab, (rows, c.seq_len), generator=g)
    err = {"module": [], "triton": []}
    with torch.no_grad():
        for p in range(c.seq_len):
            tok = seq[:, p - 1] if p else seq[:, 0]
            pos = torch.tensor([p])
            want = m64.decode_step(tok, y, pos, ref)
            scale = want.abs().max().item()
            for kind, cache in (("module", mod), ("triton", fast)):
                got = model.decode_step(tok, y, pos, cache).double()
                err[kind].append((got - want).abs().max().item() / scale)
            assert isinstance(fast.static, triton_step.TritonStep) and mod.static is None
    worst, typical = {k: max(e) for k, e in err.items()}, {k: sorted(e)[len(e) // 2] for k, e in err.items()}
    assert typical["triton"] < 1e-6 and typical["triton"] <= 2 * typical["module"], typical
    assert worst["triton"] <= 4 * worst["module"] + 1e-6, worst
    for a, b, r in ((fast.k, mod.k, ref.k), (fast.v, mod.v, ref.v)):
        scale = r.abs().max().item()
        assert (a.double() - r).abs().max() <= 4 * (b.double() - r).abs().max() + 1e-6 * scale


@pytest.mark.skipif(not CPU, reason="the interpreter's float32 run (CPU machines)")
@pytest.mark.parametrize("guidance,temperature", [(1.5, 1.0), (1.0, 0.8), (0.0, 1.0), (3.0, 1.3)])
def test_fused_draw_picks_the_samplers_token(guidance, temperature):
    """`_sample` on given logits and uniforms returns what the sampler's PyTorch draw returns
    (_Decoder._cdf, then searchsorted): guidance on log-probabilities, temperature, inverse CDF.
    The uniforms include ones that land right beside a CDF step, where a wrong comparison shows."""
    model = _tiny("token")
    B, V, L = 5, model.config.vocab, model.config.seq_len
    req = SampleRequest(family="ar", guidance=guidance, temperature=temperature, batch=B, seed=1)
    dec = ar._Decoder(model, req.validate(), torch.device("cpu"), guidance)
    rows = len(dec.y)
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(rows, V, generator=g) * 4
    cdf = dec._cdf(logits)
    u = torch.rand(B, L, generator=g)
    p = 3
    u[0, p] = (cdf[0, 17] / cdf[0, -1]).item() * (1 + 1e-6)  # just past a step: token 18
    u[1, p] = (cdf[1, 40] / cdf[1, -1]).item() * (1 - 1e-6)  # just before one: token 40 (or below)
    want = torch.searchsorted(cdf, u[:, p:p + 1] * cdf[:, -1:]).clamp(max=V - 1)[:, 0]
    step = triton_step.TritonStep(model, model.new_cache(rows, "cpu"))
    pixels = torch.zeros(B, L, dtype=torch.long)
    token = torch.zeros(rows, dtype=torch.long)
    step.sample(logits, u, torch.tensor([p]), pixels, token, B, guidance, dec.cfg, temperature)
    assert torch.equal(pixels[:, p], want)
    assert torch.equal(token, want.repeat(rows // B))
    assert pixels[:, :p].eq(0).all() and pixels[:, p + 1:].eq(0).all()


@pytest.mark.skipif(not CPU, reason="the interpreter's float32 run (CPU machines)")
def test_a_sampler_run_through_triton_gives_the_static_steps_tokens(monkeypatch):
    """Seeded token-AR runs (guidance, the fused draw; top-k, the PyTorch draw on the Triton
    logits) give the tokens of the same runs through StaticStep, and seeding stays batch-size
    independent: sample 1 of a batch of 2 is sample 0 of a batch of 1 started at index 1."""
    model = _tiny("token")
    monkeypatch.setattr(KVCache, "LEAN", True)

    def run(use, top_k, batch=3, first=0):
        monkeypatch.setattr(KVCache, "TRITON", use)
        req = SampleRequest(family="ar", guidance=1.5, top_k=top_k, batch=batch, seed=5,
                            first_index=first).validate()
        dec = ar._Decoder(model, req, torch.device("cpu"), req.guidance)
        for _ in range(model.config.seq_len):
            dec.step()
        assert isinstance(dec.cache.static, triton_step.TritonStep if use else StaticStep)
        return dec.pixels

    for top_k in (0, 7):
        assert torch.equal(run(True, top_k), run(False, top_k))
    assert torch.equal(run(True, 0, batch=2)[1], run(True, 0, batch=1, first=1)[0])


@pytest.mark.gpu
@pytest.mark.skipif(CPU, reason="needs CUDA")
@pytest.mark.parametrize("name", ["pixel", "token"])
def test_cuda_triton_step_is_no_less_accurate_than_static_step(name, monkeypatch):
    """bf16 on CUDA: the Triton step's logits, against a float32 run of the module path, are
    within 1.5x of StaticStep's error (and small: its float32 residual should make it closer)."""
    monkeypatch.setattr(KVCache, "TRITON", True)  # (CUDA's default, set here for the tiny models)
    model32 = _tiny(name).cuda()
    model = copy.deepcopy(model32).to(torch.bfloat16)
    c = model.config
    rows = 37
    y = torch.arange(rows, device="cuda") % 11
    g = torch.Generator().manual_seed(2)
    seq = torch.randint(0, c.vocab, (rows, c.seq_len), generator=g).cuda()
    caches = {}
    for kind in ("ref", "static", "triton"):
        caches[kind] = (model32 if kind == "ref" else model).new_cache(rows, "cuda")
        caches[kind].lean = kind != "ref"
    caches["static"].static = StaticStep(model, caches["static"])
    err = {"static": 0.0, "triton": 0.0}
    with torch.no_grad():
        for p in range(c.seq_len):
            tok = seq[:, p - 1] if p else seq[:, 0]
            pos = torch.tensor([p], device="cuda")
            want = model32.decode_step(tok, y, pos, caches["ref"])
            scale = want.abs().max().item()
            for kind in err:
                got = lean_step(model, caches[kind])(tok, y, pos).float()
                err[kind] = max(err[kind], (got - want).abs().max().item() / scale)
    assert isinstance(caches["triton"].static, triton_step.TritonStep)
    assert err["triton"] <= 1.5 * err["static"] + 1e-3, err



@pytest.mark.gpu
@pytest.mark.skipif(CPU, reason="needs CUDA")
def test_cuda_programmatic_dependent_launch_changes_no_bit(monkeypatch):
    """TritonStep.META pdl (each kernel lets the next start and load its weights, then waits for
    its results): a graphed sampler run gives the tokens of the run without it, bit for bit, and
    every step's logits and the cache are equal (a wait in the wrong place would read unfinished
    results)."""
    monkeypatch.setattr(KVCache, "TRITON", True)
    monkeypatch.setattr(KVCache, "LEAN", True)
    model = copy.deepcopy(_tiny("token")).cuda().to(torch.bfloat16)
    req = SampleRequest(family="ar", guidance=1.5, batch=37, seed=4).validate()
    dev = torch.device("cuda")
    runs = {}
    for pdl in (False, True):
        monkeypatch.setitem(triton_step.TritonStep.META, "pdl", pdl)
        dec = ar._Decoder(model, req, dev, req.guidance)
        graph = ar._capture(dec, dev)
        logits = []
        for _ in range(model.config.seq_len):
            graph.replay()
            logits.append(dec.cache.static.logits.clone())
        runs[pdl] = (dec.pixels.clone(), torch.stack(logits), dec.cache.kv.clone())
    for a, b in zip(runs[False], runs[True]):
        assert torch.equal(a, b)


def test_a_kept_decoder_loaded_with_a_new_run_samples_that_run(monkeypatch):
    """ar._Decoder.load (how a kept CUDA graph replays a new run, ar._step_graph): a decoder that
    ran seed 1 to the end, then loaded with a fresh seed-2 decoder's state, samples what a fresh
    seed-2 run samples; the fresh decoder never makes its KV cache (one cache at the peak)."""
    monkeypatch.setattr(KVCache, "LEAN", True)
    monkeypatch.setattr(KVCache, "TRITON", False)  # StaticStep: no interpreter needed
    model = _tiny("token")
    cpu = torch.device("cpu")

    def decoder(seed, label):
        req = SampleRequest(family="ar", guidance=1.5, batch=3, seed=seed, class_label=label).validate()
        return ar._Decoder(model, req, cpu, req.guidance)

    def run(dec):
        for _ in range(model.config.seq_len):
            dec.step()
        return dec.pixels.clone()

    kept = decoder(1, 3)
    first = run(kept)
    fresh = decoder(2, 7)  # (the tiny model's peaked logits make the labels matter more than seeds)
    kept.load(fresh)
    assert fresh._cache is None
    second = run(kept)
    assert torch.equal(second, run(decoder(2, 7))) and not torch.equal(second, first)
