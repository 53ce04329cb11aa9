"""Video figures on the GPU machine: clips of both families at 16 and 64 frames, their drift per
frame index (desktopgen.metrics.drift) against real clips of the test split, time per clip and
peak memory; writes videos-<family>-<frames>.json (with a CRC-32 of every frame, so two runs
can be compared clip by clip) and a few clips (.npz) for the docs.
    python tools/gpu_video_clips.py --out DIR [--n 256] [--batch 256] [--families diffusion,ar]
        [--guidance W] [--model NAME] [--tag T] [--codes]
--guidance: the families' own defaults unless given; --tag: written as videos-<family>-<frames><tag>.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from desktopgen import sampling
from desktopgen.core import checkpoints
from desktopgen.core.device import device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest
from desktopgen.data import fmnist, moving
from desktopgen.metrics.drift import drift

MODULES = {"diffusion": "desktopgen.sampling.video_diffusion", "ar": "desktopgen.sampling.video_ar"}


def clips(mod, model, card, family, n, batch, frames, dev, guidance=-1.0, codes=None, seed=0):
    """(videos, labels, seconds, peak memory); `codes`: a list that gets each batch's AR codes."""
    out, labels, secs, peak = [], [], 0.0, 0
    for i0 in range(0, n, batch):
        b = min(batch, n - i0)
        req = SampleRequest(family=family, model=card["name"], model_sha256=card.get("sha256", ""),
                            seed=seed, batch=b, first_index=i0, guidance=guidance)
        synchronize(dev)
        t0 = time.perf_counter()
        res = sampling.run_to_end(mod.sample_video(model, req, frames=frames, device=dev, preview_every=0))
        synchronize(dev)
        secs += time.perf_counter() - t0
        peak = max(peak, res.peak_memory or 0)
        out.append(res.images)
        labels.append(res.labels)
        if codes is not None and "codes" in res.extra:
            codes.append(res.extra["codes"])
    return np.concatenate(out), np.concatenate(labels), secs, peak


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--frames", default="16,64")
    ap.add_argument("--families", default="diffusion,ar")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--guidance", type=float, default=-1.0, help="-1: each family's default")
    ap.add_argument("--model", default="", help="a model other than the family's shipped one")
    ap.add_argument("--seed", type=int, default=0, help="the clips' seed (clip i depends on seed and i)")
    ap.add_argument("--tag", default="", help="suffix of the output names")
    ap.add_argument("--codes", action="store_true",
                    help="AR: also write every clip's codes (codes-ar-<frames><tag>.npz)")
    a = ap.parse_args()
    dev = pick_device(a.device)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    classifier, _ = checkpoints.load_model("fmnist-classifier", dev)
    classifier.eval()
    test_x, _ = fmnist.load("test")
    frames_list = [int(f) for f in a.frames.split(",")]
    reference = moving.make_clips(test_x[: a.n], seed=1, index=np.arange(a.n), frames=max(frames_list))
    ref = drift(reference, np.zeros(a.n, dtype=np.int64), classifier, dev)  # labels unused below
    for family in a.families.split(","):
        mod = importlib.import_module(MODULES[family])
        try:
            model, card = mod.load(a.model, dev)
        except Exception as e:  # noqa: BLE001 (report and go on with the other family)
            print(f"{family}: {e}")
            continue
        w = mod.DEFAULT_GUIDANCE if a.guidance < 0 else a.guidance
        for frames in frames_list:
            torch.cuda.reset_peak_memory_stats() if dev.type == "cuda" else None
            # batch-1 time of one clip (after a warm-up run), then the whole set at --batch
            clips(mod, model, card, family, 1, 1, frames, dev, a.guidance)
            _, _, t1, p1 = clips(mod, model, card, family, 1, 1, frames, dev, a.guidance)
            codes: list = []
            videos, labels, secs, peak = clips(mod, model, card, family, a.n, a.batch, frames, dev,
                                               a.guidance, codes, a.seed)
            if a.codes and codes:  # every clip's codes: decode them with another decoder later
                np.savez_compressed(out / f"codes-{family}-{frames}{a.tag}.npz",
                                    codes=np.concatenate(codes).astype(np.int16), labels=labels,
                                    guidance=w, model=card["name"])
            d = drift(videos, labels, classifier, dev, reference=reference)
            d.update({"family": family, "model": card["name"], "guidance": w, "seed": a.seed,
                      "device": device_name(dev),
                      "torch": torch.__version__, "seconds_per_clip_batch1": t1,
                      "peak_mib_batch1": p1 / 2**20, "batch": a.batch,
                      # every clip's every frame, to compare runs clip by clip (--batch, --frames)
                      "frame_crc32": [[zlib.crc32(f.tobytes()) for f in clip] for clip in videos],
                      "seconds_per_clip_batched": secs / a.n, "peak_mib_batched": peak / 2**20,
                      "real_clips": {"motion_error": ref["motion_error"][:frames],
                                     "identity": ref["identity"][:frames]}})
            (out / f"videos-{family}-{frames}{a.tag}.json").write_text(json.dumps(d, indent=1) + "\n")
            np.savez_compressed(out / f"clips-{family}-{frames}{a.tag}.npz", videos=videos[:20],
                                labels=labels[:20])
            cc = d["class_consistency"]
            print(f"{family} ({card['name']}, guidance {w:g}) {frames} frames, n={a.n}: "
                  f"class consistency min "
                  f"{d['min_class_consistency']:.3f} (frame 1 {cc[0]:.3f}, last {cc[-1]:.3f}), "
                  f"identity mean {d['mean_identity']:.3f}, motion error mean "
                  f"{d['mean_motion_error']:.2f} px, FD first/last {d['fd'][0]:.2f}/{d['fd'][-1]:.2f}; "
                  f"{t1:.3f} s per clip at batch 1, {secs / a.n * 1000:.1f} ms per clip at batch "
                  f"{a.batch}, peak {peak / 2**20:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
