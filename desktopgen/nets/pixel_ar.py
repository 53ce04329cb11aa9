"""Decoder-only transformer over the 784 pixels of a 28x28 image (256-way), class token first.

Training runs the whole sequence causally; sampling uses `decode_step` with a static,
fixed-length KV cache, so every step has the same shapes (CUDA-graph friendly) and costs one
token's projections plus attention over the cache. `decode_step_at` is the same step for a Python
int position (the CPU path): it attends to the filled slots only, with no mask, so its cost grows
with the position instead of always paying for the whole cache.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from desktopgen.nets.attention import attention


@dataclass(frozen=True)
class PixelARConfig:
    n_layer: int = 8
    n_head: int = 8
    n_embd: int = 256
    dropout: float = 0.1
    num_classes: int = 10  # the null class (index num_classes) is added for guidance
    vocab: int = 256  # pixel intensities
    seq_len: int = 784  # 28 * 28 pixels, raster order


class KVCache:
    """Preallocated keys and values of every layer: (L, B, nh, T, hs) each. `filled` is the CPU
    step's gathered weights (FilledStep), made by the first decode_step_at; `static` the lean
    step (lean_step: the Triton kernels of nets/triton_step.py where TRITON allows, else
    StaticStep), made by the first decode_step when `lean` is set (on CUDA by default). A lean
    cache holds k and v as the two halves of one tensor `kv` (L, 2, B, nh, T, hs), so that a step
    writes a layer's key and value with one copy (k[i] and v[i] stay contiguous).
    A cache serves one run of one model. LEAN overrides the default for every new cache
    (benchmarks time the module path with it)."""

    LEAN: bool | None = None  # None: lean on CUDA
    TRITON: bool | None = None  # a lean cache's step through Triton kernels; None: see lean_step

    def __init__(self, config: PixelARConfig, batch: int, device, dtype):
        c = config
        shape = (c.n_layer, batch, c.n_head, c.seq_len, c.n_embd // c.n_head)
        self.lean = torch.device(device).type == "cuda" if self.LEAN is None else self.LEAN
        self.kv: torch.Tensor | None = None
        if self.lean:
            self.kv = torch.zeros((shape[0], 2, *shape[1:]), device=device, dtype=dtype)
            self.k, self.v = self.kv[:, 0], self.kv[:, 1]
        else:
            self.k = torch.zeros(shape, device=device, dtype=dtype)
            self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.positions = torch.arange(c.seq_len, device=device)
        self.filled: FilledStep | None = None
        self.static = None  # StaticStep or triton_step.TritonStep

    def nbytes(self) -> int:
        """Bytes of the keys and values."""
        return self.kv.nbytes if self.kv is not None else self.k.nbytes + self.v.nbytes

    def joined(self) -> torch.Tensor:
        """k and v as the halves of one tensor `kv` (L, 2, B, nh, T, hs), what the lean steps
        write: a cache made without `lean` (set later) has k and v re-homed, contents kept."""
        if self.kv is None:
            self.kv = torch.stack([self.k, self.v], dim=1)
            self.k, self.v = self.kv[:, 0], self.kv[:, 1]
        return self.kv


class Block(nn.Module):
    def __init__(self, c: PixelARConfig):
        super().__init__()
        self.n_head = c.n_head
        self.ln1 = nn.LayerNorm(c.n_embd)
        self.qkv = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.proj = nn.Linear(c.n_embd, c.n_embd)
        self.ln2 = nn.LayerNorm(c.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(c.n_embd, 4 * c.n_embd), nn.GELU(), nn.Linear(4 * c.n_embd, c.n_embd)
        )
        self.drop = nn.Dropout(c.dropout)
        self.attn_drop = c.dropout

    def _heads(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        return [t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v)]

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self._heads(x)  # (B, nh, T, hs)
        p = self.attn_drop if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.mlp(self.ln2(x)))

    def decode(self, x, k_cache, v_cache, pos, mask):
        """x: (B, 1, C) at position `pos` (a (1,) tensor); caches (B, nh, T, hs) updated in place."""
        B, _, C = x.shape
        q, k, v = self._heads(x)  # (B, nh, 1, hs)
        k_cache.index_copy_(2, pos, k.to(k_cache.dtype))
        v_cache.index_copy_(2, pos, v.to(v_cache.dtype))
        y = attention(q, k_cache.to(q.dtype), v_cache.to(q.dtype), attn_mask=mask)  # deterministic
        x = x + self.proj(y.transpose(1, 2).reshape(B, 1, C))
        return x + self.mlp(self.ln2(x))

    def decode_at(self, x, k_cache, v_cache, p: int):
        """`decode` at the Python int position p, for x (B, C): writes slot p and attends to slots
        0..p, without a mask. Functional calls on 2-D rows: the same kernels as the modules, with
        less Python around them (on a CPU, per-op overhead is most of a step)."""
        B, C = x.shape
        h = F.layer_norm(x, (C,), self.ln1.weight, self.ln1.bias, self.ln1.eps)
        qkv = F.linear(h, self.qkv.weight, self.qkv.bias).view(B, 3, self.n_head, 1, C // self.n_head)
        k_cache[:, :, p] = qkv[:, 1, :, 0]  # (B, nh, hs)
        v_cache[:, :, p] = qkv[:, 2, :, 0]
        y = attention(qkv[:, 0], k_cache[:, :, :p + 1], v_cache[:, :, :p + 1])  # (B, nh, 1, hs)
        x = x + F.linear(y.reshape(B, C), self.proj.weight, self.proj.bias)
        fc, out = self.mlp[0], self.mlp[2]
        h = F.layer_norm(x, (C,), self.ln2.weight, self.ln2.bias, self.ln2.eps)
        return x + F.linear(F.gelu(F.linear(h, fc.weight, fc.bias)), out.weight, out.bias)


class PixelAR(nn.Module):
    # the lean CUDA step runs the Triton kernels by default (nets/triton_step.py), for the pixel AR
    # and the token AR (a subclass): measured on an H200 against StaticStep, 100 images, the same
    # accuracy and FD (docs/speed.md): token AR 46 against 124 ms of steps, pixel AR 283 against
    # 1,299 ms a run
    TRITON_DEFAULT = True

    def __init__(self, config: PixelARConfig):
        super().__init__()
        self.config = c = config
        self.class_emb = nn.Embedding(c.num_classes + 1, c.n_embd)  # last index = null class
        self.tok_emb = nn.Embedding(c.vocab, c.n_embd)
        self.pos_emb = nn.Embedding(c.seq_len, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.head = nn.Linear(c.n_embd, c.vocab, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def forward(self, pixels: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """pixels: (B, 784) long; y: (B,) class (10 = null). Returns logits (B, 784, 256) where
        position t predicts pixel t from the class and pixels < t."""
        B, T = pixels.shape
        tok = torch.cat([self.class_emb(y)[:, None], self.tok_emb(pixels[:, :-1])], dim=1)
        x = self.drop(tok + self.pos_emb.weight[:T])
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def new_cache(self, batch: int, device, dtype=None) -> KVCache:
        return KVCache(self.config, batch, device, dtype or self.head.weight.dtype)

    def decode_step(self, token, y, pos, cache: KVCache) -> torch.Tensor:
        """One step: token (B,) = the pixel at pos-1 (ignored at pos 0, where the class goes);
        pos: (1,) long tensor. Returns logits (B, 256) for the pixel at `pos`. With `cache.lean`
        (CUDA) the step is StaticStep's: the same maths in fewer kernels."""
        if cache.lean:
            return lean_step(self, cache)(token, y, pos)
        tok = torch.where(pos == 0, self.class_emb(y), self.tok_emb(token))  # (B, C)
        x = (tok + self.pos_emb(pos))[:, None]  # (B, 1, C)
        mask = (cache.positions <= pos)[None, None, None, :]  # attend to filled slots only
        for i, block in enumerate(self.blocks):
            x = block.decode(x, cache.k[i], cache.v[i], pos, mask)
        return self.head(self.ln_f(x[:, 0]))

    def decode_step_at(self, token, y, p: int, cache: KVCache) -> torch.Tensor:
        """`decode_step` at the Python int position p (shapes change with p: not for CUDA graphs).
        The same numbers as `decode_step_at_blocks` (bit for bit: tests/test_cpu_decode.py) with
        less Python per step: FilledStep, kept on the cache."""
        step = cache.filled
        if step is None or step.model is not self:
            step = cache.filled = FilledStep(self, cache)
        return step(token, y, p)

    def decode_step_at_blocks(self, token, y, p: int, cache: KVCache) -> torch.Tensor:
        """decode_step_at through the modules (Block.decode_at): the reference FilledStep keeps."""
        tok = self.class_emb(y) if p == 0 else self.tok_emb(token)  # (B, C)
        x = tok + self.pos_emb.weight[p]  # (B, C)
        for i, block in enumerate(self.blocks):
            x = block.decode_at(x, cache.k[i], cache.v[i], p)
        return self.head(self.ln_f(x))


