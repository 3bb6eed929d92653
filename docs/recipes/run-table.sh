#!/usr/bin/env bash
# Compresses sieve-tiny F32 with each recipe and evaluates it against the F32 reference.
# Usage: docs/recipes/run-table.sh OUTDIR CALIB_SEQS EVAL_CHUNKS(0 = whole eval.txt) RECIPE...
# SIEVE=path/to/bin/sieve runs another build (e.g. a frozen copy while this tree is rebuilt).
set -u
out=$1; seqs=$2; chunks=$3; shift 3
M=${SIEVE_MODELS:-../shared/testdata/models}
mkdir -p "$out"
for r in "$@"; do
  n=$(basename "$r" .yaml)
  ${SIEVE:-bin/sieve} compress -m $M/sieve-tiny-F32.gguf -o "$out/$n.gguf" --recipe "$r" --calib $M/calib.txt \
      --calib-seqs "$seqs" --calib-len 256 > "$out/$n.compress.txt" 2>&1 || { echo "$n compress failed"; continue; }
  ${SIEVE:-bin/sieve} eval -m "$out/$n.gguf" --ref $M/sieve-tiny-F32.gguf --text $M/eval.txt --chunks "$chunks" --json \
      > "$out/$n.json" 2> "$out/$n.eval.err"
  echo "$n $(stat -c %s "$out/$n.gguf") $(cat "$out/$n.compress.txt" | tail -1) $(cat "$out/$n.json")"
done
