#!/usr/bin/env bash
# Train the three shipped models concurrently on one CUDA machine, then evaluate them.
# Usage (repo root): MIN=6.5 OUT=out bash tools/gpu_train.sh   (data: $DESKTOPGEN_DATA)
set -u
export PYTHONUNBUFFERED=1 DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
OUT=${OUT:-out}; MIN=${MIN:-6.5}; EVAL_S=${EVAL_S:-150}
mkdir -p "$OUT/logs"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/logs/gpu.txt" 2>&1
python3 -m desktopgen train classifier --out models/fmnist-classifier --steps 5000 --minutes 2 \
  > "$OUT/logs/train-classifier.log" 2>&1 &
python3 -m desktopgen train diffusion --out models/fmnist-diffusion --steps 1000000 --minutes "$MIN" \
  --checkpoint-every 5000 > "$OUT/logs/train-diffusion.log" 2>&1 &
python3 -m desktopgen train ar --out models/fmnist-pixel-ar --steps 1000000 --minutes "$MIN" \
  --checkpoint-every 5000 > "$OUT/logs/train-ar.log" 2>&1 &
wait
pack() {
  for m in fmnist-classifier fmnist-diffusion fmnist-pixel-ar; do
    tar czf "$OUT/$m.tgz" --exclude=train_state "models/$m"
  done
  tar czf "$OUT/logs.tgz" -C "$OUT" logs
}
pack
python3 -m desktopgen eval --family classifier --update-card > "$OUT/logs/eval-classifier.log" 2>&1
timeout "$EVAL_S" python3 -m desktopgen eval --family diffusion --sweep --batch 250 --update-card \
  --json "$OUT/logs/eval-diffusion.json" > "$OUT/logs/eval-diffusion.log" 2>&1 &
timeout "$EVAL_S" python3 -m desktopgen eval --family ar --sweep --batch 250 --update-card \
  --json "$OUT/logs/eval-ar.json" > "$OUT/logs/eval-ar.log" 2>&1 &
wait
pack
tail -n 4 "$OUT"/logs/train-*.log; cat "$OUT"/logs/eval-*.log
