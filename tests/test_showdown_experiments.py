"""Showdown experiments that run in seconds on the CPU: the scaled random-weight timings and
memory (claims 2 and 4) at tiny resolutions, the classical compressors, the sampler selection."""

import numpy as np
import pytest

from desktopgen.showdown import base, compression, inpainting, memory, speed, trends


def tiny_ctx(**kw):
    s = base.Settings(device="cpu", resolutions=(8, 16), batches=(1,), timed_steps=1, **kw)
    return base.Context(s)


def test_scaled_models_kv_cache_grows_with_pixels_and_memory_claim_does_not_hold():
    ctx = tiny_ctx()
    numbers = memory.experiment(ctx)
    ar = {p["res"]: p for p in numbers["points"] if p["kind"] == "pixel-ar"}
    # KV cache = 2 (k, v) x layers x rows (guidance doubles) x heads x pixels x head size x 4 bytes
    assert ar[16]["state_bytes"] == 2 * 8 * 2 * 8 * 256 * 32 * 4
    assert ar[16]["state_bytes"] == 4 * ar[8]["state_bytes"]
    assert memory.verdict(numbers)[0] == base.NOT_HOLD
    # claim 2 reuses the same measurements (not timed again) and adds the derived few-step rows
    again = speed.experiment(ctx)
    timed = [p for p in numbers["points"] if p["kind"] != "flow"]
    assert [p for p in again["points"] if p["kind"] != "flow"] == timed
    flow = [p for p in again["points"] if p["kind"] == "flow"]
    assert flow and all(p["calls"] == 4 for p in flow)
    assert speed.verdict(again)[0] in (base.HOLDS, base.NOT_HOLD, base.MIXED)


def test_classical_compressors_beat_raw_bytes_on_a_flat_image_and_not_on_noise():
    flat = np.zeros((4, 28, 28), np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    assert max(compression.classical_bits(flat).values()) < 2
    assert min(compression.classical_bits(noise).values()) > 7.5


def test_equal_quality_picks_each_familys_fastest_row_near_the_lower_best():
    rows = [{"family": "diffusion", "sampler": "a", "accuracy": 0.99, "seconds_per_image": 1.0},
            {"family": "diffusion", "sampler": "b", "accuracy": 0.95, "seconds_per_image": 0.1},
            {"family": "diffusion", "sampler": "c", "accuracy": 0.80, "seconds_per_image": 0.01},
            {"family": "ar", "sampler": "p", "accuracy": 0.96, "seconds_per_image": 2.0}]
    eq = speed.equal_quality(rows)
    assert eq["diffusion"]["sampler"] == "b" and eq["ar"]["sampler"] == "p"


def test_quick_inpainting_takes_one_sampler_per_model():
    rows, _ = inpainting._rows(base.Settings.for_run(quick=True))
    models = [s.default_model for s in rows]
    assert len(models) == len(set(models))
    assert {"fmnist-diffusion", "fmnist-pixel-ar"} <= set(models)


def test_trends_without_few_step_or_maskgit_models_measures_nothing(monkeypatch):
    monkeypatch.setattr(base, "model_present", lambda name: name in ("fmnist-diffusion", "fmnist-pixel-ar"))
    numbers = trends.experiment(tiny_ctx())
    missing = {m["model"] for m in numbers["missing"]}
    assert numbers["rows"] == [] and "fmnist-flow" in missing
    assert missing <= {"fmnist-flow", "fmnist-maskgit"}  # the token AR row is no trend
    assert trends.verdict(numbers)[0] == base.NOT_MEASURED


def test_video_drift_of_a_garment_moving_on_a_canvas_keeps_class_and_identity():
    from desktopgen.data import fmnist
    from desktopgen.showdown import videos

    x, y = fmnist.load("test")
    clips = np.zeros((2, 5, 48, 48), np.uint8)
    for i in range(2):
        for t in range(5):  # the same garment, 3 pixels further right and down each frame
            clips[i, t, 2 + 3 * t : 30 + 3 * t, 4 + 3 * t : 32 + 3 * t] = x[i]
    d = videos.drift(tiny_ctx(), clips, y[:2])
    assert d["n"] == 2 and d["frames"] == 5
    assert all(c == d["consistency"][0] for c in d["consistency"])  # the crop follows the garment
    assert min(d["identity"]) > 0.999


def test_stability_short_training_stops_at_cancel():
    import torch

    from desktopgen import nets
    from desktopgen.showdown import stability
    from desktopgen.train.recipes import RECIPES

    ctx = tiny_ctx()
    ctx.cancel.set()
    model = nets.build("pixel_ar", stability.TINY["ar"])
    images, labels = torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.long)
    try:
        stability.short_training(RECIPES["ar"]("cpu"), model, images, labels, 5, 2, 0, "cpu", ctx.check)
    except base.Cancelled:
        return
    raise AssertionError("training went on after cancel")


