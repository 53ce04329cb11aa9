#!/usr/bin/env bash
# Issue 10 on a 2-GPU machine: the shortcut model (flow matching + few-step) and the inpainting
# diffusion model share GPU 0; the default diffusion model is retrained alone on GPU 1; then
# weights, config and card of each copied to $OUT/<model>/ and a short evaluation.
#   MIN=7 OUT=out bash tools/gpu_issue10.sh             (data: $DESKTOPGEN_DATA)
#   MIN=0 bash tools/gpu_issue10.sh --steps 20 --limit 512 --device cpu   (CPU check of the
#                                              commands; extra arguments go to both `train`s)
# Batch 512, lr 3e-4 (the recipes' defaults): see desktopgen/train/flow_recipes.py for why.
set -u
export PYTHONUNBUFFERED=1 DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
OUT=${OUT:-out}; MIN=${MIN:-7}; EVAL_N=${EVAL_N:-1000}; EVAL_S=${EVAL_S:-120}
PY=${PY:-python3}
mkdir -p "$OUT/logs"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/logs/gpu.txt" 2>&1
CUDA_VISIBLE_DEVICES=0 $PY -m desktopgen train flow --out models/fmnist-flow --steps 1000000 \
  --minutes "$MIN" --checkpoint-every 5000 "$@" > "$OUT/logs/train-flow.log" 2>&1 &
CUDA_VISIBLE_DEVICES=0 $PY -m desktopgen train inpaint --out models/fmnist-inpaint --steps 1000000 \
  --minutes "$MIN" --checkpoint-every 5000 "$@" > "$OUT/logs/train-inpaint.log" 2>&1 &
# The default diffusion model, retrained alone on GPU 1 (issue 10: it had 6.5 min on a shared GPU).
CUDA_VISIBLE_DEVICES=1 $PY -m desktopgen train diffusion --out models/fmnist-diffusion --steps 1000000 \
  --minutes "$MIN" --checkpoint-every 5000 "$@" > "$OUT/logs/train-diffusion.log" 2>&1 &
wait
status=0
for m in fmnist-flow fmnist-inpaint fmnist-diffusion; do
  if [ ! -f "models/$m/card.json" ]; then echo "$m: not written, see $OUT/logs"; status=1; continue; fi
  PYTHONPATH=. $PY - "models/$m" <<'PYEOF'
import json, os, sys
from desktopgen.core.checkpoints import atomic_write_text
from desktopgen.train.flow_recipes import METHODS
folder = sys.argv[1]
c = json.load(open(os.path.join(folder, "card.json")))
if c["model"] in METHODS:
    c["method"] = METHODS[c["model"]]
atomic_write_text(os.path.join(folder, "card.json"), json.dumps(c, indent=2) + "\n")
mb = os.path.getsize(os.path.join(folder, "weights.safetensors")) / 2**20
loss = "n/a" if c["final_loss"] is None else f"{c['final_loss']:.4f}"  # None under 50 steps
print(f"{os.path.basename(folder)}: {c['steps']} steps x batch {c['batch']} in {c['wall_time_s']:.0f}s "
      f"= {c['images_seen'] / c['wall_time_s']:.1f} images/s, final loss {loss}, "
      f"weights {mb:.1f} MB{'' if mb <= 16 else ' (OVER 16 MB)'}")
PYEOF
  mkdir -p "$OUT/$m"
  cp "models/$m/weights.safetensors" "models/$m/config.json" "models/$m/card.json" "$OUT/$m/"
done
tail -n 2 "$OUT"/logs/train-*.log
[ "$status" = 0 ] || exit "$status"
# Quality (the project's classifier; the floor is printed first), both GPUs, all within EVAL_S
# seconds (a run of MIN=6.5 and the default EVAL_S fits one 600-s device command).
dev=$(case " $* " in *" --device cpu "*) echo cpu;; *) echo auto;; esac)
n=$EVAL_N; case " $* " in *" --limit "*) n=10;; esac
deadline=$((SECONDS + EVAL_S))
ev() {  # GPU, log name, then eval arguments; skipped once the deadline has passed
  local gpu=$1 name=$2 left=$((deadline - SECONDS)); shift 2
  [ "$left" -gt 5 ] || { echo "eval $name: skipped (EVAL_S spent)"; return; }
  CUDA_VISIBLE_DEVICES=$gpu timeout "$left" $PY -m desktopgen eval --family diffusion --n "$n" \
    --batch 250 --device "$dev" --json "$OUT/logs/eval-$name.json" "$@" > "$OUT/logs/eval-$name.log" 2>&1
}
(for s in ${FEW_STEPS:-4 1 2}; do for g in ${FEW_GUIDANCE:-1.5 1.0 2.0}; do
   ev 0 "few-step-$s-g$g" --model fmnist-flow --sampler few-step --steps "$s" --guidance "$g"; done; done) &
(CUDA_VISIBLE_DEVICES=1 timeout "$EVAL_S" $PY benchmarks/eval_inpaint.py --n "$n" --device "$dev" \
   --families diffusion --diffusion-model fmnist-inpaint --masks bottom-half,center-square \
   --json "$OUT/logs/eval-inpaint.json" > "$OUT/logs/eval-inpaint.log" 2>&1
 ev 1 diffusion-default --model fmnist-diffusion
 ev 1 diffusion-ddim-20 --model fmnist-diffusion --sampler ddim --steps 20
 ev 1 flow-euler-20 --model fmnist-flow --sampler flow-euler --steps 20
 ev 1 flow-heun-10 --model fmnist-flow --sampler flow-heun --steps 10) &
wait
first=$(ls "$OUT"/logs/eval-*.log | grep -v inpaint | head -n 1)
grep -h -A1 "^setting" "$first"  # header and the floor (real train images vs test)
for f in "$OUT"/logs/eval-[df]*.log; do tail -n 1 "$f"; done
cat "$OUT/logs/eval-inpaint.log"
