#!/usr/bin/env bash
# One ~22-minute pipeline on a 2-GPU machine (nvidia-h200-x2), run detached (setsid) so that it
# outlives the device commands that watch it; every stage is time-boxed against $DEADLINE.
#
#   GPU 1: four tokenizers side by side (more codes: FSQ 7,5,5,5,5 = 4375; wider; deeper), each
#          evaluated; tools/pick_tokenizer.py replaces models/fmnist-tokenizer only if the best
#          beats it by $MARGIN in recon accuracy (the old one is kept as fmnist-tokenizer-prev)
#          -> video AR: from scratch on a new tokenizer, else fine-tuned from the shipped one
#          -> its drift at guidance 3 and 4 (16 frames, n = 256), 64 frames at the better
#          -> pytest -m gpu
#   GPU 0: video diffusion fine-tuned from the shipped model (--init-from), alone of its kind
#          + at the start: the shipped video models' drift at other guidance scales
#          + on a new tokenizer: token AR and MaskGIT retrained side by side -> their 1,000-sample
#            rows (MaskGIT at 8, 10, 12 steps), a guidance sweep, token inpainting
#          -> video diffusion drift at guidance 2 and 3, 64 frames at the better
#          -> bench_engine --only tokens -> tools/unet_speed_probe.py (profile, torch.compile)
#
# Models are written under models/ of the working copy it runs in; logs and results under $L.
# The shipped video AR and fmnist-diffusion come in a second device command (the tree that
# travels is limited): stages that need them wait for $L/models-b.ready.
#   L=/tmp/w5/logs bash tools/gpu_wave5.sh              (on the device, from the working copy)
#   bash tools/gpu_wave5.sh collect OUT NAME...         pack models NAME (weights, config, card;
#                                                       in 15 MB parts) and the logs into OUT
# CPU dry run of every command (tiny networks, seconds per stage; run it in a copy of the repo):
#   DRY=1 L=/tmp/w5dry/logs bash tools/gpu_wave5.sh
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
L=${L:-/tmp/w5/logs}; PY=${PY:-python3}; DRY=${DRY:-0}; MARGIN=${MARGIN:-0.007}
mkdir -p "$L"

DEADLINE=${DEADLINE:-1320}  # seconds after the start; the last stages stop here
. "$(dirname "$0")/gpu_pipeline.sh"  # collect, stamp, left, waitfor, mins, train, ev, drift, better
[ "${1:-}" = collect ] && { collect "${@:2}"; exit 0; }
json() { $PY -c "import json,sys; print(json.dumps({**json.loads(sys.argv[1]), **json.loads(sys.argv[2])}))" "$1" "$2"; }
if [ "$DRY" = 1 ]; then  # minutes become seconds-long; tiny networks where the run trains fresh
  scale=0.004; DEV=(--device cpu); LIM=(--limit 512); N=20; VN=4; BATCH=8; EV_DEV=cpu
  TINY_TOK='{"channels": 8, "blocks": 1}'; AR_ARCH='{"n_layer": 1, "n_embd": 32, "n_head": 2}'
  VAR_ARCH='{"n_layer": 1, "n_head": 2, "n_embd": 32, "frames": 16, "grid": 12}'
  PROBE=(--device cpu --batch 2 --repeat 1 --modes ""); BENCH=(--device cpu --batches 1 --repeat 0)
else
  scale=1; DEV=(); LIM=(); N=1000; VN=256; BATCH=0; EV_DEV=cuda
  TINY_TOK='{}'; AR_ARCH='{}'
  VAR_ARCH='{"n_layer": 8, "n_head": 8, "n_embd": 256, "frames": 16, "grid": 12}'
  PROBE=(--device cuda); BENCH=(--device cuda --batches 1)
