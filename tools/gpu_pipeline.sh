# Helpers shared by the detached GPU pipelines (tools/gpu_wave4.sh, tools/gpu_wave5.sh); sourced
# after the pipeline has set L (its log folder), PY and DEADLINE, and (before it calls mins, train
# or ev) scale, DEV, LIM, N and EV_DEV. The clock (t0) starts when this file is sourced.
#   collect OUT NAME...  pack models NAME (weights, config, card; in 15 MB parts, the device
#                        command's file limit) whose $L/NAME.done exists, and the logs, into OUT
#   stamp TEXT           a line "<seconds since the start> s: TEXT" on stdout and in the timeline
#   left                 seconds until DEADLINE (at least 1): the time box of a stage
#   waitfor FILE         until $L/FILE exists
#   mins M               M minutes, scaled (a dry run's minutes are seconds long)
#   train GPU NAME ARGS  desktopgen train ARGS --out models/NAME, logged, on that GPU
#   ev GPU NAME ARGS     desktopgen eval ARGS --n $N on $EV_DEV, time-boxed, logged
collect() {
  local out=$1; shift
  cat "$L/timeline.txt" 2>/dev/null
  for name in "$@"; do
    if [ -f "models/$name/card.json" ] && [ -f "$L/$name.done" ]; then
      tar czf - -C models "$name/weights.safetensors" "$name/config.json" "$name/card.json" \
        | split -b 15M - "$out/$name.tgz.part-"
      echo "packed $name"
    else
      echo "not ready: $name"
    fi
  done
  tar czf "$out/logs.tgz" -C "$(dirname "$L")" "$(basename "$L")"
}
t0=$SECONDS
stamp() { echo "$((SECONDS - t0)) s: $*" | tee -a "$L/timeline.txt"; }
left() { local r=$((DEADLINE - (SECONDS - t0))); [ "$r" -gt 1 ] && echo "$r" || echo 1; }
waitfor() { until [ -f "$L/$1" ]; do sleep 3; done; }
mins() { $PY -c "print(round($1 * $scale, 4))"; }
train() {  # gpu, name, train arguments...
  local gpu=$1 name=$2; shift 2
  stamp "train $name: start"
  CUDA_VISIBLE_DEVICES=$gpu $PY -m desktopgen train "$@" --out "models/$name" --steps 1000000 \
    --checkpoint-every 2000 "${DEV[@]}" "${LIM[@]}" > "$L/train-$name.log" 2>&1
  stamp "train $name: exit $? ($(tail -n 1 "$L/train-$name.log" | cut -c1-160))"
}
ev() {  # gpu, log name, eval arguments...
  local gpu=$1 name=$2; shift 2
  CUDA_VISIBLE_DEVICES=$gpu timeout "$(left)" $PY -m desktopgen eval "$@" --n "$N" \
    --device "$EV_DEV" > "$L/eval-$name.log" 2>&1
  stamp "eval $name: exit $?"
}
