"""The shipped models: they load, their hashes check, and they make recognisable images."""

import json
import shutil

import numpy as np
import pytest

from desktopgen import metrics, sampling
from desktopgen.core import checkpoints
from desktopgen.core.requests import SampleRequest
from desktopgen.engine import sample_images

SHIPPED = ("fmnist-diffusion", "fmnist-pixel-ar", "fmnist-classifier")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_loads_with_its_hash_and_card(name):
    model, card = checkpoints.load_model(name)
    folder = checkpoints.models_dir() / name
    assert card["sha256"] == checkpoints.sha256_file(folder / "weights.safetensors")
    assert (folder / "weights.safetensors").stat().st_size <= 20 * 2**20
    for key in ("data", "steps", "wall_time_s", "final_loss", "metrics"):
        assert key in card, f"{name} card lacks {key}"
    assert not model.training


def test_classifier_is_accurate_on_real_test_images(classifier, test_set):
    x, y = test_set
    pred, _ = metrics.classify(classifier, x[:2000])
    assert (pred == y[:2000]).mean() > 0.92


def test_diffusion_makes_images_of_the_requested_class(diffusion_model, classifier):
    model, _ = diffusion_model
    req = SampleRequest(family="diffusion", sampler="dpmpp-2m", steps=10, seed=1)
    images, labels, _ = sample_images(req, 50, 25, "cpu", model=model)
    pred, _ = metrics.classify(classifier, images)
    assert (pred == labels).mean() >= 0.8, (pred, labels)  # chance is 0.1
    assert images.std() > 30  # not blank or flat


def test_pixel_ar_makes_images_of_the_requested_class(ar_model, classifier):
    model, _ = ar_model
    images, labels, _ = sample_images(SampleRequest(family="ar", seed=2), 10, 10, "cpu", model=model)
    pred, _ = metrics.classify(classifier, images)
    assert (pred == labels).mean() >= 0.6, (pred, labels)


@pytest.fixture
def model_copy(tmp_path):
    dst = tmp_path / "copy"
    shutil.copytree(checkpoints.models_dir() / "fmnist-classifier", dst)
    return dst


def test_truncated_weights_are_refused_clearly(model_copy):
    w = model_copy / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(checkpoints.CheckpointError, match="truncated, corrupt or was replaced"):
        checkpoints.load_model(str(model_copy))


def test_tampered_weights_are_refused_clearly(model_copy):
    w = model_copy / "weights.safetensors"
    data = bytearray(w.read_bytes())
    data[-10] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(checkpoints.CheckpointError, match="does not match its card"):
        checkpoints.load_model(str(model_copy))


def test_missing_files_and_models_are_named(model_copy):
    (model_copy / "config.json").unlink()
    with pytest.raises(checkpoints.CheckpointError, match="config.json is missing"):
        checkpoints.load_model(str(model_copy))
    with pytest.raises(checkpoints.CheckpointError, match="not found"):
        checkpoints.load_model("no-such-model")


def test_corrupt_weights_with_a_matching_card_are_refused(model_copy):
    w = model_copy / "weights.safetensors"
    w.write_bytes(b"not a safetensors file at all")
    card = json.loads((model_copy / "card.json").read_text())
    card["sha256"] = checkpoints.sha256_file(w)
    (model_copy / "card.json").write_text(json.dumps(card))
    with pytest.raises(checkpoints.CheckpointError, match="cannot read"):
        checkpoints.load_model(str(model_copy))


def test_a_classifier_is_not_a_diffusion_model():
    with pytest.raises(checkpoints.CheckpointError, match="not a diffusion model"):
        sampling.load("diffusion", "fmnist-classifier")


def test_metrics_behave():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 8))
    b = rng.normal(size=(2000, 8))
    assert metrics.frechet_distance(a, b) < 0.05
    assert metrics.frechet_distance(a, b + 1.0) > 7.5  # |mean shift|^2 = 8
    assert abs(metrics.kid(a, b, subsets=5)[0]) < 0.01
    assert metrics.kid(a, b + 1.0, subsets=5)[0] > 0.1
