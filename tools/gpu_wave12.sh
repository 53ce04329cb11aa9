#!/usr/bin/env bash
# Issue 9 on one H200 (2026-12-01 h): the token AR's whole 100-image run after the graphed
# tokenizer decode and the vectorised per-sample seeds, more attention launch forms, and the
# token AR's CPU batch-1 figure on the device's idle cores.
#
#   bash tools/gpu_wave12.sh first OUT   # tree: token AR 14 + tokenizer 14 + classifier; no data
#   bash tools/gpu_wave12.sh forms OUT   # tree as for first: the tokenizer decode's CUDA forms
#   bash tools/gpu_wave12.sh final OUT   # tree: token AR 14 + tokenizer 14 + classifier; full data
#   bash tools/gpu_wave12.sh int8 OUT    # tree: token AR 14 + tokenizer 14 + classifier + pixel AR; data
#   bash tools/gpu_wave12.sh pixel OUT   # tree: pixel AR + classifier; full data
#
# "first" tunes, writes the settings that beat the shipped ones together to OUT/best.json and
# times the probe and the benchmark with them (tools/with_triton_meta.py); "final" runs the
# shipped code alone.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=.data/fashion-mnist
OUT=$2; mkdir -p "$OUT"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" \
  | tee "$OUT/versions.log"
nproc | tee -a "$OUT/versions.log"; lscpu | grep -i "model name" | tee -a "$OUT/versions.log"
gpu_tests() {
  timeout 240 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_triton_step.py \
    tests/test_static_step.py tests/test_token_ar.py tests/test_maskgit.py 2>&1 | tail -8 \
    | tee "$OUT/gpu-tests.log"
}
cpu_rows() {  # the token AR at batch 1 on 2 idle cores (1 and 2 threads), then on 4 and 16
  for spec in "0,1 1" "0,1 2" "0-3 4" "0-15 16"; do
    set -- $spec
    echo "== cores $1, threads $2" | tee -a "$OUT/cpu-tokens.log"
    timeout 90 taskset -c "$1" python3 benchmarks/bench_engine.py --device cpu --batches 1 --only tokens \
      --repeat 3 --threads "$2" 2>&1 | grep -v "^ *$" | tee -a "$OUT/cpu-tokens.log"
  done
}
case $1 in
first)
  gpu_tests
  timeout 240 python3 tools/triton_step_tune.py --device cuda --batch 100 --write-best "$OUT/best.json" \
    2>&1 | tee "$OUT/tune.log"
  timeout 120 python3 tools/with_triton_meta.py "$OUT/best.json" tools/token_ar_lean_probe.py --device cuda \
    --batch 100 --repeat 7 --breakdown 2>&1 | grep -v Warn | tee "$OUT/probe.log"
  timeout 90 python3 tools/with_triton_meta.py "$OUT/best.json" benchmarks/bench_engine.py --device cuda \
    --batches 1,100 --only tokens --repeat 7 2>&1 | tee "$OUT/bench-tokens.log"
  cpu_rows
  ;;
forms)
  timeout 240 python3 -m pytest -q -s -p no:cacheprovider -m gpu tests/test_triton_step.py \
    tests/test_static_step.py tests/test_token_ar.py tests/test_maskgit.py 2>&1 \
    | grep -E "against fp32|passed|failed|Error" | tee "$OUT/gpu-tests.log"
  timeout 120 python3 tools/triton_step_tune.py --device cuda --batch 100 --no-variants 2>&1 | tee "$OUT/tune.log"
  for form in fp32 fp32-cl bf16-nchw bf16-cl; do
    echo "== decode form $form" | tee -a "$OUT/bench-forms.log"
    DESKTOPGEN_DECODE_FORM=$form timeout 90 python3 benchmarks/bench_engine.py --device cuda --batches 1,100 \
      --only tokens --repeat 7 2>&1 | grep -v "^ *$" | tee -a "$OUT/bench-forms.log"
  done
  ;;
final)  # tree: token AR 14 + tokenizer 14 + classifier + pixel AR; full data
  gpu_tests
  timeout 120 python3 tools/triton_step_tune.py --device cuda --batch 100 --no-variants 2>&1 | tee "$OUT/tune.log"
  timeout 120 python3 tools/token_ar_lean_probe.py --device cuda --batch 100 --repeat 7 --breakdown 2>&1 \
    | grep -v Warn | tee "$OUT/probe.log"
  timeout 90 python3 benchmarks/bench_engine.py --device cuda --batches 1,100 --only tokens --repeat 7 2>&1 \
    | tee "$OUT/bench-tokens.log"
  timeout 240 python3 tools/quality_rows.py --family ar --sampler tokens --model fmnist-token-ar-14 \
    --rows 1.4:0,1.4:1,1.4:2 --n 1000 --batch 250 --device cuda --json "$OUT/quality.json" 2>&1 \
    | tee "$OUT/quality.log"
  timeout 300 python3 tools/token_ar_lean_probe.py --device cuda --model fmnist-pixel-ar --batch 100 \
    --repeat 3 --quality "${QUALITY:-1000}" 2>&1 | grep -v Warn | tee "$OUT/pixel-probe.log"
  ;;
int8)  # the int8 KV cache (TritonStep.META kv_int8, in 93bc4bc only: no gain, removed after)
  echo '{"kv_int8": true}' > "$OUT/int8.json"
  gpu_tests
  timeout 150 python3 tools/triton_step_tune.py --device cuda --batch 100 --write-best "$OUT/best.json" \
    2>&1 | tee "$OUT/tune.log"
  timeout 90 python3 tools/with_triton_meta.py "$OUT/int8.json" tools/token_ar_lean_probe.py --device cuda \
    --batch 100 --repeat 7 2>&1 | grep -v Warn | tee "$OUT/probe-int8.log"
  timeout 60 python3 tools/with_triton_meta.py "$OUT/int8.json" benchmarks/bench_engine.py --device cuda \
    --batches 1,100 --only tokens --repeat 7 2>&1 | tee "$OUT/bench-tokens-int8.log"
  timeout 120 python3 tools/with_triton_meta.py "$OUT/int8.json" tools/quality_rows.py --family ar \
    --sampler tokens --model fmnist-token-ar-14 --rows 1.4:0,1.4:1,1.4:2 --n 1000 --batch 250 --device cuda \
    --json "$OUT/quality-int8.json" 2>&1 | tee "$OUT/quality-int8.log"
  timeout 150 python3 tools/with_triton_meta.py "$OUT/int8.json" tools/token_ar_lean_probe.py --device cuda \
    --model fmnist-pixel-ar --batch 100 --repeat 3 --quality 1000 2>&1 | grep -v Warn | tee "$OUT/pixel-int8.log"
  ;;
pixel)
  timeout 400 python3 tools/token_ar_lean_probe.py --device cuda --model fmnist-pixel-ar --batch 100 \
    --repeat 3 --quality "${QUALITY:-1000}" 2>&1 | tee "$OUT/pixel-probe.log"
  ;;
esac
