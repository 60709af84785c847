#!/usr/bin/env bash
# The musical-metrics table of benchmarks/musical/README.md: each family (lstm, conv, gan)
# trained for the same wall-clock time on one CPU thread (core 0), on Nottingham
# (melody + chords, the two tracks kept) and on the pop multi-track songs (LPD-5), then
# scored by `musegan evaluate` against the real corpus; 16-bar samples to samples/.
# Run from the repository root with ../shared/data beside it:
#     bash benchmarks/musical/run.sh            # SECONDS_PER_RUN=450 by default
set -uo pipefail
DATA=${MUSEGAN_TEST_DATA:-../shared/data}
WORK=${WORK:-/tmp/musegan-musical}  # prepared corpora and runs (checkpoints stay out of the repository)
SECONDS_PER_RUN=${SECONDS_PER_RUN:-450}
FAMILIES=${FAMILIES:-"lstm conv gan"}
CORPORA=${CORPORA:-"notts pop"}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
M="taskset -c 0 python -m musegan"
R=benchmarks/musical/results
mkdir -p "$WORK/notts-midi" "$R" samples

# Nottingham: the 1034 melody+chords files at the top of MIDI/ (links, nothing copied)
for f in "$DATA"/midi/nottingham/MIDI/*.mid; do ln -sf "$(realpath "$f")" "$WORK/notts-midi/"; done
declare -A SRC=([notts]="$WORK/notts-midi" [pop]="$DATA/midi/pop_multitrack/midis")
declare -A SETS=([notts]="--set data.tracks=keep --set data.max_tracks=2" [pop]="")

for c in $CORPORA; do
  [ -f "$WORK/prep-$c/manifest.json" ] || $M prepare "${SRC[$c]}" --out "$WORK/prep-$c" ${SETS[$c]} --workers 1 --quiet
  for m in $FAMILIES; do
    run="$WORK/runs/$c-$m"
    # equal training time: a run is stopped by SIGINT after SECONDS_PER_RUN seconds (the
    # trainer then saves its checkpoint); --steps is out of reach, so the cosine schedule
    # stays near its peak learning rate throughout
    [ -f "$run/checkpoint.pt" ] || timeout -s INT "$SECONDS_PER_RUN" $M train --model "$m" --corpus "$WORK/prep-$c" \
        --out "$run" --steps 1000000 --device cpu --quiet ${SETS[$c]}
  done
done
for c in $CORPORA; do
  for m in $FAMILIES; do
    run="$WORK/runs/$c-$m"
    $M evaluate "$run" --reference "${SRC[$c]}" --num 100 --bars 8 --max-samples 200 --out "$R/$c-$m.json"
    python - "$run/metrics.csv" "$R/$c-$m.train.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
json.dump({"steps": int(rows[-1]["step"]), "seconds": float(rows[-1]["seconds"])}, open(sys.argv[2], "w"))
PY
    $M generate "$run" --out "samples/$c-$m.mid" --bars 16 --seed 0
  done
done
python benchmarks/musical/table.py > benchmarks/musical/table.md
# the GAN's accompaniment (hand-made primers) and a long piece
python benchmarks/musical/primers.py "$WORK/primers"
[ -d "$WORK/runs/notts-gan" ] && $M generate "$WORK/runs/notts-gan" --primer "$WORK/primers/melody.mid" --bars 4 \
    --out samples/notts-gan-accompany-melody.mid
[ -d "$WORK/runs/pop-gan" ] && $M generate "$WORK/runs/pop-gan" --primer "$WORK/primers/bass_drums.mid" --bars 4 \
    --out samples/pop-gan-accompany-bass-drums.mid
[ -d "$WORK/runs/pop-gan" ] && $M generate "$WORK/runs/pop-gan" --bars 32 --seed 1 --out samples/pop-gan-32bars.mid
