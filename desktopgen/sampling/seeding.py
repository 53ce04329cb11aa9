"""Per-sample random streams: sample i of a batch depends only on (seed, i)."""

from __future__ import annotations

import numpy as np
import torch

from desktopgen.core.device import host_to

# numpy's SeedSequence hash (numpy/random/bit_generator.pyx), for `sample_seeds`
_INIT_A, _MULT_A, _INIT_B, _MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R, _POOL, _MASK = 0xCA01F9DD, 0x4973F715, 4, 0xFFFFFFFF


def sample_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])


def _words(n: int) -> list[int]:
    """A non-negative int as SeedSequence reads it: 32-bit words, least significant first."""
    words = [n & _MASK]
    while n > _MASK:
        n >>= 32
        words.append(n & _MASK)
    return words


def sample_seeds(seed: int, first_index: int, n: int) -> list[int]:
    """[sample_seed(seed, first_index + i) for i in range(n)], the same numbers, the hash run on
    all indices at once in numpy (a SeedSequence per sample cost ~9 us, a tenth of a 100-image
    token run's set-up on an H200)."""
    if n <= 0 or first_index < 0 or first_index + n > _MASK or seed < 0:
        return [sample_seed(seed, first_index + i) for i in range(n)]
    u32 = np.uint32
    entropy = [np.full(n, w, u32) for w in _words(seed)]
    entropy.append(np.arange(first_index, first_index + n, dtype=np.uint64).astype(u32))
    const = [_INIT_A]

    def hashmix(v):
        v = v ^ u32(const[0])
        const[0] = (const[0] * _MULT_A) & _MASK
        v = v * u32(const[0])
        return v ^ (v >> u32(16))

    def mix(x, y):
        r = u32(_MIX_L) * x - u32(_MIX_R) * y
        return r ^ (r >> u32(16))

    with np.errstate(over="ignore"):
        zero = np.zeros(n, u32)
        pool = [hashmix(entropy[i] if i < len(entropy) else zero) for i in range(_POOL)]
        for src in range(_POOL):
            for dst in range(_POOL):
                if src != dst:
                    pool[dst] = mix(pool[dst], hashmix(pool[src]))
        for src in range(_POOL, len(entropy)):
            for dst in range(_POOL):
                pool[dst] = mix(pool[dst], hashmix(entropy[src]))
        words, h = [], _INIT_B
        for i in range(2):  # generate_state(1, np.uint64): two 32-bit words, little-endian
            v = pool[i] ^ u32(h)
            h = (h * _MULT_B) & _MASK
            v = v * u32(h)
            words.append(v ^ (v >> u32(16)))
    return (words[0].astype(np.uint64) | (words[1].astype(np.uint64) << np.uint64(32))).tolist()


def generators(seed: int, batch: int, first_index: int = 0) -> list[torch.Generator]:
    """One CPU generator per sample: the same numbers on every device and batch size."""
    return [torch.Generator().manual_seed(s) for s in sample_seeds(seed, first_index, batch)]


def randn(gens: list[torch.Generator], shape: tuple, device) -> torch.Tensor:
    return torch.stack([torch.randn(shape, generator=g) for g in gens]).to(device)


def rand(gens: list[torch.Generator], shape: tuple, device) -> torch.Tensor:
    return torch.stack([torch.rand(shape, generator=g) for g in gens]).to(device)


# `uniforms`: a counter-based stream. Wellons' 2-round 32-bit integer hash (hash-prospector), on
# uint64 lanes holding 32-bit values (its multipliers are below 2**31: no product overflows).
_C1, _C2, _KEY = np.uint64(0x2C1B3C6D), np.uint64(0x297A2D39), np.uint64(0x68E31DA4)


def _mix(x: np.ndarray) -> np.ndarray:
    """A 32-bit integer hash of x (uint64 holding values in [0, 2**32))."""
    m = np.uint64(_MASK)
    x = x ^ (x >> np.uint64(15))
    x = (x * _C1) & m
    x = x ^ (x >> np.uint64(12))
    x = (x * _C2) & m
    return x ^ (x >> np.uint64(15))


def uniforms(seed: int, batch: int, length: int, device, first_index: int = 0) -> torch.Tensor:
    """(batch, length) float32 uniforms in [0, 1) on `device`: u[i, p] a hash of sample i's seed
    (`sample_seed(seed, first_index + i)`) and the position p, so sample i depends only on
    (seed, i). Vectorised numpy on the host, then one copy: `generators` + `rand` (a CPU generator
    and a draw per sample) cost ~1 ms for 100 samples, and this hash as ~40 small CUDA ops ~1.5 ms
    of a slow host's time, each a few hundredths of a 50 ms token-AR run on an H200; this costs a
    third of a millisecond. The AR samplers take it on CUDA (sampling/ar.py). 24-bit values, as
    torch.rand's."""
    m = np.uint64(_MASK)
    seeds = np.asarray(sample_seeds(seed, first_index, batch), dtype=np.uint64)[:, None]
    key = _mix((seeds & m) ^ _mix(seeds >> np.uint64(32)))  # (B, 1): the sample's 64 bits in one key
    pos = np.arange(length, dtype=np.uint64)[None]  # (1, L)
    x = _mix(_mix((pos + key) & m) ^ _mix(key ^ _KEY))
    return host_to(torch.from_numpy((x >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24)), device)
