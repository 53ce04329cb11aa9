#!/usr/bin/env bash
# One ~14-minute pipeline on one H200 (issue 11), run detached (setsid) so that it outlives the
# device commands that watch it; every stage is time-boxed against $DEADLINE.
#
#   1. `train video-decoder`: fmnist-tokenizer's decoder with 4 space-time blocks, on moving
#      clips (the codes stay: the video AR needs no retraining) -> models/mfmnist-video-tokenizer.
#   2. Beside it, the video AR's clips with every code saved (16 frames at guidance 3, 4 and 5;
#      64 frames at 4 and batch 256, the run that confirms the chunked decode), drift through the
#      shipped frame-by-frame decoder as before.
#   3. Then the decoders side by side (tools/video_decoder_eval.py): each one's ceiling on real
#      clips, and the same AR codes decoded by each.
#   4. Alone on the GPU at the end, once a second command has brought its model: video diffusion at 16 and 64 frames, batch 1 and 256 (the
#      64-frame time per clip measured 326 ms once and 720 ms on a shared host).
#
#   L=/tmp/w9/logs bash tools/gpu_wave9.sh           (on the device, from a copy of the tree)
#   bash tools/gpu_wave9.sh collect OUT NAME...      pack models NAME and the logs into OUT
# CPU dry run (tiny, seconds per stage; in a copy of the repo):
#   DRY=1 L=/tmp/w9dry/logs bash tools/gpu_wave9.sh
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
L=${L:-/tmp/w9/logs}; PY=${PY:-python3}; DRY=${DRY:-0}
mkdir -p "$L"

DEADLINE=${DEADLINE:-900}  # seconds after the start; the last stages stop here
. "$(dirname "$0")/gpu_pipeline.sh"  # collect, stamp, left, waitfor, mins, train, ev, drift, better
[ "${1:-}" = collect ] && { collect "${@:2}"; exit 0; }
if [ "$DRY" = 1 ]; then
  scale=0.004; DEV=(--device cpu); LIM=(--limit 512); N=20; VN=2; EV_DEV=cpu; FRAMES64=17
  VBATCH=1; GS=(4)
else
  scale=1; DEV=(); LIM=(); N=1000; VN=256; EV_DEV=cuda; FRAMES64=64; VBATCH=32; GS=(4 3 5)
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$L/gpu.txt" 2>&1
stamp "start (DRY=$DRY)"

# 1. the space-time decoder
(
  train 0 mfmnist-video-tokenizer video-decoder --init-from fmnist-tokenizer --batch "$VBATCH" \
    --adversarial 0.1 --arch '{"temporal_blocks": 4, "temporal_channels": 80}' --minutes "$(mins 9)"
  touch "$L/mfmnist-video-tokenizer.done"
) &
# 2. the AR's codes beside it
(
  for g in "${GS[@]}"; do drift 0 ar "$g" 16 "-g$g" --codes; done
  drift 0 ar 4 "$FRAMES64" "-g4-b$VN" --codes
  touch "$L/codes.done"
) &
wait
stamp "training and AR clips done"

# 3. the decoders side by side, on the same codes
codes=$(ls "$L"/video/codes-ar-*.npz 2>/dev/null | paste -sd, -)
timeout "$(left)" $PY tools/video_decoder_eval.py --tokenizers fmnist-tokenizer,mfmnist-video-tokenizer \
  --codes "$codes" --n "$VN" --device "$EV_DEV" --json "$L/decoders.json" > "$L/decoders.log" 2>&1
stamp "decoders: exit $? ($(tail -n 1 "$L/decoders.log" | cut -c1-160))"

# 4. video diffusion alone on the GPU: time and memory at 16 and 64 frames (its model comes with
# a second device command: the first one's tree has no room for it beside the data)
[ "$DRY" = 1 ] && touch "$L/models-b.ready"
waitfor models-b.ready
CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY tools/gpu_video_clips.py --out "$L/video" --n "$VN" \
  --batch "$VN" --frames "16,$FRAMES64" --families diffusion --tag=-quiet --device "$EV_DEV" \
  >> "$L/clips-diffusion.log" 2>&1
stamp "video diffusion alone: exit $?"
touch "$L/all.done"
