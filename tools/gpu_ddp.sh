#!/usr/bin/env bash
# On a 2-GPU CUDA machine, in one go: the `gpu`-marked tests, data-parallel throughput on 1 vs 2
# GPUs (NCCL), then a real DDP training of the diffusion model and its evaluation.
# Usage (repo root): OUT=out bash tools/gpu_ddp.sh bench; OUT=out MIN=7 bash tools/gpu_ddp.sh train
# (data: $DESKTOPGEN_DATA). Two parts, so that each fits one 10-minute command.
set -u
export PYTHONUNBUFFERED=1 DESKTOPGEN_DATA=${DESKTOPGEN_DATA:-.data/fashion-mnist}
# NVLink multicast stays off on shared hosts.
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
OUT=${OUT:-out}; MIN=${MIN:-6}; BENCH_MIN=${BENCH_MIN:-0.4}
mkdir -p "$OUT"
PART=${1:-bench}
if [ "$PART" = bench ]; then
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
python3 -c 'import torch; print("torch", torch.__version__, "gpus", torch.cuda.device_count())' >> "$OUT/gpu.txt"
timeout 120 python3 -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider > "$OUT/pytest-gpu.txt" 2>&1
echo "pytest -m gpu rc=$?" >> "$OUT/pytest-gpu.txt"
# Throughput: the same global batch on one GPU and on two (strong scaling), then twice the batch
# on two (weak scaling). Each log ends with the images/s of its run.
# Runs of BENCH_MIN minutes (start-up included, so the figures are rough).
run1() { m=$1; shift; timeout 150 python3 -m desktopgen train "$m" --minutes "$BENCH_MIN" --out "/tmp/b1-$m-$2" "$@"; }
run2() { m=$1; shift; timeout 150 torchrun --standalone --nproc_per_node 2 -m desktopgen train "$m" \
  --minutes "$BENCH_MIN" --out "/tmp/b2-$m-$2" "$@"; }
for m in ar diffusion; do
  b=$([ $m = ar ] && echo 128 || echo 256)
  run1 $m --batch $b; run2 $m --batch $b; run2 $m --batch $((2 * b))
done > "$OUT/ddp-bench.log" 2>&1
grep -h "images/s" "$OUT/ddp-bench.log"
else
# The real training: NPROC GPUs (DDP over NCCL when 2), against the wall clock (the stop is collective).
NPROC=${NPROC:-2}  # 1: one GPU, no DDP
if [ "$NPROC" = 1 ]; then L=(python3 -m); else L=(torchrun --standalone --nproc_per_node "$NPROC" -m); fi
timeout $(( ${MIN%.*} * 60 + 90 )) "${L[@]}" desktopgen train \
  diffusion --out models/fmnist-diffusion --steps 1000000 --minutes "$MIN" --batch 512 --lr 3e-4 \
  --checkpoint-every 2000 > "$OUT/train-diffusion.log" 2>&1
echo "train rc=$?" >> "$OUT/train-diffusion.log"
cp models/fmnist-diffusion/weights.safetensors models/fmnist-diffusion/config.json \
  models/fmnist-diffusion/card.json "$OUT/" 2>/dev/null
timeout "${EVAL_S:-100}" python3 -m desktopgen eval --family diffusion --sweep --batch 250 \
  --update-card > "$OUT/eval-diffusion.log" 2>&1
cp models/fmnist-diffusion/card.json "$OUT/" 2>/dev/null
fi
tail -n 5 "$OUT"/*.log "$OUT"/*.txt
