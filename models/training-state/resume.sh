#!/usr/bin/env bash
# Resume Model v2's chain on this machine, whatever survived: the packs here are unpacked into ../runs
# when their run folders are missing, the corpus and latents are rebuilt when missing (≈ 46 min on 2 cores),
# then the first unfinished stage trains for MINUTES (default 60) and stops with a checkpoint.
# At the end of the session: lmd train pack ../runs/<stage> --out models/training-state/<stage>.safetensors
#
#   MINUTES=75 nohup bash models/training-state/resume.sh > ../runs/resume.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${RUNS:-$(cd .. && pwd)/runs}
LMD=.venv/bin/lmd
CORPUS=$RUNS/corpus-full2
CONFIGS=lmd_studio/training/configs
MINUTES=${MINUTES:-60}
mkdir -p "$RUNS"

for stage in v2-base v2-lmdm v2-delay v2-arc; do
  pack=models/training-state/$stage.safetensors
  if [ -f "$pack" ] && [ ! -f "$RUNS/$stage/last.pt" ]; then
    $LMD train unpack "$pack" --out "$RUNS/$stage"
  fi
done

needs_stems=no
[ -f "$RUNS/v2-base/summary.json" ] && grep -q '"status": "done"' "$RUNS/v2-base/summary.json" && needs_stems=yes
if [ ! -f "$CORPUS/report.json" ] || [ "$needs_stems" = yes ]; then
  # the LMDM stage trains with partner stems (p_partner); the base stage needs neither stems nor re-voicing
  if [ "$needs_stems" = yes ]; then
    $LMD data build --size full --no-progress --no-revoice --out "$CORPUS"
  else
    $LMD data build --size full --no-progress --no-stems --no-revoice --out "$CORPUS"
  fi
fi
$LMD train latents --corpus "$CORPUS" --threads 2

done_stage() { [ -f "$RUNS/$1/summary.json" ] && grep -q '"status": "done"' "$RUNS/$1/summary.json"; }
if ! done_stage v2-base; then
  $LMD train base --config $CONFIGS/base_v2.json --corpus "$CORPUS" --out "$RUNS/v2-base" --max-minutes "$MINUTES"
elif ! done_stage v2-lmdm; then
  $LMD train lmdm --config $CONFIGS/lmdm_v2.json --init "$RUNS/v2-base" --corpus "$CORPUS" --out "$RUNS/v2-lmdm" \
      --max-minutes "$MINUTES"
else
  echo "base and LMDM are done: the delay stage needs re-voiced renders (lmd data build without --no-revoice);"
  echo "see models/training-state/README.md"
fi
