"""Per-sample seeds (sampling/seeding.py): the vectorised hash is numpy's SeedSequence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from desktopgen.sampling import seeding

# uniforms(7, 2, 4, first_index=3) times 2**24
PINNED = [[8978681, 114473, 5565953, 11308719], [13417301, 4407627, 11868396, 5758895]]


@pytest.mark.parametrize("seed", [0, 1, 7, 123456789, 2**32 - 1, 2**32, 2**40 + 5, 2**64 - 1, 2**100 + 9])
@pytest.mark.parametrize("first,n", [(0, 100), (5, 3), (2**32 - 10, 5), (0, 1), (3, 0)])
def test_sample_seeds_are_numpys_seed_sequence_per_sample(seed, first, n):
    want = [int(np.random.SeedSequence([seed, first + i]).generate_state(1, np.uint64)[0]) for i in range(n)]
    assert seeding.sample_seeds(seed, first, n) == want


def test_generators_draw_each_samples_own_stream():
    a = seeding.rand(seeding.generators(11, 4), (9,), "cpu")
    b = seeding.rand(seeding.generators(11, 2, first_index=2), (9,), "cpu")
    assert a[2:].equal(b) and not a[0].equal(a[1])


def test_uniforms_are_each_samples_own_stream_and_uniform():
    """seeding.uniforms (the AR samplers' per-step draws on CUDA): sample i's row depends only on
    (seed, i), values in [0, 1) on the 2**-24 grid, and over 100 x 784 draws the mean, the
    histogram (256 bins, chi-square per degree of freedom) and the correlations of neighbouring
    positions and neighbouring samples are those of independent uniforms."""
    u = seeding.uniforms(3, 100, 784, "cpu")
    assert u.shape == (100, 784) and u.dtype == torch.float32
    assert torch.equal(seeding.uniforms(3, 4, 784, "cpu", first_index=96), u[96:])
    assert not torch.equal(seeding.uniforms(4, 100, 784, "cpu"), u)  # another seed, other numbers
    assert 0 <= u.min() and u.max() < 1 and torch.equal(u * 2**24, (u * 2**24).round())
    a = u.numpy().astype(np.float64)
    assert abs(a.mean() - 0.5) < 0.005
    counts, _ = np.histogram(a, 256, (0, 1))
    expected = a.size / 256
    assert ((counts - expected) ** 2 / expected).sum() / 255 < 1.3
    for x, y in ((a[:, :-1], a[:, 1:]), (a[:-1], a[1:])):
        assert abs(np.corrcoef(x.ravel(), y.ravel())[0, 1]) < 0.015


def test_uniforms_keep_their_numbers():
    """The stream is part of what a seed means on CUDA: these numbers must not change by accident
    (a change moves every CUDA AR sample of every seed)."""
    u = seeding.uniforms(7, 2, 4, "cpu", first_index=3)
    assert (u * 2**24).long().tolist() == PINNED

