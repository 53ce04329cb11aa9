#!/usr/bin/env bash
# One ~20-minute pipeline on one H200 (nvidia-h200), run detached (setsid) so that it outlives the
# device commands that watch it; every stage is time-boxed against $DEADLINE.
#
#   1. Three raster token ARs over the 196 codes of fmnist-tokenizer-14 (issue 9), side by side:
#      8 layers x 256 (the 7x7 model's size: quality), 4 x 256 and 4 x 192 (the speed targets:
#      196 steps where the 7x7 code had 49). Each then evaluated with the sweep (guidance x
#      temperature, 1,000 samples per row) and its NLL.
#   2. Beside them, once a second command has brought the video models: the video AR's 64-frame
#      drift at batch 256 (the run that the chunked decoder should have fixed; issue 11).
#   3. Alone on the GPU at the end: the token AR step's speed (tools/token_ar_speed_probe.py: the
#      shipped per-step graph, matmul attention, one graph for the whole run, torch.compile; random
#      weights and the trained models), the token and few-step rows of bench_engine (issues 9, 10).
#
# Models are written under models/ of the working copy it runs in (outside the synced tree);
# logs and results under $L.
#   L=/tmp/w8/logs bash tools/gpu_wave8.sh              (on the device, from the working copy)
#   bash tools/gpu_wave8.sh collect OUT NAME...         pack models NAME and the logs into OUT
# CPU dry run of every command (tiny networks, seconds per stage; run it in a copy of the repo):
#   DRY=1 L=/tmp/w8dry/logs bash tools/gpu_wave8.sh
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
L=${L:-/tmp/w8/logs}; PY=${PY:-python3}; DRY=${DRY:-0}
mkdir -p "$L"

DEADLINE=${DEADLINE:-1260}  # seconds after the start; the last stages stop here
. "$(dirname "$0")/gpu_pipeline.sh"  # collect, stamp, left, waitfor, mins, train, ev, drift, better
[ "${1:-}" = collect ] && { collect "${@:2}"; exit 0; }
if [ "$DRY" = 1 ]; then  # minutes become seconds-long; tiny networks
  scale=0.004; DEV=(--device cpu); LIM=(--limit 512); N=20; VN=4; EV_DEV=cpu; SWEEP=()
  SMALL=', "n_embd": 32, "n_head": 2'; PROBE=(--device cpu --batch 2 --repeat 1 --configs 2x32x2)
  BENCH=(--device cpu --batches 1 --repeat 0)
else
  scale=1; DEV=(); LIM=(); N=1000; VN=256; EV_DEV=cuda; SWEEP=(--sweep); SMALL=''
  PROBE=(--device cuda --batch 100 --repeat 5 --configs 8x256x8,4x256x8,4x192x6)
  BENCH=(--device cuda --batches 1 --repeat 5)
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$L/gpu.txt" 2>&1
stamp "start (DRY=$DRY)"

# 1. three token ARs on the 14x14 codes, side by side; each evaluated when it is done
tok_ar() {  # name, arch JSON
  train 0 "$1" token-ar --tokenizer fmnist-tokenizer-14 --arch "$2" --minutes "$(mins 12.5)"
  touch "$L/$1.done"
  ev 0 "$1" --family ar --sampler tokens --model "$1" "${SWEEP[@]}" --batch 256 \
    --json "$L/eval-$1.json" --update-card
  touch "$L/$1.evaluated"
}
tok_ar fmnist-token-ar-14 "{\"seq_len\": 196$SMALL}" &
tok_ar fmnist-token-ar-14s "{\"seq_len\": 196, \"n_layer\": 4$SMALL}" &
tok_ar fmnist-token-ar-14t "{\"seq_len\": 196, \"n_layer\": 4, \"n_embd\": 192, \"n_head\": 6}" &

# 2. the video AR's 64-frame drift at batch 256 (its models come with the second command)
(
  waitfor models-b.ready
  drift 0 ar 4 64 "-g4-b256"
  touch "$L/drift.done"
) &
wait
stamp "trainings, evaluations and drift done"

# 3. speed, alone on the GPU
CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY tools/token_ar_speed_probe.py "${PROBE[@]}" \
  > "$L/token-ar-probe-random.log" 2>&1
stamp "token AR probe (random weights): exit $?"
for m in fmnist-token-ar-14 fmnist-token-ar-14s fmnist-token-ar-14t; do
  CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY benchmarks/bench_engine.py "${BENCH[@]}" --only tokens \
    --token-model "$m" > "$L/bench-tokens-$m.log" 2>&1
  stamp "bench tokens $m: exit $?"
done
CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY benchmarks/bench_engine.py "${BENCH[@]}" --only flow \
  > "$L/bench-flow.log" 2>&1
stamp "bench flow: exit $?"
stamp "all done"
touch "$L/all.done"
