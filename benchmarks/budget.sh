# Sourced by the GPU scripts (ltsf_gpu.sh, reproduce_gpu.sh): run slices as parallel processes within a time budget.
#   run_budgeted BUDGET_MINUTES PARALLEL LAUNCH SLICE...
# LAUNCH is a function of (seconds left, slice) that starts one slice's process in the background, stopped when the
# budget ends (timeout --signal=INT "$1" ...); slices are started in order while more than a minute is left, at most
# PARALLEL at once, and the call returns when the started ones have finished.
run_budgeted() {
  local budget=$1 parallel=$2 launch=$3 slice left deadline
  shift 3
  deadline=$(( $(date +%s) + 60 * budget ))
  for slice in "$@"; do
    while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do sleep 5; done
    left=$(( deadline - $(date +%s) ))
    [ "$left" -gt 60 ] || break
    "$launch" "$left" "$slice"
  done
  wait
}
