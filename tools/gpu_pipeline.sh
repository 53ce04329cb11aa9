# Helpers shared by the detached GPU pipelines (tools/gpu_wave4.sh, 5 and 6); sourced
# after the pipeline has set L (its log folder), PY and DEADLINE, and (before it calls mins, train
# or ev) scale, DEV, LIM, N and EV_DEV (drift: VN too). The clock (t0) starts when this file is sourced.
#   collect OUT NAME...  pack models NAME (weights, config, card; in 15 MB parts, the device
#                        command's file limit) whose $L/NAME.done exists, and the logs, into OUT
#   stamp TEXT           a line "<seconds since the start> s: TEXT" on stdout and in the timeline
#   left                 seconds until DEADLINE (at least 1): the time box of a stage
#   waitfor FILE         until $L/FILE exists
#   mins M               M minutes, scaled (a dry run's minutes are seconds long)
#   train GPU NAME ARGS  desktopgen train ARGS --out models/NAME, logged, on that GPU
#   ev GPU NAME ARGS     desktopgen eval ARGS --n $N on $EV_DEV, time-boxed, logged
#   drift GPU FAMILY W FRAMES TAG [ARGS]  tools/gpu_video_clips.py: $VN clips into $L/video
#   better FAMILY TAG W...  the guidance W whose 16-frame clips (tag TAG) keep the class best
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
drift() {  # gpu, family, guidance, frames, tag, [--model NAME]
  local gpu=$1 fam=$2 g=$3 fr=$4 tag=$5; shift 5
  CUDA_VISIBLE_DEVICES=$gpu timeout "$(left)" $PY tools/gpu_video_clips.py --out "$L/video" \
    --n "$VN" --batch "$VN" --frames "$fr" --families "$fam" --guidance "$g" --tag="$tag" \
    --device "$EV_DEV" "$@" >> "$L/clips-$fam.log" 2>&1
  stamp "drift $fam g=$g $fr frames $tag: exit $?"
}
better() {  # family, tag, guidance...: the guidance whose 16-frame clips keep the class best
  local fam=$1 tag=$2; shift 2
  $PY - "$L/video" "$fam" "$tag" "$@" <<'EOF'
import json, sys
d, fam, tag, gs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
def score(g):
    try:
        r = json.load(open(f"{d}/videos-{fam}-16{tag}-g{g}.json"))
    except OSError:
        return (-1.0, 0.0)
    return (r["min_class_consistency"], sum(r["class_consistency"]))
print(max(gs, key=score))
EOF
}