fi
batch() { [ "$BATCH" -gt 0 ] && echo "$BATCH" || echo "$1"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$L/gpu.txt" 2>&1
stamp "start (DRY=$DRY)"

(  # GPU 1: tokenizers -> pick -> video AR -> its drift -> pytest -m gpu
  variants=(a b c d)
  declare -A arch=([a]='{"levels": [7, 5, 5, 5, 5]}'
                   [b]='{"levels": [7, 5, 5, 5, 5], "channels": 96}'
                   [c]='{"levels": [8, 5, 5, 5], "channels": 96}'
                   [d]='{"levels": [7, 5, 5, 5, 5], "blocks": 4}')
  for v in "${variants[@]}"; do
    train 1 "fmnist-tokenizer-$v" tokenizer --minutes "$(mins 4.3)" --batch "$(batch 512)" \
      --arch "$(json "${arch[$v]}" "$TINY_TOK")" &
  done
  wait
  for v in "${variants[@]}"; do
    ev 1 "tokenizer-$v" --family tokenizer --model "fmnist-tokenizer-$v" --update-card &
  done
  wait
  waitfor shipped-sweeps.done  # they load the shipped tokenizer
  $PY tools/pick_tokenizer.py "${variants[@]/#/fmnist-tokenizer-}" --incumbent fmnist-tokenizer \
    --margin "$MARGIN" > "$L/pick-tokenizer.log" 2>&1
  rc=$?
  mkdir -p "$L/tokenizer-cards"
  for v in "${variants[@]}"; do cp "models/fmnist-tokenizer-$v/card.json" "$L/tokenizer-cards/$v.json" 2>/dev/null; done
  vocab=$($PY -c "import json, math; c = json.load(open('models/fmnist-tokenizer/config.json'))['config']; print(math.prod(c['levels']) if c['quantizer'] == 'fsq' else c['codebook_size'])")
  echo "$vocab" > "$L/vocab.txt"
  if [ "$rc" = 0 ]; then
    stamp "tokenizer: replaced (vocab $vocab)"; touch "$L/tokenizer.new" "$L/fmnist-tokenizer.done"
  else
    stamp "tokenizer: kept (pick exit $rc)"
  fi
  touch "$L/tokenizer.decided"
  var_min=$($PY -c "print(round(max(0.5 * $scale, min(11.5 * $scale, ($(left) - 270) / 60)), 3))")
  if [ -f "$L/tokenizer.new" ]; then
    train 1 mfmnist-video-ar video-ar --minutes "$var_min" --batch "$(batch 64)" \
      --arch "$(json "$VAR_ARCH" "{\"vocab\": $vocab, \"tokenizer\": \"fmnist-tokenizer\"}")"
  else
    waitfor models-b.ready
    train 1 mfmnist-video-ar video-ar --init-from mfmnist-video-ar --minutes "$var_min" \
      --batch "$(batch 64)"
  fi
  touch "$L/mfmnist-video-ar.done"
  for g in 3 4; do drift 1 ar "$g" 16 "-g$g"; done
  g=$(better ar "" 3 4)
  drift 1 ar "$g" 64 "-g$g"
  if [ "$DRY" != 1 ]; then
    CUDA_VISIBLE_DEVICES=1 timeout "$(left)" $PY -m pytest -q -p no:cacheprovider -m gpu \
      tests/test_gpu.py tests/test_maskgit.py tests/test_video_ar.py > "$L/pytest-gpu.log" 2>&1
    stamp "pytest -m gpu: exit $?"
  fi
) &

(  # GPU 0, track A: the shipped video models at other guidance; token models on a new tokenizer
  drift 0 diffusion 3 16 -shipped-g3
  waitfor models-b.ready
  for g in 4 5; do drift 0 ar "$g" 16 "-shipped-g$g"; done
  touch "$L/shipped-sweeps.done"
  waitfor tokenizer.decided
  if [ -f "$L/tokenizer.new" ]; then
    vocab=$(cat "$L/vocab.txt")
    train 0 fmnist-token-ar token-ar --tokenizer fmnist-tokenizer --minutes "$(mins 6.3)" \
      --arch "$(json "$AR_ARCH" "{\"vocab\": $vocab}")" --batch "$(batch 256)" &
    train 0 fmnist-maskgit maskgit --minutes "$(mins 6.3)" --batch "$(batch 512)" \
      --arch "$(json "$AR_ARCH" "{\"codebook_size\": $vocab, \"tokenizer\": \"fmnist-tokenizer\"}")" &
    wait
    ev 0 token-ar --family ar --sampler tokens --model fmnist-token-ar --batch 250 --update-card \
      --json "$L/eval-token-ar.json"
    ev 0 maskgit --family ar --sampler maskgit --model fmnist-maskgit --batch 250 --update-card \
      --json "$L/eval-maskgit.json"
    touch "$L/fmnist-token-ar.done" "$L/fmnist-maskgit.done"
    for s in 8 12; do
      ev 0 "maskgit-$s" --family ar --sampler maskgit --steps "$s" --model fmnist-maskgit \
        --batch 250 --json "$L/eval-maskgit-$s.json"
    done
    ev 0 sweep-token-ar --family ar --sampler tokens --model fmnist-token-ar --batch 250 --sweep \
      --json "$L/sweep-token-ar.json"
    CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY benchmarks/eval_inpaint.py --families tokens,maskgit \
      --n "$N" --batch 250 --device "$EV_DEV" --json "$L/inpaint-tokens.json" \
      > "$L/inpaint-tokens.log" 2>&1
    stamp "inpaint tokens,maskgit: exit $?"
  fi
  touch "$L/tokens.finished"
) &

(  # GPU 0, track B: video diffusion, fine-tuned from the shipped one -> drift -> speed
  train 0 mfmnist-video-diffusion video-diffusion --init-from mfmnist-video-diffusion \
    --minutes "$(mins 13.5)" --batch "$(batch 32)"
  touch "$L/mfmnist-video-diffusion.done"
  for g in 2 3; do drift 0 diffusion "$g" 16 "-g$g"; done
  g=$(better diffusion "" 2 3)
  drift 0 diffusion "$g" 64 "-g$g"
  waitfor tokens.finished
  waitfor models-b.ready
  CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY benchmarks/bench_engine.py --only tokens "${BENCH[@]}" \
    > "$L/bench-tokens.log" 2>&1
  stamp "bench tokens: exit $?"
  CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY tools/unet_speed_probe.py "${PROBE[@]}" \
    > "$L/unet-probe.log" 2>&1
  stamp "unet probe: exit $?"
) &
wait
stamp "all done"
touch "$L/all.done"
