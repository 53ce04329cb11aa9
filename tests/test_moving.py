"""Moving Fashion-MNIST clips: deterministic per (seed, index), bouncing exactly."""

import numpy as np
import pytest
import torch

from desktopgen.data import moving


def _garments(n, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.integers(1, 256, (n, 28, 28)).astype(np.uint8)  # no zero pixel: the patch is findable
    return g


def _corners(clips):
    """Top-left corner of the non-zero 28x28 patch in every frame."""
    nz = clips > 0
    ys = nz.any(axis=3).argmax(axis=2)
    xs = nz.any(axis=2).argmax(axis=2)
    return np.stack([ys, xs], -1)


def test_clip_depends_only_on_seed_and_index():
    g = _garments(6)
    a = moving.make_clips(g, 7, np.arange(6), frames=20)
    b = moving.make_clips(g[[4, 1]], 7, [4, 1], frames=20)
    assert np.array_equal(a[[4, 1]], b)
    assert np.array_equal(a, moving.make_clips(g, 7, np.arange(6), frames=20))
    assert not np.array_equal(a, moving.make_clips(g, 8, np.arange(6), frames=20))
    assert a.shape == (6, 20, 48, 48) and a.dtype == np.uint8


def test_does_not_touch_global_random_state():
    np.random.seed(3)
    before = np.random.random()
    np.random.seed(3)
    moving.make_clips(_garments(2), 1, [0, 1])
    assert np.random.random() == before


def test_longer_clip_starts_like_the_short_one():
    g = _garments(3)
    assert np.array_equal(moving.make_clips(g, 2, [0, 1, 2], frames=70)[:, :16],
                          moving.make_clips(g, 2, [0, 1, 2], frames=16))


def test_garment_is_whole_and_inside_every_frame():
    g = _garments(40)
    clips = moving.make_clips(g, 0, np.arange(40), frames=64)
    c = _corners(clips)
    assert (c >= 0).all() and (c <= 48 - 28).all()
    for i in range(40):
        for t in range(0, 64, 7):
            y, x = c[i, t]
            assert np.array_equal(clips[i, t, y:y + 28, x:x + 28], g[i])
            assert clips[i, t].astype(int).sum() == g[i].astype(int).sum()  # nothing cut off


def test_constant_velocity_between_bounces_and_flip_at_walls():
    n, frames, span = 200, 64, 20
    clips = moving.make_clips(_garments(n), 5, np.arange(n), frames=frames)
    c = _corners(clips)
    _, v = moving.clip_motion(5, np.arange(n))
    assert set(np.abs(v).ravel()) <= set(moving.SPEEDS) and (v != 0).all()
    flips = 0
    for i in range(n):
        for ax in range(2):
            vel = v[i, ax]
            for t in range(frames - 1):
                p, q = c[i, t, ax], c[i, t + 1, ax]
                free = p + vel
                if 0 <= free <= span:  # no wall in the way: exactly the velocity
                    assert q == free
                else:  # a wall: the move is folded back and the velocity flips
                    wall = span if free > span else 0
                    assert q == 2 * wall - free
                    vel = -vel
                    flips += 1
    assert flips > n  # the clips do bounce


def test_positions_match_a_hand_computed_bounce():
    start, v = np.array([[18, 0]]), np.array([[3, -2]])
    p = moving.positions(start, v, 5)
    assert p[0, :, 0].tolist() == [18, 19, 16, 13, 10]  # 18 -> 21 folds to 19, then back
    assert p[0, :, 1].tolist() == [0, 2, 4, 6, 8]  # 0 -> -2 folds to 2


def test_clip_dataset_cycles_the_split():
    imgs, labels = _garments(5), np.arange(5)
    clips, lab = moving.clip_dataset(imgs, labels, 0, [0, 7])
    assert lab.tolist() == [0, 2]
    assert np.array_equal(clips[1], moving.make_clips(imgs[[2]], 0, [7])[0])


@pytest.mark.parametrize("bad", [np.zeros((2, 28, 27), np.uint8), np.zeros((2, 28, 28), np.float32)])
def test_bad_images_are_refused(bad):
    with pytest.raises(ValueError):
        moving.make_clips(bad, 0, [0, 1])


def test_torch_batches_bounce_inside_the_canvas():
    g = torch.from_numpy(_garments(16))
    clips = moving.random_clips_torch(g, frames=32, generator=torch.Generator().manual_seed(0))
    assert clips.shape == (16, 32, 48, 48) and clips.dtype == torch.uint8
    c = _corners(clips.numpy())
    for i in range(16):
        y, x = c[i, 5]
        assert torch.equal(clips[i, 5, y:y + 28, x:x + 28], g[i])
        d = np.diff(c[i], axis=0)
        assert (np.abs(d) <= 3).all() and (np.abs(d) >= 0).all()
    assert int(clips.sum()) == int(g.long().sum()) * 32