def layer_weights(b: Block) -> tuple:
    """A block's weights as a decode step reads them, gathered once per run: (ln1 weight, bias,
    eps, qkv weight^T, bias, proj weight^T, bias, ln2 weight, bias, eps, fc weight^T, bias,
    out weight^T, bias); transposed views are what F.linear hands to addmm."""
    fc, out = b.mlp[0], b.mlp[2]
    return (b.ln1.weight, b.ln1.bias, b.ln1.eps, b.qkv.weight.t(), b.qkv.bias,
            b.proj.weight.t(), b.proj.bias, b.ln2.weight, b.ln2.bias, b.ln2.eps,
            fc.weight.t(), fc.bias, out.weight.t(), out.bias)


def gelu_native(x: torch.Tensor) -> torch.Tensor:
    """Exact (erf) GELU of a contiguous 2-D x through PyTorch's own vectorised CPU kernel. On a
    contiguous float32 CPU tensor F.gelu calls oneDNN's eltwise GELU instead, which costs about
    12 us even for 16 values (a primitive per call; ~40 us inside a decode step, whose weights
    have pushed it out of the caches); PyTorch keeps oneDNN for contiguous inputs only, so a
    transposed view of the same numbers takes its native kernel (5 us for 2 x 1024 values). The
    maths is the same, x/2 (1 + erf(x / sqrt 2)), not the tanh approximation; the two kernels
    round differently (up to ~1e-6 apart; against float64 this one is off by at most 4.5e-7,
    oneDNN's by 1.2e-6 on N(0, 3^2) values: tests/test_cpu_decode.py)."""
    B, n = x.shape
    return F.gelu(x.view(2 * B, n // 2).t()).t().reshape(B, n)  # (n/2, 2B): never contiguous


class FilledStep:
    """PixelAR.decode_step_at with its Python cost cut (on a CPU a step's many small ops cost
    about as much as its matrix products): each layer's weights gathered once into a tuple (no
    module attribute look-ups), linears as addmm on transposed weight views (what F.linear
    calls), cache slots written with select + copy_, residual sums in place
    (x + y == y + x bit for bit). The same kernels in the same order as Block.decode_at, so the
    same bits. Opt-in (NATIVE_GELU, or DESKTOPGEN_CPU_NATIVE_GELU=1): on a CPU, GELU through
    `gelu_native`, the same maths in a faster kernel that rounds differently, so the logits and
    the cache move by float rounding (no token changed in 68 sampled images of
    fmnist-token-ar-14, but the bits are no longer the static path's, which
    tests/test_speed_paths.py holds the default to). Made for one
    cache (one run): later weight changes are not seen."""

    NATIVE_GELU: bool | None = None  # None: DESKTOPGEN_CPU_NATIVE_GELU=1 turns it on

    def __init__(self, model: PixelAR, cache: KVCache):
        self.model = model
        native = self.NATIVE_GELU
        if native is None:
            native = os.environ.get("DESKTOPGEN_CPU_NATIVE_GELU", "") == "1"
        cpu = cache.k.device.type == "cpu" and cache.k.dtype == torch.float32
        self.gelu = gelu_native if (native and cpu) else F.gelu
        c = model.config
        self.C, self.nh, self.hs = c.n_embd, c.n_head, c.n_embd // c.n_head
        self.layers = [(*layer_weights(b), cache.k[i], cache.v[i]) for i, b in enumerate(model.blocks)]
        self.class_emb, self.tok_emb = model.class_emb.weight, model.tok_emb.weight
        self.pos_emb = model.pos_emb.weight
        self.ln_f = (model.ln_f.weight, model.ln_f.bias, model.ln_f.eps)
        self.head = model.head.weight.t()

    def __call__(self, token, y, p: int) -> torch.Tensor:
        C, nh, hs = self.C, self.nh, self.hs
        B = len(y)
        x = (F.embedding(y, self.class_emb) if p == 0 else F.embedding(token, self.tok_emb)) + self.pos_emb[p]
        for w1, b1, e1, wqkv, bqkv, wproj, bproj, w2, b2, e2, wfc, bfc, wout, bout, k, v in self.layers:
            h = torch.layer_norm(x, (C,), w1, b1, e1)
            qkv = torch.addmm(bqkv, h, wqkv).view(B, 3, nh, hs)
            k.select(2, p).copy_(qkv[:, 1])  # (B, nh, hs) at slot p
            v.select(2, p).copy_(qkv[:, 2])
            q = qkv[:, 0].unsqueeze(2)  # (B, nh, 1, hs)
            y_ = attention(q, k.narrow(2, 0, p + 1), v.narrow(2, 0, p + 1))  # slots 0..p
            x = torch.addmm(bproj, y_.reshape(B, C), wproj).add_(x)
            h = torch.layer_norm(x, (C,), w2, b2, e2)
            x = torch.addmm(bout, self.gelu(torch.addmm(bfc, h, wfc)), wout).add_(x)
        return torch.mm(torch.layer_norm(x, (C,), *self.ln_f), self.head)


def lean_step(model: nn.Module, cache: KVCache):
    """A lean cache's step, made once per run: the Triton kernels (triton_step.TritonStep) where
    KVCache.TRITON allows them (None: on CUDA, for models whose TRITON_DEFAULT is set (the pixel
    and token AR's), when Triton imports and the model fits them), else StaticStep."""
    step = cache.static
    if step is not None and step.model is model:
        return step
    from desktopgen.nets import triton_step

    use = KVCache.TRITON
    dev = cache.k.device.type
    if use is None:
        use = (dev == "cuda" and getattr(model, "TRITON_DEFAULT", False) and triton_step.available(dev)
               and triton_step.supports(model))
    cache.static = triton_step.TritonStep(model, cache) if use else StaticStep(model, cache)
    return cache.static


@functools.cache
def _has_out_dtype(device: str, dtype: torch.dtype) -> bool:
    """Whether this device's baddbmm takes half inputs to a float32 result (CUDA, torch >= 2.8)."""
    try:
        a, b = (torch.ones(shape, device=device, dtype=dtype) for shape in ((1, 1, 2), (1, 2, 2)))
        s = torch.baddbmm(torch.zeros(2, device=device), a, b, torch.float32, alpha=0.5)
        return s.dtype == torch.float32
    except (RuntimeError, TypeError, NotImplementedError):
        return False


class StaticStep:
    """`decode_step` (static cache, tensor position: the CUDA-graph step) in fewer kernels, for any
    model with PixelAR's blocks and embeddings (`pos_emb(pos)` may be a module or a method: the
    video model's). On an H200 a graphed step is launch-bound: ~160 small kernels, and PyTorch's
    memory-efficient attention kernel took 74 us a layer on a query of length 1. Here:
    - attention as one baddbmm (the 1/sqrt(hs) scale and an additive causal row, 0 up to `pos`
      and -inf after it, in the same GEMM; float32 scores from bf16 products), a softmax and a
      bmm: no boolean mask to expand;
    - a layer's key and value written by one index_copy_ into the cache's `kv`;
    - each layer's weights gathered once (as FilledStep does on the CPU).
    The maths is decode_step's; the rounding differs (bf16 on CUDA: about a fifth of the tokens
    stay equal to the old kernel's after a few steps, tests/test_static_step.py holds the logits
    to the module path's within float32 rounding). Deterministic, so a CUDA graph replays it bit
    for bit. Made once per cache (one run)."""

    def __init__(self, model: nn.Module, cache: KVCache):
        self.model = model
        c = model.config
        self.C, self.nh, self.hs, self.T = c.n_embd, c.n_head, c.n_embd // c.n_head, c.seq_len
        self.kv = cache.joined()
        self.positions = cache.positions
        # attention scores and their softmax in float32, as the fused kernels keep them: in bf16
        # a score of ~10 rounds by ~0.06, which moves every attention weight by ~6 %
        dtype = self.kv.dtype
        self.scores32 = dtype != torch.float32 and _has_out_dtype(str(self.kv.device), dtype)
        self.zero = torch.zeros((), device=self.kv.device)
        self.neg_inf = torch.full((), float("-inf"), device=self.kv.device)
        self.scale = self.hs ** -0.5
        self.layers = [layer_weights(b) for b in model.blocks]
        self.ln_f = (model.ln_f.weight, model.ln_f.bias, model.ln_f.eps)
        self.head = model.head.weight.t()

    @classmethod
    def of(cls, model: nn.Module, cache: KVCache) -> StaticStep:
        if cache.static is None or cache.static.model is not model:
            cache.static = cls(model, cache)
        return cache.static

    def __call__(self, token, y, pos) -> torch.Tensor:
        C, nh, hs, T = self.C, self.nh, self.hs, self.T
        m = self.model
        x = torch.where(pos == 0, m.class_emb(y), m.tok_emb(token)) + m.pos_emb(pos)  # (B, C)
        B = x.shape[0]
        bias = torch.where(self.positions <= pos, self.zero, self.neg_inf)  # (T,): filled slots
        for kv, (w1, b1, e1, wqkv, bqkv, wproj, bproj, w2, b2, e2, wfc, bfc, wout, bout) in zip(
                self.kv, self.layers):  # kv: (2, B, nh, T, hs), keys then values
            h = F.layer_norm(x, (C,), w1, b1, e1)
            qkv = torch.addmm(bqkv, h, wqkv)  # (B, 3C): q, k, v
            kv.index_copy_(3, pos, qkv[:, C:].view(B, 2, nh, 1, hs).transpose(0, 1))
            q, keys = qkv[:, :C].reshape(B * nh, 1, hs), kv[0].view(B * nh, T, hs).transpose(1, 2)
            if self.scores32 and not torch.compiler.is_compiling():  # (its decomposition fails)
                # bf16 / fp16 products, float32 scores (CUDA's out_dtype overload)
                s = torch.baddbmm(bias, q, keys, torch.float32, alpha=self.scale)
            else:  # float32 throughout (the CPU), or half scores where the overload is missing
                s = torch.baddbmm(bias.to(q.dtype), q, keys, alpha=self.scale)
            p = torch.softmax(s, -1, dtype=torch.float32).to(kv.dtype)  # (B nh, 1, T)
            a = torch.bmm(p, kv[1].view(B * nh, T, hs))  # (B nh, 1, hs)
            x = torch.addmm(bproj, a.view(B, C), wproj) + x
            h = F.layer_norm(x, (C,), w2, b2, e2)
            x = torch.addmm(bout, F.gelu(torch.addmm(bfc, h, wfc)), wout) + x
        return torch.mm(F.layer_norm(x, (C,), *self.ln_f), self.head)
