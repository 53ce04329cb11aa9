"""Per-sample seeds (sampling/seeding.py): the vectorised hash is numpy's SeedSequence."""

from __future__ import annotations

import numpy as np
import pytest

from desktopgen.sampling import seeding


@pytest.mark.parametrize("seed", [0, 1, 7, 123456789, 2**32 - 1, 2**32, 2**40 + 5, 2**64 - 1, 2**100 + 9])
@pytest.mark.parametrize("first,n", [(0, 100), (5, 3), (2**32 - 10, 5), (0, 1), (3, 0)])
def test_sample_seeds_are_numpys_seed_sequence_per_sample(seed, first, n):
    want = [int(np.random.SeedSequence([seed, first + i]).generate_state(1, np.uint64)[0]) for i in range(n)]
    assert seeding.sample_seeds(seed, first, n) == want


def test_generators_draw_each_samples_own_stream():
    a = seeding.rand(seeding.generators(11, 4), (9,), "cpu")
    b = seeding.rand(seeding.generators(11, 2, first_index=2), (9,), "cpu")
    assert a[2:].equal(b) and not a[0].equal(a[1])
