"""Recall returns every field exactly (first_index, the full seed range, source and mask) plus the
warnings the GUI shows, and any hostile recipe gives a RecallError, never another exception."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from desktopgen import __version__
from desktopgen.core.events import RunResult
from desktopgen.core.requests import MAX_SEED, RequestError, SampleRequest
from desktopgen.export.images import RECIPE_KEY, export_image, save_grid_png
from desktopgen.export.recall import RecallError, parse_recipe, read_recipe

SOURCE = tuple(tuple((r * 9 + c) % 256 for c in range(28)) for r in range(28))
MASK = tuple(tuple(int(8 <= r < 20 and 8 <= c < 20) for c in range(28)) for r in range(28))


def fake_result(batch: int) -> RunResult:
    images = np.stack([np.full((28, 28), 20 * i, np.uint8) for i in range(batch)])
    return RunResult("diffusion", images, np.zeros(batch, np.int64), 4, 0.5, 1, "process", "cpu")


def full_request(**changes) -> SampleRequest:
    req = SampleRequest("diffusion", model="fmnist-diffusion", model_sha256="ab" * 32, sampler="ddim",
                        steps=7, guidance=2.5, temperature=0.7, top_k=5, class_label=3, seed=MAX_SEED,
                        batch=4, first_index=40, resample=3, jump=2, source=SOURCE, mask=MASK)
    return req.with_(**changes).validate()


def png_with(tmp_path, text: str, name="r.png"):
    info = PngImagePlugin.PngInfo()
    info.add_text(RECIPE_KEY, text)
    p = tmp_path / name
    Image.new("L", (4, 4)).save(p, pnginfo=info)
    return p


def test_every_field_comes_back_exactly(tmp_path):
    req = full_request()
    grid = export_image(tmp_path / "g.png", {"diffusion": (req, fake_result(4))})
    back = read_recipe(grid)
    assert back.request == req and back.warnings == () and back.batch_index is None
    one = export_image(tmp_path / "one.png", {"diffusion": (req, fake_result(4))}, index=2)
    back = read_recipe(one)
    assert back.request == req.with_(batch=1, first_index=42)  # regenerates sample 2 alone
    assert back.request.seed == 2**63 - 1 and back.batch_index == 2
    assert back.request.source == SOURCE and back.request.mask == MASK


def test_warnings_say_what_could_not_be_restored(tmp_path):
    req = full_request(source=None, mask=None, batch=256)
    p = save_grid_png(tmp_path / "n.png", np.zeros((300, 28, 28), np.uint8), req, extra={"n": 300})
    w = read_recipe(p).warnings
    assert len(w) == 1 and "holds 300 images" in w[0] and "first 256" in w[0]
    p = save_grid_png(tmp_path / "b.png", np.zeros((5, 28, 28), np.uint8), req.with_(batch=5),
                      extra={"inpaint": {"images": "in.npz", "mask": "top-half"}})
    (w,) = read_recipe(p).warnings
    assert "in.npz" in w and "not stored" in w
    old = {"request": {"family": "ar", "seed": 5}, "app_version": "0.0.1"}
    recipe = parse_recipe(json.dumps(old))
    assert recipe.request == SampleRequest("ar", seed=5)
    assert any("0.0.1" in x and __version__ in x for x in recipe.warnings)
    assert any("does not say" in x and "first_index" in x for x in recipe.warnings)


def test_deep_nesting_is_a_recall_error(tmp_path):
    deep = '{"request": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(RecallError, match="nested too deeply"):
        read_recipe(png_with(tmp_path, deep))


@pytest.mark.parametrize("bad,why", [
    ('{"request": {"family": "ar", "guidance": NaN}}', "NaN"),
    ('{"request": {"family": "ar", "temperature": Infinity}}', "Infinity"),
    ('{"request": {"family": "ar", "guidance": 1e999}}', "out of range"),
    ('{"request": {"family": "ar", "seed": 9223372036854775808}}', "seed must be between"),
    ('{"request": {"family": "ar", "seed": "7"}}', "seed must be a whole number"),
    ('{"request": {"family": "ar", "batch": true}}', "batch must be a whole number"),
    ('{"request": {"family": "ar", "steps": 2.5}}', "steps must be a whole number"),
    ('{"request": {"family": "ar", "model": 3}}', "model must be text"),
    ('{"request": {"family": "ar", "source": [[1]], "mask": [[1]]}}', "source must be 28x28"),
    ('{"request": {"seed": 1}}', "names no family"),
    ('{"sides": {"ar": {"request": {"family": "diffusion"}}}}', "holds a diffusion request"),
    ('{"sides": {"gan": {"request": {"family": "ar"}}}}', "unknown side"),
    ('{"request": {"family": "ar"}, "batch_index": -1}', "batch_index"),
    ('{"request": {"family": "ar"}, "batch_index": 1.5}', "batch_index"),
])
def test_malformed_recipes_say_why(bad, why):
    with pytest.raises(RecallError, match=why):
        parse_recipe(bad)


def test_request_validate_refuses_non_finite_numbers():
    for field in ("guidance", "temperature"):
        for v in (float("nan"), float("inf"), -float("inf")):
            with pytest.raises(RequestError, match="finite"):
                SampleRequest("diffusion", **{field: v}).validate()
    with pytest.raises(ValueError):
        SampleRequest("ar", guidance=float("nan")).to_json()


def _mutations(rng: random.Random, good: dict):
    """Malformed variants of a good recipe: wrong types, odd numbers, deep or ragged arrays,
    truncated or spliced text."""
    odd = [None, True, -1, 0, 2**64, 1e308, -0.0, "", "x" * 5000, [], {}, [[1, 2], [3]], [None] * 28,
           {"a": {"b": {"c": []}}}, [[[[[[1]]]]]], "NaN", 28, 255, 256]
    for _ in range(400):
        meta = json.loads(json.dumps(good))
        target = meta["request"] if rng.random() < 0.8 else meta
        key = rng.choice([*target.keys(), "extra_field"])
        target[key] = rng.choice(odd)
        yield json.dumps(meta)
    text = json.dumps(good)
    for _ in range(200):
        i, j = sorted(rng.randrange(len(text)) for _ in range(2))
        yield rng.choice([text[:i], text[:i] + text[j:], text[:i] + rng.choice("[]{},:\"0e-") + text[i:]])
    yield "[" * 5000
    yield '{"request": ' * 5000
    yield "9" * 100_000
    yield '"' + "\\" * 10_001
    yield json.dumps({"request": {"family": "ar", "source": [[[list(range(28))] * 28]], "mask": 1}})


def test_fuzzed_recipes_give_only_recall_errors():
    good = {"request": full_request().to_dict(), "app_version": __version__, "batch_index": 1, "n": 4}
    assert parse_recipe(json.dumps(good)).request == full_request()
    rng = random.Random(8)
    outcomes = {"ok": 0, "refused": 0}
    for text in _mutations(rng, good):
        try:
            recipe = parse_recipe(text)
        except RecallError as e:
            assert str(e) and "\n" not in str(e)
            outcomes["refused"] += 1
        else:  # anything accepted is a valid request set
            for r in recipe.requests.values():
                r.validate()
            outcomes["ok"] += 1
    assert outcomes["refused"] > 300 and outcomes["ok"] > 0


def test_hostile_files(tmp_path):
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(RecallError, match="folder"):
        read_recipe(tmp_path / "dir.png")
    big = png_with(tmp_path, '{"request": {"family": "ar", "model": "' + "m" * 2_000_000 + '"}}', "big.png")
    with pytest.raises(RecallError):
        read_recipe(big)
