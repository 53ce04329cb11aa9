#!/usr/bin/env bash
# Issue 9 on one H200 (2026-12-02 i; logs and a README in benchmarks/results/h200-2026-12-02i/,
# prefixed by run). Run 1 ("all"): the Triton step's two-kernel layer (q/k/v, attention and each
# head's share of the projection in one kernel; the MLP with each hidden block's share of its
# second linear in the other; the next kernel sums the shares) and a four-kernel one (q/k/v with
# attention only) against the five-kernel layer: both slower, not kept (their code:
# 1-fused-layer-forms.patch). Run 2 ("all"): the attention in parts side by side (flash-decoding),
# combined by the projection's kernel: slower, not kept (2-split-attention.patch). Run 3 ("all"):
# programmatic dependent launch with each kernel's weights loaded before it waits (TritonStep.META
# pdl), attention blocks of 32, 2 warps for q/k/v. Run 4 ("all"): those shipped, the others as
# variants (this file's VARIANTS in triton_step_tune.py), with the uniforms hashed on the GPU and
# the weight lists kept: quality again. Run 5 ("extra"): the set-up profiled, three more seeds.
# Runs 6 and 7 ("final"): the uniforms hashed in numpy, then pinned copies and one memory read.
#
#   bash tools/gpu_wave13.sh tune OUT     # tree: token AR 14 + tokenizer 14 + classifier + MaskGIT; no data
#   bash tools/gpu_wave13.sh quality OUT  # tree: token AR 14 + tokenizer 14 + classifier + pixel AR; full data
#   bash tools/gpu_wave13.sh all OUT      # tune, then quality (tree and data as for quality)
#   bash tools/gpu_wave13.sh extra OUT    # tree as for quality: set-up profile, three more seeds
#   bash tools/gpu_wave13.sh final OUT    # tree: token AR 14 + tokenizer 14 + classifier; no data
#
# "tune" runs the GPU tests, times every launch variant (tools/triton_step_tune.py: the shipped
# form first, then one setting changed at a time, the old forms among them) and writes those that
# beat the shipped settings together to OUT/best.json, then times the whole run with them (probe,
# benchmark). "quality" scores 1,000 samples a seed with OUT/best.json (if any) for the token AR
# and the pixel AR, whose step is the same kernels.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=.data/fashion-mnist
OUT=$2; mkdir -p "$OUT"
BEST=${BEST:-$OUT/best.json}
tune() {
  { python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"
    nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader
    timeout 90 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_triton_step.py \
      tests/test_static_step.py tests/test_token_ar.py tests/test_maskgit.py \
      tests/test_gpu.py::test_seeded_uniforms_are_the_same_numbers_on_cuda 2>&1 | tail -15; } \
    | tee "$OUT/gpu-tests.log"
  timeout 140 python3 tools/triton_step_tune.py --device cuda --batch 100 --write-best "$BEST" \
    2>&1 | tee "$OUT/tune.log"
  timeout 70 python3 tools/with_triton_meta.py "$BEST" tools/token_ar_lean_probe.py --device cuda \
    --batch 100 --repeat 7 --breakdown 2>&1 | grep -v Warn | tee "$OUT/probe.log"
  timeout 50 python3 tools/with_triton_meta.py "$BEST" benchmarks/bench_engine.py --device cuda \
    --batches 1,100 --only tokens --repeat 7 2>&1 | tee "$OUT/bench-tokens.log"
  timeout 40 python3 tools/with_triton_meta.py "$BEST" tools/token_run_timeline.py --device cuda 2>&1 \
    | tee -a "$OUT/bench-tokens.log"
}
quality() {
  timeout 140 python3 tools/with_triton_meta.py "$BEST" tools/quality_rows.py --family ar --sampler tokens \
    --model fmnist-token-ar-14 --rows 1.4:0,1.4:1,1.4:2 --n 1000 --batch 250 --device cuda \
    --json "$OUT/quality.json" 2>&1 | tee "$OUT/quality.log"
  timeout 130 python3 tools/with_triton_meta.py "$BEST" tools/token_ar_lean_probe.py --device cuda \
    --model fmnist-pixel-ar --batch 100 --repeat 2 --quality "${QUALITY:-1000}" 2>&1 | grep -v Warn \
    | tee "$OUT/pixel-probe.log"
}
extra() {  # the decoder's set-up profiled; three more seeds of the token AR's quality
  timeout 60 python3 tools/token_run_timeline.py --device cuda --profile-setup 2>&1 | tee "$OUT/timeline.log"
  timeout 150 python3 tools/quality_rows.py --family ar --sampler tokens --model fmnist-token-ar-14 \
    --rows 1.4:3,1.4:4,1.4:5 --n 1000 --batch 250 --device cuda --json "$OUT/quality-more.json" 2>&1 \
    | tee "$OUT/quality-more.log"
}
final() {  # the shipped code: GPU tests, the whole run's timeline, the probe and the benchmark
  timeout 90 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_triton_step.py tests/test_token_ar.py \
    tests/test_gpu.py::test_seeded_uniforms_are_the_same_numbers_on_cuda \
    tests/test_gpu.py::test_memory_probe_reads_the_allocators_figures 2>&1 | tail -5 | tee "$OUT/gpu-tests.log"
  timeout 60 python3 tools/token_run_timeline.py --device cuda 2>&1 | tee "$OUT/timeline.log"
  timeout 70 python3 tools/token_ar_lean_probe.py --device cuda --batch 100 --repeat 7 2>&1 | grep -v Warn \
    | tee "$OUT/probe.log"
  timeout 60 python3 benchmarks/bench_engine.py --device cuda --batches 1,100 --only tokens --repeat 7 2>&1 \
    | tee "$OUT/bench-tokens.log"
}
case $1 in
final) final ;;
tune) tune ;;
extra) extra ;;
quality) quality ;;
all) tune; quality ;;
esac
