#!/usr/bin/env bash
# One ~26-minute pipeline on a 2-GPU machine (nvidia-h200-x2), run detached (setsid) so that it
# outlives the device commands that watch it; every stage is time-boxed against its deadline.
#
#   GPU 0: tokenizer (FSQ, batch 512)            | video diffusion, fine-tuned (--init-from)
#          -> token AR + MaskGIT side by side on the new tokenizer -> their 1,000-sample rows,
#             sweeps, NLL and token inpainting -> video diffusion drift -> bench_engine
#             --reference -> the full Showdown (--device cuda; Ctrl+C = partial report at DEADLINE)
#   GPU 1: inpainting U-Net, fine-tuned (--init-from) -> its inpainting rows
#          -> video AR from scratch on the new tokenizer -> its drift -> pytest -m gpu
#
# Models are written under models/ of the working copy it runs in; logs and results under $L.
# bench_engine and the Showdown need fmnist-diffusion, fmnist-flow and fmnist-pixel-ar: they wait
# for $L/models-b.ready (a later device command copies those in; the tree that travels is limited).
#   L=/tmp/w4/logs bash tools/gpu_wave4.sh              (on the device, from the working copy)
#   bash tools/gpu_wave4.sh collect OUT NAME...         pack models NAME (weights, config, card;
#                                                       in 15 MB parts)
#                                                       and the logs into OUT, print the timeline
# CPU dry run of every command (tiny networks, seconds per stage):
#   DRY=1 L=/tmp/w4dry bash tools/gpu_wave4.sh
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
L=${L:-/tmp/w4/logs}; PY=${PY:-python3}; DRY=${DRY:-0}
mkdir -p "$L"

DEADLINE=${DEADLINE:-1520}  # seconds after the start; the last stages stop here
. "$(dirname "$0")/gpu_pipeline.sh"  # collect, stamp, left, waitfor, mins, train, ev
[ "${1:-}" = collect ] && { collect "${@:2}"; exit 0; }
if [ "$DRY" = 1 ]; then  # minutes become seconds-long; tiny networks where the run trains fresh
  scale=0.004; DEV=(--device cpu); LIM=(--limit 512); N=20; VN=4; EXTRA=(--batch 8)
  TOK_ARCH='{"quantizer": "fsq", "channels": 8, "blocks": 1}'
  AR_ARCH='{"n_layer": 1, "n_embd": 32, "n_head": 2}'
  VAR_ARCH='{"n_layer": 1, "n_head": 2, "n_embd": 32, "vocab": 1000, "frames": 16, "grid": 12, "tokenizer": "fmnist-tokenizer"}'
  EV_DEV=cpu; SHOW=(--quick --claims compression); VFR=16
else
  scale=1; DEV=(); LIM=(); N=1000; VN=256; EXTRA=()
  TOK_ARCH='{"quantizer": "fsq"}'; AR_ARCH='{}'
  VAR_ARCH='{"n_layer": 8, "n_head": 8, "n_embd": 256, "vocab": 1000, "frames": 16, "grid": 12, "tokenizer": "fmnist-tokenizer"}'
  EV_DEV=cuda; SHOW=(); VFR=16,64
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$L/gpu.txt" 2>&1
stamp "start (DRY=$DRY)"

