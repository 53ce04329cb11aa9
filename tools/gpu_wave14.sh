#!/usr/bin/env bash
# Issue 9 on one H200 (2026-12-02 j; logs and a README in benchmarks/results/h200-2026-12-02j/):
# a 4-block token AR over the 14x14 codes distilled from the shipped 8-block one
# (`train token-ar --teacher`), so that one model meets both the quality bar and the speed targets.
#
#   [NAME=.. LAYERS=4 DISTILL=0.8] bash tools/gpu_wave14.sh train OUT MINUTES [INIT]  # tree: token AR 14 + tokenizer 14 + classifier; full data
#   bash tools/gpu_wave14.sh eval OUT                  # the same tree plus OUT's student in models/
#   bash tools/gpu_wave14.sh final OUT                 # tree: token AR 14-6 + tokenizer 14 + classifier; full data
#
# "train" distils for MINUTES (from the teacher's blocks 0, 2, 4, 6; with INIT, a second stage from
# that model folder's weights), scores 1,000 samples at three guidance scales and times the run;
# the student's folder comes back in OUT/m.
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=.data/fashion-mnist
OUT=$2; mkdir -p "$OUT"
NAME=${NAME:-fmnist-token-ar-14s}; STUDENT=models/$NAME
quality() {  # $1: rows, $2: log name
  timeout 200 python3 tools/quality_rows.py --family ar --sampler tokens --model $NAME \
    --rows "$1" --n 1000 --batch 250 --device cuda --json "$OUT/$2.json" 2>&1 | tee "$OUT/$2.log"
}
bench() {
  timeout 60 python3 benchmarks/bench_engine.py --device cuda --batches 1,100 --only tokens --repeat 7 \
    --token-model $NAME 2>&1 | tee "$OUT/bench-tokens.log"
}
case $1 in
  train)
    init=()
    [ -n "${4:-}" ] && init=(--init-from "$4")
    nvidia-smi --query-gpu=name,clocks.max.sm,power.limit --format=csv,noheader | tee "$OUT/train.log"
    timeout $(( ${3%.*} * 60 + 120 )) python3 -m desktopgen train token-ar --teacher fmnist-token-ar-14 \
      --tokenizer fmnist-tokenizer-14 --arch "{\"seq_len\": 196, \"n_layer\": ${LAYERS:-4}}" --distill "${DISTILL:-0.8}" "${init[@]}" \
      --minutes "$3" --steps 1000000 --checkpoint-every 2000 --out $STUDENT 2>&1 | tee -a "$OUT/train.log"
    mkdir -p "$OUT/m" && cp $STUDENT/config.json $STUDENT/card.json $STUDENT/weights.safetensors "$OUT/m/"
    quality "${ROWS:-1.4:0,1.6:0,1.8:0}" quality
    bench ;;
  eval)
    quality "${ROWS:-1.5:0,1.5:1,1.5:2}" quality
    bench ;;
  final)  # the new default: GPU tests, five more seeds, the benchmark twice and the run's timeline
    timeout 120 python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_triton_step.py \
      tests/test_token_ar.py tests/test_gpu.py::test_seeded_uniforms_are_the_same_numbers_on_cuda 2>&1 \
      | tail -8 | tee "$OUT/gpu-tests.log"
    quality "${ROWS:-1.4:1,1.4:2,1.4:3,1.4:4,1.4:5}" quality
    bench; cp "$OUT/bench-tokens.log" "$OUT/bench-1.log"; bench
    timeout 40 python3 tools/token_run_timeline.py --device cuda 2>&1 | tee "$OUT/timeline.log" ;;
esac
