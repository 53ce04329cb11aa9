#!/usr/bin/env bash
# Issue 9 on one H200 (2026-12-01 g): the raster AR decode step as Triton kernels
# (nets/triton_step.py), checked and timed against StaticStep and the module path.
#
#   bash tools/gpu_wave11.sh tokens OUT  # tree: token AR 14 + tokenizer 14 + classifier; full data
#   bash tools/gpu_wave11.sh tune OUT    # tree: token AR 14 + tokenizer 14
#   bash tools/gpu_wave11.sh final OUT   # tree: token AR 14 + tokenizer 14 + classifier; full data
#   bash tools/gpu_wave11.sh pixel OUT   # tree: pixel AR + classifier; full data
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=.data/fashion-mnist
OUT=$2; mkdir -p "$OUT"
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)" \
  | tee "$OUT/versions.log"
case $1 in
tokens)
  timeout 240 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_triton_step.py \
    tests/test_static_step.py 2>&1 | tail -6 | tee "$OUT/gpu-tests.log"
  python3 tools/token_ar_lean_probe.py --device cuda --batch 100 --repeat 5 --breakdown \
    --quality "${QUALITY:-1000}" 2>&1 | tee "$OUT/token-probe.log"
  ;;
tune)  # tree: token AR 14 + tokenizer 14
  python3 tools/triton_step_tune.py --device cuda --batch 100 2>&1 | tee "$OUT/tune.log"
  ;;
both)  # tune, then the probe with quality
  timeout 240 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_triton_step.py \
    tests/test_static_step.py 2>&1 | tail -6 | tee "$OUT/gpu-tests.log"
  python3 tools/triton_step_tune.py --device cuda --batch 100 2>&1 | tee "$OUT/tune.log"
  python3 tools/token_ar_lean_probe.py --device cuda --batch 100 --repeat 7 --breakdown \
    --quality "${QUALITY:-1000}" 2>&1 | tee "$OUT/token-probe.log"
  ;;
final)  # tree: token AR 14 + tokenizer 14 + classifier; full data
  timeout 240 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_triton_step.py \
    tests/test_static_step.py 2>&1 | tail -6 | tee "$OUT/gpu-tests.log"
  python3 tools/token_ar_lean_probe.py --device cuda --batch 100 --repeat 7 --breakdown 2>&1 \
    | grep -v Warn | tee "$OUT/token-probe.log"
  python3 benchmarks/bench_engine.py --device cuda --batches 1,100 --only tokens --repeat 5 2>&1 \
    | tee "$OUT/bench-tokens.log"
  python3 tools/quality_rows.py --family ar --sampler tokens --model fmnist-token-ar-14 \
    --rows 1.4:0,1.4:1,1.4:2 --n 1000 --batch 250 --device cuda --json "$OUT/quality.json" 2>&1 \
    | tee "$OUT/quality.log"
  ;;
pixel)
  python3 tools/token_ar_lean_probe.py --device cuda --model fmnist-pixel-ar --batch 100 --repeat 3 \
    --quality "${QUALITY:-1000}" 2>&1 | tee "$OUT/pixel-probe.log"
  ;;
esac