(  # GPU 0, track A
  train 0 fmnist-tokenizer tokenizer --minutes "$(mins 5.3)" --batch "${EXTRA[1]:-512}" \
    --arch "$TOK_ARCH"
  touch "$L/fmnist-tokenizer.trained"
  ev 0 tokenizer --family tokenizer --model fmnist-tokenizer --update-card &
  train 0 fmnist-token-ar token-ar --tokenizer fmnist-tokenizer --minutes "$(mins 6.5)" \
    --arch "$AR_ARCH" "${EXTRA[@]}" &
  train 0 fmnist-maskgit maskgit --minutes "$(mins 6.5)" --batch "${EXTRA[1]:-512}" \
    --arch "$($PY -c "import json,sys; print(json.dumps({**json.loads(sys.argv[1]), 'tokenizer': 'fmnist-tokenizer'}))" "$AR_ARCH")" &
  wait
  touch "$L/fmnist-tokenizer.done"
  ev 0 token-ar --family ar --sampler tokens --model fmnist-token-ar --batch 500 --update-card \
    --json "$L/eval-token-ar.json"
  ev 0 maskgit --family ar --sampler maskgit --model fmnist-maskgit --batch 500 --update-card \
    --json "$L/eval-maskgit.json"
  touch "$L/fmnist-token-ar.done" "$L/fmnist-maskgit.done"
  for s in 8 12; do
    ev 0 "maskgit-$s" --family ar --sampler maskgit --steps "$s" --model fmnist-maskgit \
      --batch 500 --json "$L/eval-maskgit-$s.json"
  done
  ev 0 sweep-token-ar --family ar --sampler tokens --model fmnist-token-ar --batch 500 --sweep \
    --json "$L/sweep-token-ar.json"
  CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY benchmarks/eval_inpaint.py --families tokens,maskgit \
    --n "$N" --batch 250 --device "$EV_DEV" --json "$L/inpaint-tokens.json" \
    > "$L/inpaint-tokens.log" 2>&1
  stamp "inpaint tokens,maskgit: exit $?"
  waitfor mfmnist-video-diffusion.done
  CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY tools/gpu_video_clips.py --out "$L/video" \
    --n "$VN" --batch "$VN" --frames "$VFR" --families diffusion > "$L/clips-diffusion.log" 2>&1
  stamp "video diffusion drift: exit $?"
  waitfor models-b.ready
  if [ "$DRY" = 1 ]; then bench=(--device cpu --batches 1 --repeat 0 --reference-batch 2); \
  else bench=(--device cuda); fi
  CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY benchmarks/bench_engine.py "${bench[@]}" --reference \
    --samplers dpmpp-2m,ddim > "$L/bench-engine.log" 2>&1
  stamp "bench_engine: exit $?"
  mkdir -p "$L/showdown"
  CUDA_VISIBLE_DEVICES=0 timeout -s INT "$(left)" $PY -m desktopgen showdown "${SHOW[@]}" \
    --device "$EV_DEV" --out "$L/showdown/report.html" > "$L/showdown.log" 2>&1
  stamp "showdown: exit $?"
) &

(  # GPU 0, track B: the video diffusion model, fine-tuned from the shipped one
  train 0 mfmnist-video-diffusion video-diffusion --init-from mfmnist-video-diffusion \
    --minutes "$(mins 6.5)" --batch "${EXTRA[1]:-32}"
  touch "$L/mfmnist-video-diffusion.done"
) &

(  # GPU 1: the inpainting U-Net, fine-tuned; then video AR from scratch on the new tokenizer
  train 1 fmnist-inpaint inpaint --init-from fmnist-inpaint --minutes "$(mins 6.3)" \
    --batch "${EXTRA[1]:-512}"
  touch "$L/fmnist-inpaint.done"
  CUDA_VISIBLE_DEVICES=1 timeout "$(left)" $PY benchmarks/eval_inpaint.py --families diffusion \
    --diffusion-model fmnist-inpaint --n "$N" --batch 250 --device "$EV_DEV" \
    --json "$L/inpaint-diffusion.json" > "$L/inpaint-diffusion.log" 2>&1 &
  waitfor fmnist-tokenizer.trained
  train 1 mfmnist-video-ar video-ar --minutes "$(mins 11)" --batch "${EXTRA[1]:-64}" \
    --arch "$VAR_ARCH"
  touch "$L/mfmnist-video-ar.done"
  wait
  stamp "inpaint diffusion: done"
  CUDA_VISIBLE_DEVICES=1 timeout "$(left)" $PY tools/gpu_video_clips.py --out "$L/video" \
    --n "$VN" --batch "$VN" --frames "$VFR" --families ar > "$L/clips-ar.log" 2>&1
  stamp "video AR drift: exit $?"
  if [ "$DRY" != 1 ]; then
    CUDA_VISIBLE_DEVICES=1 timeout "$(left)" $PY -m pytest -q -p no:cacheprovider -m gpu \
      tests/test_gpu.py tests/test_maskgit.py tests/test_video_ar.py > "$L/pytest-gpu.log" 2>&1
    stamp "pytest -m gpu: exit $?"
  fi
) &
wait
stamp "all done"
touch "$L/all.done"
