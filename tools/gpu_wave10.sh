#!/usr/bin/env bash
# Issue 9 / 11 on one H200 (2026-12-01 f): the lean static decode step (nets/pixel_ar.py
# StaticStep, the CUDA default now) checked and timed against the module path it replaced.
#
#   bash tools/gpu_wave10.sh video OUT   # tree: pixel AR, video AR, fmnist-tokenizer; t10k data
#   bash tools/gpu_wave10.sh tokens OUT  # tree: token AR 14 + tokenizer 14; full data
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=.
OUT=$2; mkdir -p "$OUT"
before() {  # a script with the module path (KVCache.LEAN = False) instead of the lean step
  python3 -c "import runpy, sys; import desktopgen.nets.pixel_ar as p; p.KVCache.LEAN = False; \
sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')" "$@"
}
case $1 in
video)
  export DESKTOPGEN_DATA=.data/fmnist-test
  python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_static_step.py tests/test_video_ar.py \
    tests/test_gpu.py -k "(on_cuda or pixel_ar_decode or reusable_across) and not training" 2>&1 \
    | tail -8 | tee "$OUT/gpu-tests.log"
  python3 tools/token_ar_lean_probe.py --device cuda --model fmnist-pixel-ar --batch 100 --repeat 3 \
    2>&1 | tee "$OUT/pixel-probe.log"
  python3 tools/gpu_video_clips.py --out "$OUT/clips" --n 512 --batch 256 --frames 16 --families ar \
    --guidance 6 2>&1 | tail -25 | tee "$OUT/clips.log"
  for k in lean before; do
    run=python3; [ $k = before ] && run=before
    $run benchmarks/eval_video.py --device cuda --families ar --no-drift --no-memory --timing-frames 16,64 \
      --timing-batches 1,64 --batch 64 --out "$OUT/timing-$k.json" 2>&1 | tail -8 | tee "$OUT/timing-$k.log"
  done
  python3 -m desktopgen showdown --device cuda --claims video,infinite --out "$OUT/showdown-video.html" \
    2>&1 | tail -4 | tee "$OUT/showdown.log"
  ;;
seeds)  # the AR's 16-frame clips through both steps at two more seeds: is the FD gap noise?
  export DESKTOPGEN_DATA=.data/fmnist-test
  python3 -m pytest -q -p no:cacheprovider -m gpu tests/test_static_step.py 2>&1 | tail -4 \
    | tee "$OUT/gpu-tests.log"
  for s in 1 2; do
    python3 tools/gpu_video_clips.py --out "$OUT/clips" --n 512 --batch 256 --frames 16 --families ar \
      --guidance 6 --seed $s --tag="-lean-s$s" 2>&1 | tail -1 | tee -a "$OUT/seeds.log"
    before tools/gpu_video_clips.py --out "$OUT/clips" --n 512 --batch 256 --frames 16 --families ar \
      --guidance 6 --seed $s --tag="-before-s$s" 2>&1 | tail -1 | tee -a "$OUT/seeds.log"
  done
  ;;
tokens)
  export DESKTOPGEN_DATA=.data/fashion-mnist
  python3 tools/token_ar_lean_probe.py --device cuda --batch 100 --repeat 7 --quality 1000 \
    2>&1 | tee "$OUT/token-probe.log"
  python3 tools/quality_rows.py --sampler tokens --model fmnist-token-ar-14 --rows 1.4:1,1.4:2 --batch 250 \
    --device cuda --json "$OUT/quality.json" 2>&1 | tee "$OUT/quality.log"
  ;;
esac
