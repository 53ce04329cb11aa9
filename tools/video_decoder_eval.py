"""Video tokenizers' decoders side by side (issue 11): the ceiling each sets (real moving-garment
clips of the test split, every frame encoded, then decoded frame by frame or, with space-time
blocks, a clip at a time) and the video AR's own clips (codes saved by
`tools/gpu_video_clips.py --codes`) decoded by each. The codes are the same for every decoder
(they share the encoder: `same_codes_as`), so one AR run measures them all.

    PYTHONPATH=. python tools/video_decoder_eval.py --tokenizers fmnist-tokenizer,NEW \
        [--codes codes-ar-16-g4.npz,...] [--n 256] [--device cuda] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from desktopgen.core import checkpoints
from desktopgen.core.device import pick_device
from desktopgen.core.jsonable import jsonable
from desktopgen.data import fmnist, moving
from desktopgen.metrics.drift import drift
from desktopgen.sampling.tokens import to_uint8


def decode(tok, codes: torch.Tensor) -> np.ndarray:
    """Codes (N, T, h, w) -> uint8 frames (N, T, H, W): a clip at a time where the tokenizer has
    space-time blocks, else frame by frame (decode_clips does both, in chunks)."""
    frames = to_uint8(tok.decode_clips(codes).flatten(0, 1))  # (N * T, H, W)
    return frames.reshape(*codes.shape[:2], *frames.shape[1:])


def encode(tok, videos: np.ndarray, dev, batch: int = 1024) -> torch.Tensor:
    n, t, h, w = videos.shape
    frames = torch.from_numpy(videos.reshape(n * t, 1, h, w)).float() / 127.5 - 1
    codes = [tok.encode(frames[i:i + batch].to(dev)) for i in range(0, len(frames), batch)]
    return torch.cat(codes).view(n, t, *codes[0].shape[1:])


def summary(d: dict) -> dict:
    cc = d["class_consistency"]
    return {"min_class_consistency": d["min_class_consistency"], "mean_class_consistency": float(np.mean(cc)),
            "class_consistency": cc, "mean_identity": d["mean_identity"],
            "mean_motion_error": d["mean_motion_error"], "fd": d.get("fd")}


def line(name: str, s: dict) -> str:
    cc = s["class_consistency"]
    fd = s["fd"] or [float("nan")]
    return (f"{name}: class consistency min {s['min_class_consistency']:.3f} mean "
            f"{s['mean_class_consistency']:.3f} (frame 1 {cc[0]:.3f}, last {cc[-1]:.3f}); identity "
            f"{s['mean_identity']:.3f}; motion {s['mean_motion_error']:.2f} px; FD mean {np.mean(fd):.2f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokenizers", required=True, help="comma-separated model names or folders")
    p.add_argument("--codes", default="", help="comma-separated .npz files of AR codes")
    p.add_argument("--n", type=int, default=256, help="real test clips for the ceiling")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    torch.set_grad_enabled(False)
    dev = pick_device(a.device)
    clf, _ = checkpoints.load_model("fmnist-classifier", dev)
    clf.eval()
    test_x, test_y = fmnist.load("test")
    files = [f for f in a.codes.split(",") if f]
    saved = {f: np.load(f) for f in files}
    longest = max([a.frames] + [int(s["codes"].shape[1]) for s in saved.values()])
    real = moving.make_clips(test_x[: max(a.n, 256)], seed=1, index=np.arange(max(a.n, 256)),
                             frames=longest)
    labels = np.asarray(test_y[: a.n], dtype=np.int64)
    rows: dict = {"device": str(dev), "n_ceiling": a.n, "frames": a.frames}
    d = drift(real[: a.n, : a.frames], labels, clf, dev, reference=real)
    rows["real clips"] = summary(d)
    print(line("real clips", rows["real clips"]), flush=True)
    for name in [t for t in a.tokenizers.split(",") if t]:
        tok, card = checkpoints.load_model(name, dev)
        tok.eval()
        key = card.get("name", name)
        t0 = time.perf_counter()
        codes = encode(tok, real[: a.n, : a.frames], dev)
        recon = decode(tok, codes)
        s = summary(drift(recon, labels, clf, dev, reference=real))
        s["seconds"] = round(time.perf_counter() - t0, 2)
        rows[f"real clips through {key}"] = s
        print(line(f"real clips through {key}", s), flush=True)
        for f, saved_codes in saved.items():
            c = torch.from_numpy(saved_codes["codes"].astype(np.int64)).to(dev)
            n, t = c.shape[:2]
            g = int(round((c.shape[2]) ** 0.5))
            videos = decode(tok, c.view(n, t, g, g))
            s = summary(drift(videos, saved_codes["labels"], clf, dev, reference=real))
            s.update({"guidance": float(saved_codes["guidance"]), "n": int(n), "frames": int(t)})
            rows[f"{f} through {key}"] = s
            print(line(f"AR {f} (n={n}, {t} frames) through {key}", s), flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(jsonable(rows), fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
