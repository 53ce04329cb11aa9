"""Video drift metrics on real moving clips (no drift) and broken ones."""

import numpy as np
import pytest

from desktopgen.core import checkpoints
from desktopgen.data import fmnist, moving
from desktopgen.metrics import drift


@pytest.fixture(scope="module")
def classifier():
    return checkpoints.load_model("fmnist-classifier")[0]


@pytest.fixture(scope="module")
def real():
    images, labels = fmnist.load("test")
    clips, lab = moving.clip_dataset(images, labels, 1, np.arange(32), frames=12)
    return clips, lab


def test_fit_recovers_bouncing_tracks_exactly():
    start, v = moving.clip_motion(0, np.arange(20))
    corners = moving.positions(start, v, 40).astype(np.float64)  # (20, 40, 2)
    tracks = corners.transpose(0, 2, 1).reshape(40, 40) + 13.37  # a garment's own centroid offset
    fitted = drift.fit_tracks(tracks, 20)
    assert np.abs(fitted - tracks).max() < 1e-6


def test_fit_finds_non_integer_velocities_and_starts():
    t = np.arange(30)
    track = 11.2 + moving.reflect(7.3 + 2.37 * t, 20)
    assert np.abs(drift.fit_tracks(track[None], 20) - track).max() < 0.05


def test_one_jump_shows_at_its_frame():
    start, v = moving.clip_motion(3, [0])
    c = moving.positions(start, v, 16).astype(np.float64) + 13.0  # (1, 16, 2)
    c[0, 9] += [6.0, -4.0]
    err, _ = drift.motion_errors(c, 48)
    assert err[0, 9] > 3 and np.delete(err[0], 9).max() < 1.5


def test_centroids_and_crops_find_the_garment():
    g = np.zeros((1, 28, 28), np.uint8)
    g[0, 10:18, 12:16] = 200
    clip = moving.make_clips(g, 0, [5], frames=8)
    start, v = moving.clip_motion(0, [5])
    corners = moving.positions(start, v, 8)
    c = drift.centroids(clip)
    assert np.allclose(c, corners + [13.5, 13.5])
    assert np.array_equal(drift.crops(clip, c), np.broadcast_to(g[:, None], (1, 8, 28, 28)))
    assert np.allclose(drift.centroids(np.zeros((1, 2, 48, 48), np.uint8)), 23.5)  # black: centre


def test_real_clips_keep_class_identity_and_motion(classifier, real):
    clips, lab = real
    d = drift.drift(clips, lab, classifier)
    assert d["frames"] == 12 and len(d["class_consistency"]) == 12
    assert d["min_class_consistency"] >= 0.8
    assert min(d["identity"]) > 0.9 and d["identity"][0] == pytest.approx(1.0)
    assert max(d["motion_error"]) < 1e-6
    assert 1.5 < d["mean_speed"] < 2.5  # |v| uniform in 1..3


def test_shuffled_frames_break_the_motion(classifier, real):
    clips, lab = real
    order = np.random.default_rng(0).permutation(12)
    d = drift.drift(clips[:, order], lab, classifier)
    assert d["mean_motion_error"] > 2.0
    assert d["min_class_consistency"] >= 0.8  # the garment is still there


def test_other_garments_lower_identity_and_consistency(classifier, real):
    clips, lab = real
    mixed = clips.copy()
    mixed[:, 6:] = np.roll(clips[:, 6:], 1, axis=0)  # from frame 6 on: another clip's garment
    d = drift.drift(mixed, lab, classifier)
    assert np.mean(d["identity"][6:]) < np.mean(d["identity"][:6]) - 0.1
    assert np.mean(d["class_consistency"][6:]) < 0.5


def test_fd_per_frame_against_real_clips(classifier, real):
    clips, lab = real
    d = drift.drift(clips[:16], lab[:16], classifier, reference=clips[16:])
    noise = np.random.default_rng(0).integers(0, 256, clips[:16].shape).astype(np.uint8)
    bad = drift.drift(noise, lab[:16], classifier, reference=clips[16:])
    assert len(d["fd"]) == 12 and max(d["fd"]) < min(bad["fd"])


def test_bad_input_is_refused(classifier):
    with pytest.raises(ValueError):
        drift.drift(np.zeros((2, 4, 48, 48), np.float32), [0, 1], classifier)
    with pytest.raises(ValueError):
        drift.drift(np.zeros((2, 4, 48, 48), np.uint8), [0], classifier)
