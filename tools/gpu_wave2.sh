#!/usr/bin/env bash
# Issues 9 and 11 on a 2-GPU machine in one device command (under 600 s):
#   GPU 1 from the start: the joint video diffusion model ($MV min);
#   both GPUs: an FSQ and a VQ tokenizer side by side for $M1 min; the better one (classifier
#     accuracy on test reconstructions) becomes models/fmnist-tokenizer (tools/gpu_tokens.sh tok);
#   then GPU 0: the raster token transformer and MaskGIT ($M2 min each, sharing the GPU);
#        GPU 1: the frame-by-frame video AR model ($MVA min);
#   each model is packed as soon as it is written; then quality figures (1,000 samples), sample
#   grids, and video clips with their drift per frame (tools/gpu_video_clips.py), all before
#   $STOP seconds. What comes back: at most 8 files (the device tool's limit).
#   OUT=out bash tools/gpu_wave2.sh
set -u
export PYTHONUNBUFFERED=1 DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
OUT=${OUT:-out}; M1=${M1:-2.0}; M2=${M2:-3.6}; MVA=${MVA:-4.8}; MV=${MV:-6.3}; STOP=${STOP:-575}
PY=${PY:-python3}
L=$OUT/logs; mkdir -p "$L"
t0=$SECONDS
stamp() { echo "[$((SECONDS - t0)) s] $*"; }
left() { echo $((STOP - (SECONDS - t0))); }
pack() { tar czf "$OUT/$1.tgz" --exclude=train_state "${@:2}" 2>>"$L/pack.log"; stamp "packed $1"; }
train() {  # GPU, minutes, kind, folder, extra arguments
  local g=$1 m=$2 kind=$3 dir=$4; shift 4
  CUDA_VISIBLE_DEVICES=$g $PY -m desktopgen train "$kind" --out "models/$dir" --steps 1000000 \
    --minutes "$m" --checkpoint-every 2000 "$@" > "$L/train-$kind.log" 2>&1
  stamp "trained $kind: $(tail -n 1 "$L/train-$kind.log")"
}
ev() {  # GPU, name, eval arguments (image AR samplers)
  local g=$1 n=$2; shift 2
  [ "$(left)" -gt 5 ] || { echo "eval $n skipped"; return; }
  CUDA_VISIBLE_DEVICES=$g timeout "$(left)" $PY -m desktopgen eval --family ar --n 1000 --batch 500 \
    --json "$L/eval-$n.json" "$@" > "$L/eval-$n.log" 2>&1
}
clips() {  # GPU, family
  [ "$(left)" -gt 5 ] || { echo "clips $2 skipped"; return; }
  CUDA_VISIBLE_DEVICES=$1 timeout "$(left)" $PY tools/gpu_video_clips.py --out "$L" --families "$2" \
    > "$L/clips-$2.log" 2>&1
}
(train 1 "$MV" video-diffusion mfmnist-video-diffusion --batch 32; pack vdiff models/mfmnist-video-diffusion) &
stamp "tokenizers"
M1=$M1 OUT=/tmp/tokstage EVAL_N=1000 bash tools/gpu_tokens.sh tok > "$L/stage-tok.log" 2>&1
rc=$?; cp -r /tmp/tokstage/logs "$L/tokstage"
stamp "tokenizer stage rc=$rc ($(grep -o '"picked": "[a-z]*"' models/fmnist-tokenizer/card.json))"
tail -n 3 "$L/stage-tok.log"
pack tok models/fmnist-tokenizer
tar czf "$OUT/tokenizers-tried.tgz" --exclude=train_state --exclude=weights.safetensors \
  models/fmnist-tokenizer-fsq models/fmnist-tokenizer-vq 2>>"$L/pack.log"
(train 1 "$MVA" video-ar mfmnist-video-ar \
   --arch '{"n_layer": 8, "n_head": 8, "n_embd": 256, "vocab": 1000, "frames": 16, "grid": 12, "tokenizer": "fmnist-tokenizer"}'
 pack vidar models/mfmnist-video-ar
 clips 1 ar) &
(train 0 "$M2" token-ar fmnist-token-ar --tokenizer fmnist-tokenizer; pack tokar models/fmnist-token-ar) &
(train 0 "$M2" maskgit fmnist-maskgit --batch 512; pack mgit models/fmnist-maskgit) &
sleep 5; while [ ! -f "$OUT/tokar.tgz" ] || [ ! -f "$OUT/mgit.tgz" ]; do sleep 2; [ "$(left)" -gt 60 ] || break; done
ev 0 tokens --sampler tokens --update-card
for s in 8 12; do ev 0 "maskgit-$s" --sampler maskgit --steps "$s"; done
CUDA_VISIBLE_DEVICES=0 timeout 30 $PY -m desktopgen sample --family ar --sampler tokens --n 100 --seed 0 \
  --out "$L/grid-tokens.png" > "$L/grid-tokens.log" 2>&1
CUDA_VISIBLE_DEVICES=0 timeout 30 $PY -m desktopgen sample --family ar --sampler maskgit --n 100 --seed 0 \
  --out "$L/grid-maskgit.png" > "$L/grid-maskgit.log" 2>&1
while [ ! -f "$OUT/vdiff.tgz" ]; do sleep 2; [ "$(left)" -gt 30 ] || break; done
clips 0 diffusion
wait
stamp "evaluated"
tail -q -n 2 "$L"/eval-*.log; tail -q -n 4 "$L"/clips-*.log
rm -rf "$L"/tokstage/fmnist-tokenizer*  # weights copies (they are in tok.tgz / not kept)
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$L"
ls -la "$OUT"; stamp done
