#!/usr/bin/env bash
# One ~19-minute pipeline on one H200 (nvidia-h200), run detached (setsid) so that it outlives the
# device commands that watch it; every stage is time-boxed against $DEADLINE.
#
#   Four new decoders for the shipped tokenizer, side by side (`train tokenizer-decoder`: encoder
#   and codes frozen, so every token model keeps working): the same decoder trained on (control),
#   the same with a GAN loss of weight 0.1 and 0.5, a wider and deeper fresh decoder with GAN 0.1
#   -> each evaluated -> tools/pick_tokenizer.py installs the best as models/fmnist-tokenizer if
#   it beats the shipped one (margin $MARGIN) -> token AR and MaskGIT re-measured through it
#   (1,000 samples; MaskGIT at 8, 10, 12 steps), token inpainting, the tokenizer's video ceiling.
#   Beside them all: the video AR fine-tuned further (--init-from; its codes do not change) ->
#   its drift at guidance 3 and 4 (16 frames, n = 256), 64 frames at the better.
#
# Models are written under models/ of the working copy it runs in; logs and results under $L.
# MaskGIT and the video AR come in a second device command (the tree that travels is limited):
# the stages that need them wait for $L/models-b.ready.
#   L=/tmp/w6/logs bash tools/gpu_wave6.sh              (on the device, from the working copy)
#   bash tools/gpu_wave6.sh collect OUT NAME...         pack models NAME and the logs into OUT
# CPU dry run of every command (tiny networks, seconds per stage; run it in a copy of the repo):
#   DRY=1 L=/tmp/w6dry/logs bash tools/gpu_wave6.sh
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
L=${L:-/tmp/w6/logs}; PY=${PY:-python3}; DRY=${DRY:-0}; MARGIN=${MARGIN:-0.0}
mkdir -p "$L"

DEADLINE=${DEADLINE:-1140}  # seconds after the start; the last stages stop here
. "$(dirname "$0")/gpu_pipeline.sh"  # collect, stamp, left, waitfor, mins, train, ev, drift, better
[ "${1:-}" = collect ] && { collect "${@:2}"; exit 0; }
if [ "$DRY" = 1 ]; then  # minutes become seconds-long; tiny networks where the run trains fresh
  scale=0.004; DEV=(--device cpu); LIM=(--limit 512); N=20; VN=4; BATCH=8; EV_DEV=cpu
  WIDE='{"decoder_channels": 16, "decoder_blocks": 1}'
else
  scale=1; DEV=(); LIM=(); N=1000; VN=256; BATCH=0; EV_DEV=cuda
  WIDE='{"decoder_channels": 128, "decoder_blocks": 3}'
fi
batch() { [ "$BATCH" -gt 0 ] && echo "$BATCH" || echo "$1"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$L/gpu.txt" 2>&1
stamp "start (DRY=$DRY)"

(  # decoders -> pick -> the token models through the picked one
  variants=(a b c d)
  for v in "${variants[@]}"; do
    case $v in
      a) extra=(--adversarial 0) ;;
      b) extra=(--adversarial 0.1) ;;
      c) extra=(--adversarial 0.5) ;;
      d) extra=(--adversarial 0.1 --lr 0.0005 --arch "$WIDE") ;;
    esac
    train 0 "fmnist-tokenizer-dec-$v" tokenizer-decoder --init-from fmnist-tokenizer \
      --minutes "$(mins 8)" --batch "$(batch 256)" "${extra[@]}" &
  done
  wait
  for v in "${variants[@]}"; do
    ev 0 "tokenizer-dec-$v" --family tokenizer --model "fmnist-tokenizer-dec-$v" --update-card &
  done
  wait
  $PY tools/pick_tokenizer.py "${variants[@]/#/fmnist-tokenizer-dec-}" --incumbent fmnist-tokenizer \
    --margin "$MARGIN" > "$L/pick-tokenizer.log" 2>&1
  rc=$?
  mkdir -p "$L/tokenizer-cards"
  for v in "${variants[@]}"; do cp "models/fmnist-tokenizer-dec-$v/card.json" "$L/tokenizer-cards/$v.json" 2>/dev/null; done
  if [ "$rc" = 0 ]; then
    stamp "decoder: replaced"; touch "$L/tokenizer.new" "$L/fmnist-tokenizer.done"
  else
    stamp "decoder: kept (pick exit $rc)"
  fi
  touch "$L/tokenizer.decided"
  CUDA_VISIBLE_DEVICES="" timeout "$(left)" $PY tools/video_ceiling.py --n "$VN" \
    --json "$L/video-ceiling.json" > "$L/video-ceiling.log" 2>&1 &
  if [ -f "$L/tokenizer.new" ]; then
    ev 0 token-ar --family ar --sampler tokens --model fmnist-token-ar --batch 250 \
      --json "$L/eval-token-ar.json"
    waitfor models-b.ready
    for s in 10 8 12; do
      ev 0 "maskgit-$s" --family ar --sampler maskgit --steps "$s" --model fmnist-maskgit \
        --batch 250 --json "$L/eval-maskgit-$s.json"
    done
    CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY benchmarks/eval_inpaint.py --families tokens,maskgit \
      --n "$N" --batch 250 --device "$EV_DEV" --json "$L/inpaint-tokens.json" \
      > "$L/inpaint-tokens.log" 2>&1
    stamp "inpaint tokens,maskgit: exit $?"
  fi
  wait
  stamp "video ceiling: done"
  touch "$L/tokens.finished"
) &

(  # the video AR, fine-tuned on (its codes stay) -> drift through the picked decoder
  waitfor models-b.ready
  train 0 mfmnist-video-ar video-ar --init-from mfmnist-video-ar --minutes "$(mins 12)" \
    --batch "$(batch 64)"
  touch "$L/mfmnist-video-ar.done"
  waitfor tokenizer.decided
  for g in 3 4; do drift 0 ar "$g" 16 "-g$g"; done
  g=$(better ar "" 3 4)
  drift 0 ar "$g" 64 "-g$g"
) &
wait
stamp "all done"
touch "$L/all.done"
