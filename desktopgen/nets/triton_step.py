"""The raster AR decode step (PixelAR / TokenAR on a lean KV cache) as Triton kernels, for CUDA.
A graphed StaticStep is ~150 PyTorch kernels a step (cuBLAS GEMVs, LayerNorms, copies), each a
few microseconds on an H200, so 196 steps of 100 images took 124 ms. Here a step is 5 kernels a
layer plus 2, each split over enough programs to fill the GPU (16 rows by a block of output
columns, or one row and head):
- `_qkv`: LayerNorm and one head's slice of q, k or v (k and v written into the cache at pos);
  for layer 0 the rows are first made from the embeddings (class at position 0, else the
  previous token, plus the position's);
- `_attend`: one row's one head over the filled slots 0..pos only (online softmax);
- `_residual`: the output projection plus the residual; later the MLP's second linear too;
- `_ln_linear`: LayerNorm, then the MLP's first linear with exact (erf) GELU; at the end the last
  LayerNorm and the head's logits;
- `_sample` (the sampler's draw, ar._Decoder.step): guidance on log-probabilities, temperature,
  the inverse-CDF draw with the run's uniforms, tokens written. Top-k and inpainting keep the
  PyTorch draw on these logits.
Each kernel is launched with programmatic dependent launch (PDL, on Hopper and later GPUs:
`pdl_supported`): it lets the next kernel start at once, and waits for the one before only after
loading its own weights (gdc_wait), so the weights' loads overlap the kernel before (the same
bits: tests/test_triton_step.py, on a GPU).
Tried and dropped (benchmarks/results/h200-2026-12-01g, h200-2026-12-02i): one kernel a layer over
16-row blocks (13 programs: slower than StaticStep), the projection fused into the MLP's first
kernel, PDL waiting before any load, q/k/v fused with the attention (2 or 4 kernels a layer: 1.3-1.9x
slower, the attention loses its programs), and the attention split over the slots (flash-decoding)
and recombined in the projection's kernel (1.3-2.4x slower).
The maths is StaticStep's; the rounding is not: the residual stream and LayerNorms are float32
(the module path keeps bf16 activations), matrix products take bf16 operands with float32
sums. Weights are packed once per run (transposed, contiguous). `available()` says whether
Triton can run here; TRITON_INTERPRET=1 runs the kernels on the CPU (tests, slowly). The first
run on a machine compiles the kernels (seconds; Triton caches them on disk).
"""

from __future__ import annotations

import functools
import os

import torch

try:  # CUDA builds of PyTorch bring Triton; CPU builds do not
    import triton
    import triton.language as tl
    from triton.language.extra.cuda import gdc_launch_dependents, gdc_wait
except ImportError:  # pragma: no cover (depends on the install)
    triton = None
    tl = None

BM = 16  # rows per program (tl.dot's smallest M)


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "") == "1"


@functools.cache
def available(device_type: str) -> bool:
    """Whether the Triton step can run on this device type (CUDA with Triton; any device under
    TRITON_INTERPRET=1)."""
    if triton is None:
        return False
    return device_type == "cuda" or interpreting()


def pdl_supported(device: torch.device) -> bool:
    """Whether the kernels may use programmatic dependent launch on `device`: CUDA GPUs of compute
    capability 9.0 (Hopper) and later, where its instructions exist; never in the interpreter."""
    if device.type != "cuda" or interpreting():
        return False
    return torch.cuda.get_device_capability(device) >= (9, 0)


def supports(model) -> bool:
    """Models whose step this module implements: PixelAR's blocks, an nn.Embedding of positions,
    head without bias, power-of-two widths (tl.arange) and a head size of at least 16."""
    c = getattr(model, "config", None)
    if c is None or not isinstance(getattr(model, "pos_emb", None), torch.nn.Embedding):
        return False
    hs = c.n_embd // c.n_head
    pow2 = all(n & (n - 1) == 0 for n in (c.n_embd, hs))
    return pow2 and hs >= 16 and model.head.bias is None and c.n_embd >= 32


