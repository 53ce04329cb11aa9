#!/usr/bin/env bash
# Issues 9 and 11 on a 2-GPU machine in one device command (~9.5 min):
#   both GPUs: an FSQ and a VQ tokenizer side by side for $M1 min, the better one (classifier
#              accuracy on test reconstructions) becomes models/fmnist-tokenizer (tools/gpu_tokens.sh tok);
#   then GPU 0: the raster token transformer and MaskGIT ($M2 min each, sharing the GPU);
#        GPU 1: the frame-by-frame video AR model ($M2 min);
#   GPU 1 from the start: the joint video diffusion model ($MV min).
# Then quality figures, sample grids and video clips for the CPU-side drift analysis.
# Everything comes back as at most 8 files (the device tool's limit): one .tgz per model pair.
#   M1=2.2 M2=4.2 MV=7.3 OUT=out bash tools/gpu_wave2.sh
set -u
export PYTHONUNBUFFERED=1 DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
OUT=${OUT:-out}; M1=${M1:-2.2}; M2=${M2:-4.2}; MV=${MV:-7.3}; PY=${PY:-python3}
L=$OUT/logs; mkdir -p "$L"
t0=$SECONDS
stamp() { echo "[$((SECONDS - t0)) s] $*"; }
CUDA_VISIBLE_DEVICES=1 $PY -m desktopgen train video-diffusion --out models/mfmnist-video-diffusion \
  --steps 200000 --minutes "$MV" --batch 32 --checkpoint-every 2000 > "$L/train-video-diffusion.log" 2>&1 &
stamp "tokenizers"
M1=$M1 OUT=$OUT EVAL_N=1000 bash tools/gpu_tokens.sh tok > "$L/stage-tok.log" 2>&1
stamp "tokenizer stage rc=$? ($(grep -o '"picked": "[a-z]*"' models/fmnist-tokenizer/card.json))"
CUDA_VISIBLE_DEVICES=0 $PY -m desktopgen train token-ar --out models/fmnist-token-ar --steps 1000000 \
  --minutes "$M2" --checkpoint-every 5000 > "$L/train-token-ar.log" 2>&1 &
CUDA_VISIBLE_DEVICES=0 $PY -m desktopgen train maskgit --out models/fmnist-maskgit --steps 1000000 \
  --minutes "$M2" --batch 512 --checkpoint-every 5000 > "$L/train-maskgit.log" 2>&1 &
CUDA_VISIBLE_DEVICES=1 $PY -m desktopgen train video-ar --out models/mfmnist-video-ar --steps 100000 \
  --minutes "$M2" --checkpoint-every 2000 \
  --arch '{"n_layer": 8, "n_head": 8, "n_embd": 256, "vocab": 1000, "frames": 16, "grid": 12, "tokenizer": "fmnist-tokenizer"}' \
  > "$L/train-video-ar.log" 2>&1 &
wait
stamp "trained"; tail -q -n 1 "$L"/train-*.log
pack() { tar czf "$OUT/$1.tgz" --exclude=train_state "${@:2}" 2>>"$L/pack.log"; }
pack tok models/fmnist-tokenizer models/fmnist-token-ar
pack mgit models/fmnist-maskgit
pack vidar models/mfmnist-video-ar
pack vdiff models/mfmnist-video-diffusion
tar czf "$OUT/tokenizers-tried.tgz" --exclude=train_state --exclude=weights.safetensors models/fmnist-tokenizer-fsq models/fmnist-tokenizer-vq 2>>"$L/pack.log"
stamp "packed"; ls -la "$OUT"
# Quality (1,000 samples, the project's classifier; the floor first) and clips, within EVAL_S.
EVAL_S=${EVAL_S:-100}
ev() { local g=$1 n=$2; shift 2; CUDA_VISIBLE_DEVICES=$g timeout "$EVAL_S" $PY -m desktopgen eval --family ar \
  --n 1000 --batch 500 --json "$L/eval-$n.json" "$@" > "$L/eval-$n.log" 2>&1; }
(ev 0 tokens --sampler tokens --update-card
 for s in 8 10 12; do ev 0 maskgit-$s --sampler maskgit --steps $s; done
 CUDA_VISIBLE_DEVICES=0 timeout 30 $PY -m desktopgen sample --family ar --sampler tokens --n 100 --seed 0 --out "$L/grid-tokens.png" > /dev/null 2>&1
 CUDA_VISIBLE_DEVICES=0 timeout 30 $PY -m desktopgen sample --family ar --sampler maskgit --n 100 --seed 0 --out "$L/grid-maskgit.png" > /dev/null 2>&1) &
(CUDA_VISIBLE_DEVICES=1 timeout "$EVAL_S" $PY tools/gpu_video_clips.py --out "$L" > "$L/clips.log" 2>&1) &
wait
stamp "evaluated"
tail -q -n 2 "$L"/eval-*.log; cat "$L/clips.log" | tail -n 12
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$L"
ls -la "$OUT"; stamp done