def test_compression_measures_a_tokenizer_as_soon_as_one_is_shipped(monkeypatch):
    from desktopgen import nets
    from desktopgen.core import checkpoints

    tok = nets.build("tokenizer", {"channels": 8, "blocks": 1}).eval()  # random weights: a stand-in
    monkeypatch.setattr(base, "model_present", lambda name: name == compression.TOKENIZER)
    monkeypatch.setattr(checkpoints, "load_model", lambda name, device="cpu", verify=True:
                        (tok, {"name": name}) if name == compression.TOKENIZER
                        else (nets.build("classifier", {}), {}))
    ctx = tiny_ctx(nll_n=2)
    row = compression.tokenizer_row(ctx)
    assert row["tokens"] == [7, 7] and row["codebook"] == tok.codebook_size
    assert abs(row["ratio"] - 784 * 8 / (49 * np.log2(tok.codebook_size))) < 1e-9
    assert 0 <= row["accuracy"] <= 1 and row["n"] == 8


def test_video_rows_stay_out_of_the_image_claims_and_switch_on_the_video_ones(monkeypatch):
    import dataclasses

    from desktopgen.core import samplers as table
    from desktopgen.showdown import videos

    pixel = table.SAMPLERS["pixel"]
    fake = {"vid-ar": dataclasses.replace(pixel, name="vid-ar", model_kind="video-ar",
                                          default_model="fmnist-video-ar"),
            "vid-diff": dataclasses.replace(pixel, name="vid-diff", family="diffusion",
                                            model_kind="video-diffusion",
                                            default_model="fmnist-video-diffusion")}
    monkeypatch.setattr(table, "SAMPLERS", {**table.SAMPLERS, **fake})
    monkeypatch.setattr(base, "model_present", lambda name: True)
    images, _ = base.runnable_samplers()
    assert not any("video" in s.model_kind for s in images)
    assert {f: s.name for f, s in videos.video_rows().items()} == {"ar": "vid-ar", "diffusion": "vid-diff"}
    # with the models but without the `desktopgen video` subcommand, the claims say what is missing
    assert videos.missing() is None or "subcommand" in videos.missing()


def test_the_shipped_video_models_switch_claims_6_and_7_on():
    """The video models are not sampler-table rows: `desktopgen video` picks each family's shipped
    default. The claims must find them (they said "not measured here" beside shipped models)."""
    from desktopgen.sampling import video_ar, video_diffusion
    from desktopgen.showdown import videos

    rows = videos.video_rows()
    assert {f: r.default_model for f, r in rows.items()} == {
        "diffusion": video_diffusion.DEFAULT_MODEL, "ar": video_ar.DEFAULT_MODEL}
    assert videos.missing() is None
    quick = base.Settings.for_run(quick=True)
    assert quick.video_n >= 2 and quick.video_long > 16 and base.Settings().video_long == 64


def test_quick_claims_6_and_7_make_each_familys_clips_once(monkeypatch):
    """--quick: claim 6 reads the first 16 frames of claim 7's clips; each family's clips are
    generated once, and claim 6's seconds per clip are scaled to its 16 frames."""
    from desktopgen.data import moving
    from desktopgen.showdown import infinite, video, videos

    calls = []

    def fake_generate(ctx, family, frames, n, tmp):
        calls.append((family, frames, n))
        clips = moving.make_clips(np.full((n, 28, 28), 200, np.uint8), 0, np.arange(n), frames)
        return {"videos": clips, "labels": np.arange(n), "seconds_per_clip": 3.0}

    monkeypatch.setattr(videos, "generate", fake_generate)
    ctx = tiny_ctx(video_n=2, video_long=24, share_clips=True)
    six, seven = video.experiment(ctx), infinite.experiment(ctx)
    assert sorted(calls) == [("ar", 24, 2), ("diffusion", 24, 2)]
    assert len(six["families"]["ar"]["consistency"]) == 16 and seven["frames"] == 24
    assert len(seven["families"]["ar"]["consistency"]) == 24
    assert six["families"]["ar"]["seconds_per_clip"] == 3.0 * 16 / 24
    calls.clear()
    video.experiment(tiny_ctx(video_n=2))  # the full run: its own 16-frame clips
    assert sorted(calls) == [("ar", 16, 2), ("diffusion", 16, 2)]


@pytest.mark.slow  # ~30 s on the shared 2-core CPU: a tokenizer, a token AR and a MaskGIT
def test_full_run_also_times_token_ar_and_maskgit_with_random_weights():
    ctx = tiny_ctx()
    assert not base.Settings.for_run(quick=True).scale_tokens and ctx.settings.scale_tokens
    numbers = speed.experiment(ctx)
    tok = {p["res"]: p for p in numbers["points"] if p["kind"] == "token-ar"}
    mg = {p["res"]: p for p in numbers["points"] if p["kind"] == "maskgit"}
    assert tok[16]["calls"] == 16 and mg[16]["calls"] == 10  # (16/4)^2 tokens; 10 MaskGIT steps
    assert tok[16]["state_bytes"] == 4 * tok[8]["state_bytes"]  # the cache grows with the tokens
    assert speed.figure(numbers) is not None and memory.figure(numbers) is not None