if triton is not None:

    @triton.jit
    def _release_then_wait(PDL: tl.constexpr):
        """Programmatic dependent launch, called once a kernel's weights are loaded: let the next
        kernel launch, then wait for the one before (its results). Nothing without PDL."""
        if PDL:
            gdc_launch_dependents()
            gdc_wait()

    @triton.jit
    def _ln(x, w_ptr, b_ptr, eps, C: tl.constexpr):
        """LayerNorm of the rows of x (BM, C), float32."""
        cols = tl.arange(0, C)
        mean = tl.sum(x, 1) / C
        xc = x - mean[:, None]
        var = tl.sum(xc * xc, 1) / C
        rstd = 1.0 / tl.sqrt(var + eps)
        w = tl.load(w_ptr + cols).to(tl.float32)
        b = tl.load(b_ptr + cols).to(tl.float32)
        return xc * rstd[:, None] * w[None, :] + b[None, :]

    @triton.jit
    def _qkv(x_ptr, lnw, lnb, eps, w_ptr, b_ptr, q_ptr, kv_ptr, pos_ptr, layer, B2, T,
             token_ptr, y_ptr, cls_ptr, tok_ptr, posemb_ptr,
             C: tl.constexpr, NH: tl.constexpr, HS: tl.constexpr, BM: tl.constexpr, EMBED: tl.constexpr,
             PDL: tl.constexpr = False):
        """Program (row block, j): LayerNorm of the rows, then slice j of q / k / v (one head's,
        j < NH: q into q_ptr (B2, C) float32; then keys, then values into the cache (L, 2, B2, NH,
        T, HS) at slot pos). EMBED (layer 0): the rows are first made from the embeddings (class
        at position 0, else the previous token, plus the position's) and written to x_ptr."""
        rows = tl.program_id(0) * BM + tl.arange(0, BM)
        j = tl.program_id(1)
        rmask = rows < B2
        cols = tl.arange(0, C)
        dd = tl.arange(0, HS)
        w = tl.load(w_ptr + cols[:, None] * (3 * C) + j * HS + dd[None, :])  # (C, HS)
        bias = tl.load(b_ptr + j * HS + dd).to(tl.float32)
        _release_then_wait(PDL)  # the weights above are loaded while the kernel before finishes
        pos = tl.load(pos_ptr)
        if EMBED:
            y = tl.load(y_ptr + rows, mask=rmask, other=0)
            tok = tl.load(token_ptr + rows, mask=rmask, other=0)
            first = (tl.zeros([BM], tl.int32) + pos) == 0
            e_cls = tl.load(cls_ptr + y[:, None] * C + cols[None, :]).to(tl.float32)
            e_tok = tl.load(tok_ptr + tok[:, None] * C + cols[None, :]).to(tl.float32)
            e_pos = tl.load(posemb_ptr + pos * C + cols).to(tl.float32)
            x = tl.where(first[:, None], e_cls, e_tok) + e_pos[None, :]
            if j == 0:
                tl.store(x_ptr + rows[:, None] * C + cols[None, :], x, mask=rmask[:, None])
        else:
            x = tl.load(x_ptr + rows[:, None] * C + cols[None, :], mask=rmask[:, None], other=0.0)
        h = _ln(x, lnw, lnb, eps, C).to(w_ptr.dtype.element_ty)
        out = tl.dot(h, w) + bias[None, :]
        m = rmask[:, None]
        if j < NH:
            tl.store(q_ptr + rows[:, None] * C + j * HS + dd[None, :], out, mask=m)
        else:
            part = j // NH - 1  # 0 keys, 1 values
            head = j % NH
            base = (((layer * 2 + part) * B2 + rows) * NH + head) * T + pos
            tl.store(kv_ptr + base[:, None] * HS + dd[None, :], out.to(kv_ptr.dtype.element_ty), mask=m)

    @triton.jit
    def _attend(q_ptr, kv_ptr, a_ptr, pos_ptr, layer, B2, T, scale,
                C: tl.constexpr, NH: tl.constexpr, HS: tl.constexpr, BT: tl.constexpr,
                PDL: tl.constexpr = False):
        """One row's one head: softmax(q k^T * scale) v over slots 0..pos (online softmax)."""
        row = tl.program_id(0)
        head = tl.program_id(1)
        _release_then_wait(PDL)
        pos = tl.load(pos_ptr)
        dd = tl.arange(0, HS)
        q = tl.load(q_ptr + row * C + head * HS + dd) * scale
        kslot = (((layer * 2) * B2 + row) * NH + head) * T
        vslot = (((layer * 2 + 1) * B2 + row) * NH + head) * T
        m_i = tl.max(tl.full([BT], float("-inf"), tl.float32), 0)
        l_i = tl.sum(tl.zeros([BT], tl.float32), 0)
        acc = tl.zeros([HS], tl.float32)
        for start in range(0, pos + 1, BT):
            t = start + tl.arange(0, BT)
            tm = t <= pos
            k = tl.load(kv_ptr + (kslot + t)[:, None] * HS + dd[None, :], mask=tm[:, None], other=0.0)
            s = tl.where(tm, tl.sum(k.to(tl.float32) * q[None, :], 1), float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, 0))
            alpha = tl.exp(m_i - m_new)
            p = tl.exp(s - m_new)
            v = tl.load(kv_ptr + (vslot + t)[:, None] * HS + dd[None, :], mask=tm[:, None], other=0.0)
            l_i = l_i * alpha + tl.sum(p, 0)
            acc = acc * alpha + tl.sum(p[:, None] * v.to(tl.float32), 0)
            m_i = m_new
        tl.store(a_ptr + row * C + head * HS + dd, acc / l_i)

    @triton.jit
    def _residual(x_ptr, in_ptr, w_ptr, b_ptr, out_ptr, B2, K,
                  C: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
                  PDL: tl.constexpr = False):
        """Program (row block, column block): out[:, cols] = x[:, cols] + in @ W[:, cols] + b[cols],
        with in (B2, K) and W (K, C): the attention's output projection (K = C) or the MLP's
        second linear (K = hidden). out may be x (each program reads and writes its own block)."""
        rows = tl.program_id(0) * BM + tl.arange(0, BM)
        cols = tl.program_id(1) * BN + tl.arange(0, BN)
        rmask = rows < B2
        bias = tl.load(b_ptr + cols).to(tl.float32)
        kk = tl.arange(0, BK)
        w0 = tl.load(w_ptr + kk[:, None] * C + cols[None, :])  # (BK, BN): the first block
        _release_then_wait(PDL)
        a = tl.load(in_ptr + rows[:, None] * K + kk[None, :], mask=rmask[:, None], other=0.0)
        acc = tl.dot(a.to(w0.dtype), w0)
        for k0 in range(BK, K, BK):
            kk = k0 + tl.arange(0, BK)
            a = tl.load(in_ptr + rows[:, None] * K + kk[None, :], mask=rmask[:, None], other=0.0)
            wk = tl.load(w_ptr + kk[:, None] * C + cols[None, :])  # (BK, BN)
            acc += tl.dot(a.to(wk.dtype), wk)
        at = rows[:, None] * C + cols[None, :]
        x = tl.load(x_ptr + at, mask=rmask[:, None], other=0.0) + acc
        tl.store(out_ptr + at, x + bias[None, :], mask=rmask[:, None])

    @triton.jit
    def _ln_linear(x_ptr, lnw, lnb, eps, w_ptr, b_ptr, out_ptr, B2, N,
                   C: tl.constexpr, BM: tl.constexpr, BN: tl.constexpr, GELU: tl.constexpr,
                   BIAS: tl.constexpr, PDL: tl.constexpr = False):
        """Program (row block, column block): out[:, cols] = f(LayerNorm(x) @ W[:, cols] + b),
        W (C, N); f = exact GELU (the MLP's first linear, out in the weights' dtype) or nothing
        (the head: logits, float32, no bias)."""
        rows = tl.program_id(0) * BM + tl.arange(0, BM)
        cols = tl.program_id(1) * BN + tl.arange(0, BN)
        rmask = rows < B2
        nmask = cols < N
        kk = tl.arange(0, C)
        w = tl.load(w_ptr + kk[:, None] * N + cols[None, :], mask=nmask[None, :], other=0.0)
        if BIAS:
            bias = tl.load(b_ptr + cols, mask=nmask, other=0.0).to(tl.float32)
        _release_then_wait(PDL)
        x = tl.load(x_ptr + rows[:, None] * C + kk[None, :], mask=rmask[:, None], other=0.0)
        h = _ln(x, lnw, lnb, eps, C).to(w_ptr.dtype.element_ty)
        g = tl.dot(h, w)
        if BIAS:
            g += bias[None, :]
        if GELU:
            g = 0.5 * g * (1.0 + tl.erf(g * 0.7071067811865476))
        tl.store(out_ptr + rows[:, None] * N + cols[None, :], g.to(out_ptr.dtype.element_ty),
                 mask=rmask[:, None] & nmask[None, :])

    @triton.jit
    def _sample(logits_ptr, u_ptr, pos_ptr, pixels_ptr, token_ptr, B, V, L, w, inv_temp,
                CFG: tl.constexpr, VB: tl.constexpr, PDL: tl.constexpr = False):
        """Sample b's next token: guided log-probabilities (CFG: rows b and B + b), tempered,
        softmax, then the first index whose CDF reaches u * CDF[-1] (torch.searchsorted, left)."""
        b = tl.program_id(0)
        _release_then_wait(PDL)
        pos = tl.load(pos_ptr)
        cols = tl.arange(0, VB)
        vm = cols < V
        c = tl.load(logits_ptr + b * V + cols, mask=vm, other=0.0)
        if CFG:  # masked columns stay finite here, -inf below
            un = tl.load(logits_ptr + (B + b) * V + cols, mask=vm, other=0.0)
            mc = tl.max(tl.where(vm, c, float("-inf")), 0)
            mu = tl.max(tl.where(vm, un, float("-inf")), 0)
            lc = c - mc - tl.log(tl.sum(tl.where(vm, tl.exp(c - mc), 0.0), 0))
            lu = un - mu - tl.log(tl.sum(tl.where(vm, tl.exp(un - mu), 0.0), 0))
            c = lu + w * (lc - lu)
        g = tl.where(vm, c, float("-inf"))
        g = g * inv_temp
        p = tl.exp(g - tl.max(g, 0))
        p = p / tl.sum(p, 0)
        cdf = tl.cumsum(p, 0)
        total = tl.max(tl.where(vm, cdf, 0.0), 0)
        u = tl.load(u_ptr + b * L + pos) * total
        tok = tl.sum(tl.where(vm & (cdf < u), 1, 0), 0)
        tok = tl.minimum(tok, V - 1).to(tl.int64)
        tl.store(pixels_ptr + b * L + pos, tok)
        tl.store(token_ptr + b, tok)
        if CFG:
            tl.store(token_ptr + B + b, tok)


