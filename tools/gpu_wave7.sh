#!/usr/bin/env bash
# One ~20-minute pipeline on one H200 (nvidia-h200), run detached (setsid) so that it outlives the
# device commands that watch it; every stage is time-boxed against $DEADLINE.
#
#   1. The U-Net's forms timed alone (tools/unet_speed_probe.py --forms --variants): bf16 autocast
#      or a bf16 copy, channels-last or NCHW, the 20-step default at batch 100 (issue 10).
#   2. The default diffusion model trained on, alone on the GPU (issue 10: "retrain it alone,
#      longer"): `train diffusion --init-from fmnist-diffusion`, then it and the shipped model
#      evaluated at the default on the same device (1,000 samples each), and the new one at
#      guidance 1.25 and 2.
#   3. Side by side: the video AR's drift through the shipped decoder (16 frames, n = 256,
#      batch 256; 64 frames, batch 64, every frame's CRC kept: the 64-frame anomaly), and a
#      tokenizer with a 14x14 code (`--arch '{"down": 2}'`; issue 9's finer code), evaluated.
#
# Models are written under models/ of the working copy it runs in; logs and results under $L.
# The tokenizer and the video AR come in a second device command (the tree that travels is
# limited): the stages that need them wait for $L/models-b.ready.
#   L=/tmp/w7/logs bash tools/gpu_wave7.sh              (on the device, from the working copy)
#   bash tools/gpu_wave7.sh collect OUT NAME...         pack models NAME and the logs into OUT
# CPU dry run of every command (tiny networks, seconds per stage; run it in a copy of the repo):
#   DRY=1 L=/tmp/w7dry/logs bash tools/gpu_wave7.sh
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
L=${L:-/tmp/w7/logs}; PY=${PY:-python3}; DRY=${DRY:-0}
mkdir -p "$L"

DEADLINE=${DEADLINE:-1200}  # seconds after the start; the last stages stop here
. "$(dirname "$0")/gpu_pipeline.sh"  # collect, stamp, left, waitfor, mins, train, ev, drift, better
[ "${1:-}" = collect ] && { collect "${@:2}"; exit 0; }
if [ "$DRY" = 1 ]; then  # minutes become seconds-long; tiny networks where the run trains fresh
  scale=0.004; DEV=(--device cpu); LIM=(--limit 512); N=20; VN=4; BATCH=8; EV_DEV=cpu
  PROBE=(--device cpu --batch 2 --repeat 1); TOK='{"down": 2, "channels": 8, "blocks": 1}'
else
  scale=1; DEV=(); LIM=(); N=1000; VN=256; BATCH=0; EV_DEV=cuda
  PROBE=(--device cuda --batch 100 --repeat 5); TOK='{"down": 2}'
fi
batch() { [ "$BATCH" -gt 0 ] && echo "$BATCH" || echo "$1"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$L/gpu.txt" 2>&1
stamp "start (DRY=$DRY)"

# 1. the U-Net's forms, alone on the GPU
CUDA_VISIBLE_DEVICES=0 timeout 300 $PY tools/unet_speed_probe.py "${PROBE[@]}" --modes "" \
  --forms --variants > "$L/unet-forms.log" 2>&1
stamp "unet forms: exit $?"
touch "$L/probe.done"

# 2. the default diffusion model trained on, alone; evaluated beside the shipped one
train 0 fmnist-diffusion-ft diffusion --init-from fmnist-diffusion --minutes "$(mins 8)" \
  --batch "$(batch 512)" --lr 0.00015
touch "$L/fmnist-diffusion-ft.done"
ev 0 diffusion-ft --family diffusion --model fmnist-diffusion-ft --batch 500 \
  --json "$L/eval-diffusion-ft.json"
ev 0 diffusion-shipped --family diffusion --model fmnist-diffusion --batch 500 \
  --json "$L/eval-diffusion-shipped.json"
for g in 1.25 2; do
  ev 0 "diffusion-ft-g$g" --family diffusion --model fmnist-diffusion-ft --batch 500 --guidance "$g" \
    --json "$L/eval-diffusion-ft-g$g.json"
done

# 3. side by side: the video AR's drift, and a 14x14-code tokenizer
(
  waitfor models-b.ready
  drift 0 ar 4 16 "-g4"
  drift 0 ar 4 64 "-g4-b64" --batch 64
) &
(
  waitfor models-b.ready
  train 0 fmnist-tokenizer-14 tokenizer --arch "$TOK" --minutes "$(mins 4)" --batch "$(batch 256)"
  touch "$L/fmnist-tokenizer-14.done"
  ev 0 tokenizer-14 --family tokenizer --model fmnist-tokenizer-14 --update-card
) &
wait
stamp "all done"
touch "$L/all.done"
