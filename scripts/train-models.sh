#!/usr/bin/env bash
# Builds the corpus and tokenizer, trains the DiffTransformer and its matched baseline on the same
# data, token count, schedule and optimizer, and exports both as model packages under models/.
# Resumable: run it again after an interruption and each step continues where it stopped.
# Sizes are set for about 65 minutes for the pair on 2 idle CPU cores (bf16 autocast, one core per model; measured:
# about 3 s per 4096-token step at 256-token windows and 15 s at 1024 for the 6.8M-parameter DIFF model).
# Every knob can be overridden from the environment, e.g. STEPS=20 LONG_STEPS=2 for a smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${DATA:-data}"
RUNS="${RUNS:-runs}"
VOCAB="${VOCAB:-8192}"
N_LAYER="${N_LAYER:-6}" N_HEAD="${N_HEAD:-4}" N_EMBD="${N_EMBD:-256}" CONTEXT="${CONTEXT:-1024}"
SEQ_LEN="${SEQ_LEN:-256}" BATCH="${BATCH:-16}" STEPS="${STEPS:-1000}" LONG_STEPS="${LONG_STEPS:-56}"
MAX_MINUTES="${MAX_MINUTES:-120}"  # a safety stop per model; the step count ends a normal run
PREFIX="${PREFIX:-code}"

[ -f "$DATA/corpus/train.txt" ] || scripts/python.sh -m model.corpus build --out "$DATA/corpus"
[ -f "$DATA/tokenizer.json" ] ||
  scripts/python.sh -m model.tokenizer train --vocab-size "$VOCAB" --out "$DATA/tokenizer.json" "$DATA/corpus/train.txt"

# Both models train at once, each on half the cores: on 2 cores that gives about twice the combined
# throughput of training them one after the other on both cores.
threads=$(( $(nproc) / 2 )); [ "$threads" -ge 1 ] || threads=1
train() {
  scripts/python.sh -m model.train --kind "$1" --data "$DATA/corpus" --tokenizer "$DATA/tokenizer.json" \
    --out "$RUNS/$1" --resume --bf16 --threads "$threads" \
    --n-layer "$N_LAYER" --n-head "$N_HEAD" --n-embd "$N_EMBD" --context "$CONTEXT" \
    --seq-len "$SEQ_LEN" --batch-size "$BATCH" --steps "$STEPS" --long-steps "$LONG_STEPS" --max-minutes "$MAX_MINUTES"
}
# Tokenise the corpus once before the two runs would both try to.
scripts/python.sh -m model.train --kind diff --data "$DATA/corpus" --tokenizer "$DATA/tokenizer.json" --out "$RUNS/diff" --tokenize-only
pids=()
for kind in diff baseline; do
  mkdir -p "$RUNS/$kind"
  train "$kind" > "$RUNS/$kind/train.out" 2>&1 &
  pids+=("$!")
done
trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM  # each run checkpoints on SIGTERM
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
[ "$status" -eq 0 ] || { echo "training failed: see $RUNS/*/train.out" >&2; exit 1; }

for kind in diff baseline; do
  scripts/python.sh -m model export --checkpoint "$RUNS/$kind/checkpoint.pt" --tokenizer "$DATA/tokenizer.json" \
    --out "models/$PREFIX-$kind" --name "$PREFIX-$kind"
done