class TritonStep:
    """decode_step on a lean cache through the kernels above (see the module's docstring).
    Made once per cache (one run); weights are packed at construction. `fused_sampling`: the
    sampler may draw through `sample` (ar._Decoder.step)."""

    fused_sampling = True
    # launch parameters (block sizes are capped by the widths they tile): the best of those
    # tools/triton_step_tune.py timed on an H200 (2026-12-01 g; none better by 2 % in h; in i, on a
    # slower H200, PDL with attention blocks of 32 and 2 warps for q/k/v: 245 against 259 us a step)
    META = dict(pdl=True, attend_bt=32, attend_warps=1, qkv_warps=2,
                proj_bn=64, proj_bk=64, proj_warps=4, fc_bn=64, fc_warps=4, out_bn=64, out_bk=256,
                out_warps=4, head_bn=64, head_warps=4)

    def __init__(self, model, cache):
        c = model.config
        self.model = model
        self.C, self.nh, self.hs = c.n_embd, c.n_head, c.n_embd // c.n_head
        self.T, self.V = c.seq_len, c.vocab
        self.kv = cache.joined()
        self.B2 = self.kv.shape[2]
        dev = self.kv.device
        self.pdl_ok = pdl_supported(dev)
        wdt = model.head.weight.dtype  # the matmuls' operands

        def t(w):  # (out, in) -> (in, out), contiguous, in the matmul dtype
            return w.detach().t().to(wdt).contiguous()

        self.layers = []
        for b in model.blocks:
            fc, out = b.mlp[0], b.mlp[2]
            self.layers.append(dict(
                ln1=(b.ln1.weight, b.ln1.bias, b.ln1.eps), qkv=(t(b.qkv.weight), b.qkv.bias),
                proj=(t(b.proj.weight), b.proj.bias), ln2=(b.ln2.weight, b.ln2.bias, b.ln2.eps),
                fc=(t(fc.weight), fc.bias), out=(t(out.weight), out.bias)))
        self.H = model.blocks[0].mlp[0].out_features
        self.ln_f = (model.ln_f.weight, model.ln_f.bias, model.ln_f.eps)
        self.head = t(model.head.weight)
        self.emb = (model.class_emb.weight, model.tok_emb.weight, model.pos_emb.weight)
        f32 = dict(device=dev, dtype=torch.float32)
        self.x = torch.zeros(self.B2, self.C, **f32)  # the residual stream
        self.xm = torch.zeros(self.B2, self.C, **f32)  # ... after a layer's attention
        self.q = torch.zeros(self.B2, self.C, **f32)
        self.a = torch.zeros(self.B2, self.C, **f32)
        self.g = torch.zeros(self.B2, self.H, device=dev, dtype=wdt)
        self.logits = torch.zeros(self.B2, self.V, **f32)
        self.scale = self.hs ** -0.5
        # launch parameters, from META as it is now (block sizes capped by the widths they tile)
        M, C, H, V = self.META, self.C, self.H, self.V
        self.bt = min(M["attend_bt"], triton.next_power_of_2(self.T))
        self.blocks = tuple(min(M[k], n) for k, n in (("proj_bn", C), ("proj_bk", C), ("fc_bn", H),
                                                      ("out_bn", C), ("out_bk", H), ("head_bn", V)))

    def __call__(self, token, y, pos) -> torch.Tensor:
        C, nh, hs, T, B2, H, V = self.C, self.nh, self.hs, self.T, self.B2, self.H, self.V
        M, bt, (pn, pk, fn, on, ok, hn) = self.META, self.bt, self.blocks
        rb = triton.cdiv(B2, BM)
        token, y = token.contiguous(), y.contiguous()  # the kernels index them densely
        emb = (token, y, *self.emb)
        pdl = self.pdl()
        for i, lw in enumerate(self.layers):
            _qkv[(rb, 3 * nh)](self.x, *lw["ln1"], *lw["qkv"], self.q, self.kv, pos, i, B2, T, *emb,
                               C=C, NH=nh, HS=hs, BM=BM, EMBED=i == 0, num_warps=M["qkv_warps"], **pdl)
            _attend[(B2, nh)](self.q, self.kv, self.a, pos, i, B2, T, self.scale, C=C, NH=nh, HS=hs, BT=bt,
                              num_warps=M["attend_warps"], **pdl)
            _residual[(rb, C // pn)](self.x, self.a, *lw["proj"], self.xm, B2, C, C=C, BM=BM, BN=pn, BK=pk,
                                     num_warps=M["proj_warps"], **pdl)
            _ln_linear[(rb, H // fn)](self.xm, *lw["ln2"], *lw["fc"], self.g, B2, H, C=C, BM=BM, BN=fn,
                                      GELU=True, BIAS=True, num_warps=M["fc_warps"], **pdl)
            _residual[(rb, C // on)](self.xm, self.g, *lw["out"], self.x, B2, H, C=C, BM=BM, BN=on, BK=ok,
                                     num_warps=M["out_warps"], **pdl)
        _ln_linear[(rb, triton.cdiv(V, hn))](self.x, *self.ln_f, self.head, self.head, self.logits, B2, V,
                                              C=C, BM=BM, BN=hn, GELU=False, BIAS=False,
                                              num_warps=M["head_warps"], **pdl)
        return self.logits

    def pdl(self) -> dict:
        """Launch arguments for programmatic dependent launch (META pdl, where `pdl_supported`):
        each kernel then lets the next one start, which loads its weights, then waits for this
        one's results (gdc_wait)."""
        return dict(PDL=True, launch_pdl=True) if self.META["pdl"] and self.pdl_ok else {}

    def sample(self, logits, u, pos, pixels, token, B: int, w: float, cfg: bool, temperature: float) -> None:
        """The sampler's draw for every sample (see `_sample`): pixels[:, pos] and token set, then
        pos advanced (the step's end)."""
        V = self.V
        _sample[(B,)](logits, u, pos, pixels, token, B, V, u.shape[1], float(w), 1.0 / temperature,
                      CFG=cfg, VB=triton.next_power_of_2(V), **self.pdl())
        pos.add_(1)
