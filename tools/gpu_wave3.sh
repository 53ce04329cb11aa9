#!/usr/bin/env bash
# Measurements on a 2-GPU machine (one device command): issue 10's quality figures (1,000 samples,
# the project's classifier) of the retrained default diffusion model and the shortcut model, its
# H200 speed rows; issue 11's video clips with their drift per frame; the cost-vs-resolution table.
# Needs models fmnist-classifier, fmnist-diffusion, fmnist-flow, fmnist-tokenizer and the two video
# models (the others may be left out to keep the working tree under the device's size limit).
#   OUT=out bash tools/gpu_wave3.sh
set -u
export PYTHONUNBUFFERED=1 PYTHONPATH=. DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
OUT=${OUT:-out}; STOP=${STOP:-400}; PY=${PY:-python3}
L=$OUT/logs; mkdir -p "$L"
t0=$SECONDS
left() { echo $((STOP - (SECONDS - t0))); }
ev() {  # name, eval arguments (diffusion family, GPU 0)
  local n=$1; shift
  [ "$(left)" -gt 5 ] || { echo "eval $n skipped"; return; }
  CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY -m desktopgen eval --family diffusion --n 1000 --batch 250 \
    --json "$L/eval-$n.json" "$@" > "$L/eval-$n.log" 2>&1
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$L/gpu.txt" 2>&1
(ev default --model fmnist-diffusion
 for s in 4 2 1; do ev "few-step-$s" --model fmnist-flow --sampler few-step --steps "$s"; done
 ev flow-euler-20 --model fmnist-flow --sampler flow-euler --steps 20
 ev flow-heun-10 --model fmnist-flow --sampler flow-heun --steps 10
 for s in 4 1; do for g in 1.0 2.0 3.0; do ev "few-step-$s-g$g" --model fmnist-flow --sampler few-step --steps "$s" --guidance "$g"; done; done
 CUDA_VISIBLE_DEVICES=0 timeout "$(left)" $PY benchmarks/bench_engine.py --device cuda --reference \
   --samplers dpmpp-2m,ddim > "$L/bench-engine.log" 2>&1) &
(CUDA_VISIBLE_DEVICES=1 timeout 200 $PY tools/gpu_video_clips.py --out "$L" > "$L/clips.log" 2>&1
 CUDA_VISIBLE_DEVICES=1 timeout "$(left)" $PY benchmarks/bench_resolution.py --device cuda --out "$L/resolution" \
   > "$L/bench-resolution.log" 2>&1) &
wait
tail -q -n 1 "$L"/eval-*.log; cat "$L/clips.log"; tail -n 30 "$L/bench-engine.log"; tail -n 30 "$L/bench-resolution.log"
tar czf "$OUT/logs.tgz" -C "$OUT" logs && rm -rf "$L"; ls -la "$OUT"; echo "done in $((SECONDS - t0)) s"
