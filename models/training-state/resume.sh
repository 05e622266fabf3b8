#!/usr/bin/env bash
# Resume Model v2's whole chain on this machine, whatever survived, until a deadline:
#   packs here → run folders in ../runs (when missing) → corpus (≈ 40 min on a fresh machine) → latents →
#   base → partner stems → LMDM → re-voiced renders → generative delay → ARC-Forcing → codec v2 (v1 latent space).
# Each step is skipped when done (a stage is done when its summary.json says so; a data build re-checks its
# manifest and renders nothing), so the same command starts every session. Training stages stop cleanly with a
# checkpoint at the deadline (--max-minutes); a data build is interrupted and resumes next time.
# At the end of the session pack what trained: lmd train pack ../runs/<stage> --out models/training-state/<stage>.safetensors
#
#   STOP_AT=12:25 nohup bash models/training-state/resume.sh > ../runs/resume.log 2>&1 &   # until 12:25 (UTC)
#   MINUTES=75    nohup bash models/training-state/resume.sh > ../runs/resume.log 2>&1 &   # for 75 minutes
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-$(cd .. && pwd)/runs}
LMD=${LMD:-.venv/bin/lmd}  # tests put a recording stand-in here
CORPUS=$RUNS/corpus-full2
CONFIGS=lmd_studio/training/configs
if [ -n "${STOP_AT:-}" ]; then
  DEADLINE=$(date -d "$STOP_AT" +%s 2>/dev/null) ||
    { echo "resume.sh: STOP_AT='$STOP_AT' is not a time: write e.g. STOP_AT=12:25 (or MINUTES=75)" >&2; exit 2; }
else
  DEADLINE=$(( $(date +%s) + ${MINUTES:-60} * 60 ))
fi
mkdir -p "$RUNS"

seconds_left() { echo $(( DEADLINE - $(date +%s) )); }
minutes_left() { echo $(( $(seconds_left) / 60 )); }
say() { echo "[$(date -u +%H:%M:%S)] $*"; }
stop_if_late() {  # a stage shorter than 5 minutes is not worth its start-up (text encoder, latents into memory)
  if [ "$(minutes_left)" -lt 5 ]; then say "deadline reached before $1"; exit 0; fi
}
done_stage() { [ -f "$RUNS/$1/summary.json" ] && grep -q '"status": "done"' "$RUNS/$1/summary.json"; }

# a data build until the deadline; interrupted, it resumes from its manifest next time (rc 124 = deadline)
build() {
  stop_if_late "lmd data build $*"
  say "lmd data build $* (up to $(minutes_left) min)"
  local rc=0
  timeout --signal=INT "$(seconds_left)" $LMD data build --size full --no-progress "$@" --out "$CORPUS" || rc=$?
  if [ "$rc" -eq 124 ]; then say "deadline reached during the build (it resumes next time)"; exit 0; fi
  [ "$rc" -eq 0 ] || { say "lmd data build failed (rc $rc)"; exit "$rc"; }
}

# train STAGE until done or the deadline; returns 1 when it stopped before done
train() {
  local stage=$1; shift
  done_stage "$stage" && return 0
  stop_if_late "$stage"
  say "$stage for up to $(minutes_left) min"
  $LMD train "$@" --corpus "$CORPUS" --out "$RUNS/$stage" --max-minutes "$(minutes_left)"
  done_stage "$stage" || { say "$stage stopped before its last step (resumes next time)"; exit 0; }
}

for stage in v2-base v2-lmdm v2-delay v2-arc codec2-v1space; do
  pack=models/training-state/$stage.safetensors
  if [ -f "$pack" ] && [ ! -f "$RUNS/$stage/last.pt" ]; then
    say "unpacking $pack"
    $LMD train unpack "$pack" --out "$RUNS/$stage"
  fi
done

# base needs neither partner stems nor re-voiced renders
if ! done_stage v2-base; then
  [ -f "$CORPUS/report.json" ] || build --no-stems --no-revoice
  $LMD train latents --corpus "$CORPUS" --threads 2
  train v2-base base --config $CONFIGS/base_v2.json
fi

# LMDM trains with partner stems (p_partner)
if ! done_stage v2-lmdm; then
  build --no-revoice
  $LMD train latents --corpus "$CORPUS" --threads 2
  train v2-lmdm lmdm --config $CONFIGS/lmdm_v2.json --init "$RUNS/v2-base"
fi

# the generative-delay continuation trains on re-voiced renders (the same notes on other instruments)
if ! done_stage v2-delay; then
  build
  $LMD train latents --corpus "$CORPUS" --threads 2
  train v2-delay lmdm --config $CONFIGS/lmdm_delay_v2.json --init "$RUNS/v2-lmdm"
fi

train v2-arc arc --config $CONFIGS/arc_v2.json --init "$RUNS/v2-delay"
done_stage codec2-v1space ||
  say "Model v2's chain is done: evaluate $RUNS/v2-arc against models/default (lmd eval) and ship it"

# codec v2 on the shipped codec's latent space (its teacher), so Model v2 keeps working with it (issue 14)
train codec2-v1space codec2 --config $CONFIGS/codec2_v1space.json
say "the chain is done: Model v2 in $RUNS/v2-arc, codec v2 in $RUNS/codec2-v1space (lmd codec eval --compare)"
