#!/usr/bin/env bash
# Issue 9's token models on the GPU machine, in two device commands (each fits in 600 s):
#   bash tools/gpu_tokens.sh tok   train an FSQ and a VQ tokenizer side by side for $M1 minutes
#                                  (GPUs 0 and 1 if there are two, else both on GPU 0), evaluate
#                                  both, and copy the one whose test reconstructions the
#                                  classifier reads best to models/fmnist-tokenizer (its card
#                                  lists both: what was tried)
#   bash tools/gpu_tokens.sh ar    train the raster token transformer on models/fmnist-tokenizer
#                                  for $M2 minutes, then its quality table (default + a guidance
#                                  sweep) into its card, and the speed benchmark
# Every model folder written is copied to $OUT/<name>/ with the logs in $OUT/logs/.
#   M1=2.5 OUT=out bash tools/gpu_tokens.sh tok ; M2=6 OUT=out bash tools/gpu_tokens.sh ar
# CPU check of the commands (extra arguments go to every `train`; tiny networks by env):
#   TOK_ARCH='{"channels": 8, "blocks": 1}' AR_ARCH='{"n_layer": 1, "n_embd": 32, "n_head": 2}' \
#   EVAL_N=10 bash tools/gpu_tokens.sh tok --steps 20 --batch 16 --limit 256 --device cpu
set -u
stage=${1:-}; shift || true
export PYTHONUNBUFFERED=1 DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
OUT=${OUT:-out}; M1=${M1:-2.5}; M2=${M2:-6}; EVAL_N=${EVAL_N:-1000}; EVAL_S=${EVAL_S:-150}
PY=${PY:-python3}
TOK_ARCH=${TOK_ARCH:-'{}'}; AR_ARCH=${AR_ARCH:-'{}'}
mkdir -p "$OUT/logs"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/logs/gpu.txt" 2>&1
dev=$(case " $* " in *" --device cpu "*) echo cpu;; *) echo auto;; esac)
gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
second=$([ "$gpus" -ge 2 ] && echo 1 || echo 0)

keep() {  # copy a model folder (without its training state) to $OUT
  mkdir -p "$OUT/$1"
  cp "models/$1/weights.safetensors" "models/$1/config.json" "models/$1/card.json" "$OUT/$1/"
}

case "$stage" in
tok)
  arch() { $PY -c "import json,sys; print(json.dumps({**json.loads(sys.argv[1]), 'quantizer': sys.argv[2]}))" "$TOK_ARCH" "$1"; }
  CUDA_VISIBLE_DEVICES=0 $PY -m desktopgen train tokenizer --out models/fmnist-tokenizer-fsq \
    --steps 1000000 --minutes "$M1" --checkpoint-every 5000 --arch "$(arch fsq)" "$@" \
    > "$OUT/logs/train-tokenizer-fsq.log" 2>&1 &
  CUDA_VISIBLE_DEVICES=$second $PY -m desktopgen train tokenizer --out models/fmnist-tokenizer-vq \
    --steps 1000000 --minutes "$M1" --checkpoint-every 5000 --arch "$(arch vq)" "$@" \
    > "$OUT/logs/train-tokenizer-vq.log" 2>&1 &
  wait
  tail -n 2 "$OUT"/logs/train-tokenizer-*.log
  for q in fsq vq; do
    CUDA_VISIBLE_DEVICES=0 $PY -m desktopgen eval --family tokenizer --model "fmnist-tokenizer-$q" \
      --n "$EVAL_N" --device "$dev" --update-card > "$OUT/logs/eval-tokenizer-$q.log" 2>&1 &
  done
  wait
  cat "$OUT"/logs/eval-tokenizer-*.log
  # Pick by the classifier's accuracy on test reconstructions (then MSE); record both.
  PYTHONPATH=. $PY tools/pick_tokenizer.py fmnist-tokenizer-fsq fmnist-tokenizer-vq || exit 1
  for m in fmnist-tokenizer fmnist-tokenizer-fsq fmnist-tokenizer-vq; do
    [ -f "models/$m/card.json" ] && keep "$m"
  done
  ;;
ar)
  [ -f models/fmnist-tokenizer/card.json ] || { echo "models/fmnist-tokenizer is missing: run the tok stage first"; exit 1; }
  CUDA_VISIBLE_DEVICES=0 $PY -m desktopgen train token-ar --out models/fmnist-token-ar \
    --tokenizer fmnist-tokenizer --steps 1000000 --minutes "$M2" --checkpoint-every 5000 \
    --arch "$AR_ARCH" "$@" > "$OUT/logs/train-token-ar.log" 2>&1
  tail -n 2 "$OUT/logs/train-token-ar.log"
  [ -f models/fmnist-token-ar/card.json ] || { echo "fmnist-token-ar: not written"; exit 1; }
  # The default first (written into the card), then guidance x temperature (8 rows), in EVAL_S.
  timeout "$EVAL_S" $PY -m desktopgen eval --family ar --sampler tokens --n "$EVAL_N" --batch 500 \
    --device "$dev" --update-card > "$OUT/logs/eval-token-ar.log" 2>&1
  cat "$OUT/logs/eval-token-ar.log"
  keep fmnist-token-ar
  timeout "$EVAL_S" $PY -m desktopgen eval --family ar --sampler tokens --n "$EVAL_N" --batch 500 \
    --device "$dev" --sweep --json "$OUT/logs/sweep-token-ar.json" > "$OUT/logs/sweep-token-ar.log" 2>&1
  tail -n 12 "$OUT/logs/sweep-token-ar.log"
  [ "$dev" = cpu ] || PYTHONPATH=. timeout 120 $PY benchmarks/bench_engine.py --only tokens \
    > "$OUT/logs/bench-tokens.log" 2>&1
  cat "$OUT/logs/bench-tokens.log" 2>/dev/null
  ;;
*)
  echo "usage: bash tools/gpu_tokens.sh tok|ar [train arguments]"; exit 2;;
esac
