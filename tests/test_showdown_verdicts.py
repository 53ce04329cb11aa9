"""Each Showdown claim's verdict rule on tiny hand-made numbers: a case that holds, one that does
not, and "not measured here" when the inputs are missing; each figure renders from the same numbers."""

import numpy as np
import pytest

from desktopgen.showdown import (
    coherence,
    compression,
    infinite,
    inpainting,
    memory,
    quality,
    speed,
    stability,
    trends,
    video,
)
from desktopgen.showdown.base import HOLDS, MIXED, NOT_HOLD, NOT_MEASURED
from desktopgen.showdown.figures import png_bytes


def _q(fam, sampler, acc, fd, coh, secs=0.01, n=1000):
    return {"family": fam, "sampler": sampler, "n": n, "accuracy": acc, "fd": fd,
            "seconds_per_image": secs, "coherence": {"halves_agree": coh}}


def quality_numbers(d_acc, a_acc, d_fd, a_fd, a_coh, d_coh=0.9, floor=0.9):
    return {"n": 1000, "floor": {"n": 1000, "accuracy": 0.95, "fd": 0.3,
                                 "coherence": {"halves_agree": floor}},
            "rows": [_q("diffusion", "dpmpp-2m", d_acc, d_fd, d_coh),
                     _q("ar", "pixel", a_acc, a_fd, a_coh, secs=1.0)]}


def _scale(kind, res, secs, state, batch=1):
    return {"kind": kind, "res": res, "batch": batch, "seconds_per_image": secs,
            "state_bytes": state, "peak_bytes": 2 * state, "mem_kind": "cuda", "label": kind}


def speed_numbers(ratio):
    return {"points": [_scale("diffusion-unet", 16, 0.1, 1), _scale("pixel-ar", 16, 0.1, 1),
                       _scale("diffusion-unet", 64, 0.1, 1), _scale("pixel-ar", 64, 0.1 * ratio, 1)]}


def memory_numbers(ar_growth):
    pts = []
    for res in (16, 32, 64):
        pts.append(_scale("diffusion-unet", res, 0.1, 8 * res * res))
        pts.append(_scale("pixel-ar", res, 1.0, 1000 * (res * res) ** ar_growth))
    return {"points": pts}


def inpaint_numbers(values):
    rows = [{"mask": m, "method": f, "family": f, "agreement": v, "mse": 0.1}
            for (f, m), v in values.items()]
    return {"n": 1000, "original_agreement": 0.94, "rows": rows}


def stability_numbers(drift, d_losses, a_losses):
    seeds = {"diffusion": [{"held_out_loss": v} for v in d_losses],
             "ar": [{"held_out_loss": v} for v in a_losses]}
    return {"exposure": {"drift": drift, "drift_se": 0.01, "row_nll_real": [1.0] * 28,
                         "row_nll_samples": [1.0] * 28},
            "seeds": seeds, "train_steps": 30, "loss_curves": {}}


def video_numbers(d_cons, a_cons, d_secs=1.0, a_secs=5.0, frames=16):
    fam = lambda c, s: {"n": 256, "frames": frames, "consistency": c, "identity": [1.0] * frames,  # noqa: E731
                        "seconds_per_clip": s}
    return {"families": {"diffusion": fam(d_cons, d_secs), "ar": fam(a_cons, a_secs)}}


def compression_numbers(ar_bits, tokenizer=None):
    return {"n": 1000, "ar_bits_per_dim": ar_bits, "classical": {"zlib": 4.5, "lzma": 4.2, "png": 5.0},
            "sizes": {"fmnist-pixel-ar": {"weights_bytes": 13_000_000}}, "tokenizer": tokenizer}


def trends_numbers(few_acc, few_secs=0.01):
    return {"rows": [
        {"sampler": "dpmpp-2m", "family": "diffusion", "role": "reference", "kind": "diffusion-unet",
         "steps": 20, "accuracy": 0.99, "fd": 0.8, "seconds_per_image": 0.1},
        {"sampler": "few-step", "family": "diffusion", "role": "trend", "kind": "flow",
         "steps": 4, "accuracy": few_acc, "fd": 0.9, "seconds_per_image": few_secs}]}


CASES = {
    quality: (quality_numbers(0.99, 0.90, 0.8, 1.2, a_coh=0.7),
              quality_numbers(0.90, 0.99, 1.2, 0.8, a_coh=0.9),
              {"rows": [_q("diffusion", "ddim", 0.9, 1.0, 0.9)], "floor": {}}),
    speed: (speed_numbers(100), speed_numbers(2), {"points": []}),
    memory: (memory_numbers(0.0), memory_numbers(1.0), {"points": []}),
    inpainting: (
        inpaint_numbers({("diffusion", "bottom-half"): 0.85, ("diffusion", "top-half"): 0.85,
                         ("diffusion", "center-square"): 0.9, ("ar", "bottom-half"): 0.87,
                         ("ar", "top-half"): 0.5, ("ar", "center-square"): 0.7}),
        inpaint_numbers({("diffusion", "bottom-half"): 0.6, ("diffusion", "top-half"): 0.6,
                         ("diffusion", "center-square"): 0.7, ("ar", "bottom-half"): 0.87,
                         ("ar", "top-half"): 0.86, ("ar", "center-square"): 0.85}),
        {"n": 10, "rows": []}),
    stability: (stability_numbers(0.3, [1.0, 1.01, 0.99], [1.0, 1.3, 0.7]),
                stability_numbers(0.0, [1.0, 1.3, 0.7], [1.0, 1.01, 0.99]),
                {"exposure": None, "seeds": {}}),
    video: (video_numbers([0.95] * 16, [0.9] * 4 + [0.5] * 12),
            video_numbers([0.7] * 16, [0.95] * 16, a_secs=0.5),
            {"missing": "needs video models"}),
    infinite: (video_numbers([0.9] * 16 + [0.3] * 48, [0.9] * 64, frames=64),
               video_numbers([0.9] * 64, [0.9] * 16 + [0.5] * 48, frames=64),
               {"missing": "needs video models"}),
    compression: (compression_numbers(2.6), compression_numbers(4.5), {"classical": {}}),
    trends: (trends_numbers(0.98), trends_numbers(0.80), {"rows": [], "missing": []}),
}


