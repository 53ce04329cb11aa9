"""Write tools/gpu_video_clips.py results into a video model's card: `metrics` gets the 16- and
64-frame drift at the model's default guidance, and `guidance_sweep` the 16-frame summary of
every setting measured (what the default was chosen from).

    python tools/video_card.py models/mfmnist-video-diffusion DIR/videos-diffusion-16-g3.json \
        DIR/videos-diffusion-64-g3.json --sweep DIR/videos-diffusion-16-g2.json DIR/...-16-g3.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

KEEP = ("n", "guidance", "min_class_consistency", "mean_identity", "mean_motion_error",
        "class_consistency", "identity", "motion_error", "fd", "seconds_per_clip_batch1",
        "seconds_per_clip_batched", "batch", "peak_mib_batch1", "peak_mib_batched", "device",
        "torch", "motion_definition", "real_clips")


def summary(d: dict) -> dict:
    return {"guidance": d["guidance"], "n": d["n"], "min_class_consistency": d["min_class_consistency"],
            "frame1_class_consistency": d["class_consistency"][0], "mean_identity": d["mean_identity"],
            "mean_motion_error": d["mean_motion_error"], "fd_first": d["fd"][0], "fd_last": d["fd"][-1]}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="the model folder")
    p.add_argument("results", nargs="+", help="videos-<family>-<frames>*.json at the default")
    p.add_argument("--sweep", nargs="*", default=[], help="16-frame results at other settings")
    a = p.parse_args(argv)
    path = Path(a.model) / "card.json"
    card = json.loads(path.read_text())
    metrics = {"command": "python tools/gpu_video_clips.py --out DIR --n N --batch 256 "
                          "--guidance W (seed 0, classes cycling; N is each row's n)"}
    if "tokenizer_note" in card.get("metrics", {}):  # kept: it says what the figures decode with
        metrics["tokenizer_note"] = card["metrics"]["tokenizer_note"]
    for f in a.results:
        d = json.loads(Path(f).read_text())
        metrics[f"frames_{d['frames']}"] = {k: d[k] for k in KEEP if k in d}
        metrics["guidance"] = d["guidance"]
    card["metrics"] = metrics
    if a.sweep:
        card["guidance_sweep"] = [summary(json.loads(Path(f).read_text())) for f in a.sweep]
    card.pop("evaluation", None)  # the older key of the same table
    path.write_text(json.dumps(card, indent=2) + "\n")
    for k, m in metrics.items():
        if k.startswith("frames_"):
            print(f"{k}: guidance {m['guidance']:g}, min class consistency "
                  f"{m['min_class_consistency']:.3f}, identity {m['mean_identity']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
