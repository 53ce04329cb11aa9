"""The ceilings of the drift measures: real moving-garment clips of the test split, as they are and
after a round trip through the tokenizer that the video AR generates with (encode every frame,
decode it). The video AR can do no better than its tokenizer lets it draw, so its class
consistency is read against the round trip's, as image token models are against the tokenizer's
reconstructions.

    PYTHONPATH=. python tools/video_ceiling.py [--n 256] [--frames 16] [--json PATH]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from desktopgen.core import checkpoints
from desktopgen.core.jsonable import jsonable
from desktopgen.data import fmnist, moving
from desktopgen.metrics.drift import drift
from desktopgen.sampling import video_ar


def round_trip(tokenizer, videos: np.ndarray, batch: int = 512) -> np.ndarray:
    """Every frame encoded and decoded: uint8 (N, T, H, W) in, the same shape out."""
    n, t, h, w = videos.shape
    frames = torch.from_numpy(videos.reshape(n * t, 1, h, w)).float() / 127.5 - 1
    out = []
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            x = tokenizer.decode(tokenizer.encode(frames[i:i + batch]))
            out.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    return torch.cat(out).view(n, t, h, w).numpy()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    torch.set_grad_enabled(False)
    dev = torch.device("cpu")
    clf, _ = checkpoints.load_model("fmnist-classifier", dev)
    clf.eval()
    model, card = video_ar.load("", dev)
    tok = model.tokenizer
    test_x, test_y = fmnist.load("test")
    videos = moving.make_clips(test_x[: a.n], seed=1, index=np.arange(a.n), frames=a.frames)
    labels = np.asarray(test_y[: a.n], dtype=np.int64)
    rows = {}
    for name, clips in (("real clips", videos), (f"real clips through {card['tokenizer']['name']}",
                                                  round_trip(tok, videos))):
        d = drift(clips, labels, clf, dev, reference=videos)
        rows[name] = {k: d[k] for k in ("min_class_consistency", "class_consistency",
                                         "mean_identity", "fd")}
        cc = d["class_consistency"]
        print(f"{name}: class consistency min {d['min_class_consistency']:.3f}, mean "
              f"{float(np.mean(cc)):.3f} (frame 1 {cc[0]:.3f}), identity {d['mean_identity']:.3f}, "
              f"FD first/last {d['fd'][0]:.2f}/{d['fd'][-1]:.2f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(jsonable({"n": a.n, "frames": a.frames, "rows": rows}), f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