@pytest.mark.parametrize("mod", list(CASES), ids=lambda m: m.ID)
def test_verdict_holds_does_not_hold_and_not_measured(mod):
    holds, not_holds, missing = CASES[mod]
    assert mod.verdict(holds)[0] == HOLDS, mod.verdict(holds)
    assert mod.verdict(not_holds)[0] == NOT_HOLD, mod.verdict(not_holds)
    v, reason = mod.verdict(missing)
    assert v == NOT_MEASURED and reason.startswith("needs")


@pytest.mark.parametrize("mod", list(CASES), ids=lambda m: m.ID)
def test_figure_renders_png_from_the_holding_numbers(mod):
    fig = mod.figure(CASES[mod][0])
    assert fig is not None
    assert png_bytes(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_quality_tie_on_quality_with_drift_is_mixed():
    assert quality.verdict(quality_numbers(0.95, 0.95, 1.0, 1.0, a_coh=0.6))[0] == MIXED


def test_quality_small_n_differences_are_inconclusive_not_against():
    small = quality_numbers(0.99, 0.90, 0.8, 1.2, a_coh=0.7)
    for r in small["rows"]:
        r["n"] = 12
    small["n"] = small["floor"]["n"] = 12
    v, reason = quality.verdict(small)
    assert v == MIXED and "n=12" in reason  # 0.99 vs 0.90 on 12 images is within the noise


def test_inpainting_small_n_tie_is_mixed_not_does_not_hold():
    numbers = inpaint_numbers({("diffusion", "bottom-half"): 0.75, ("diffusion", "top-half"): 0.75,
                               ("diffusion", "center-square"): 0.88, ("ar", "bottom-half"): 0.88,
                               ("ar", "top-half"): 0.38, ("ar", "center-square"): 0.88})
    numbers["n"] = 8  # the first quick CPU run's figures: a penalty shows, the rest is noise
    assert inpainting.verdict(numbers)[0] == MIXED


def test_stability_small_drift_with_large_error_is_not_evidence_of_no_bias():
    numbers = stability_numbers(0.0, [1.0, 1.3, 0.7], [1.0, 1.01, 0.99])
    numbers["exposure"]["drift_se"] = 0.2
    assert stability.verdict(numbers)[0] == MIXED


def test_speed_ratio_between_thresholds_is_mixed():
    assert speed.verdict(speed_numbers(20))[0] == MIXED


def test_compression_with_tokenizer_needs_both_halves():
    good_tok = {"ratio": 40.0, "bits_per_image": 157, "bits_per_dim": 0.2, "accuracy": 0.92,
                "original_accuracy": 0.94}
    bad_tok = good_tok | {"accuracy": 0.5}
    assert compression.verdict(compression_numbers(2.6, good_tok))[0] == HOLDS
    assert compression.verdict(compression_numbers(2.6, bad_tok))[0] == MIXED
    assert compression.verdict(compression_numbers(4.5, bad_tok))[0] == NOT_HOLD
    assert "not measured" in compression.verdict(compression_numbers(2.6))[1]


def _blobs(value, n, rng):
    return np.clip(rng.normal(value, 5, size=(n, 28, 28)), 0, 255).astype(np.uint8)


def test_coherence_flags_a_bottom_from_another_garment():
    rng = np.random.default_rng(0)
    refs = np.concatenate([_blobs(40, 10, rng), _blobs(200, 10, rng)])
    labels = np.array([0] * 10 + [1] * 10)
    whole = _blobs(40, 4, rng)
    stitched = whole.copy()
    stitched[:, 14:] = _blobs(200, 4, rng)[:, 14:]
    prompts = np.zeros(4, np.int64)
    ok = coherence.coherence(whole, prompts, refs, labels)
    bad = coherence.coherence(stitched, prompts, refs, labels)
    assert ok["halves_agree"] == 1.0 and ok["bottom_matches_prompt"] == 1.0
    assert bad["halves_agree"] == 0.0 and bad["top_matches_prompt"] == 1.0
    assert bad["bottom_matches_prompt"] == 0.0


def test_infinite_retention_counts_only_frames_past_the_training_length():
    """A 24-frame clip (--quick): frames 17-24 against 1-16, never the overlap 9-16."""
    clip = [1.0] * 16 + [0.5] * 8
    assert infinite.retention({"consistency": clip}) == 0.5
    assert infinite.retention({"consistency": [1.0] * 16 + [0.2] * 32 + [0.5] * 16}) == 0.5
    v, reason = infinite.verdict(video_numbers([1.0] * 16 + [0.5] * 8, [1.0] * 24, frames=24))
    assert v == HOLDS and "17-24" in reason
