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
RETRIEVAL_STEPS="${RETRIEVAL_STEPS:-600}"
MAX_MINUTES="${MAX_MINUTES:-200}"  # a safety stop per model (both phases); the step counts end a normal run
PREFIX="${PREFIX:-code}"

[ -f "$DATA/corpus/train.txt" ] || scripts/python.sh -m model.corpus build --out "$DATA/corpus"
[ -f "$DATA/tokenizer.json" ] ||
  scripts/python.sh -m model.tokenizer train --vocab-size "$VOCAB" --out "$DATA/tokenizer.json" "$DATA/corpus/train.txt"

# Both models train at once, each on half the cores: on 2 cores that gives about twice the combined
# throughput of training them one after the other on both cores.
threads=$(( $(nproc) / 2 )); [ "$threads" -ge 1 ] || threads=1
train() {  # kind, data folder, last step, extra arguments
  scripts/python.sh -m model.train --kind "$1" --data "$2" --tokenizer "$DATA/tokenizer.json" \
    --out "$RUNS/$1" --resume --bf16 --threads "$threads" \
    --n-layer "$N_LAYER" --n-head "$N_HEAD" --n-embd "$N_EMBD" --context "$CONTEXT" \
    --steps "$3" --max-minutes "$MAX_MINUTES" "${@:4}"
}
both() {  # runs train for both kinds at once; fails if either fails
  local pids=() status=0
  for kind in diff baseline; do
    mkdir -p "$RUNS/$kind"
    train "$kind" "$@" >> "$RUNS/$kind/train.out" 2>&1 &
    pids+=("$!")
  done
  trap 'kill -TERM "${pids[@]}" 2>/dev/null; wait' INT TERM  # each run checkpoints on SIGTERM
  for pid in "${pids[@]}"; do wait "$pid" || status=1; done
  trap - INT TERM
  [ "$status" -eq 0 ] || { echo "training failed or stopped: see $RUNS/*/train.out; run again to resume" >&2; exit 1; }
}

# Phase 1: the corpus, short windows, then full-context windows for the last LONG_STEPS steps.
# (Each phase tokenises its data once before the two runs would both try to.)
scripts/python.sh -m model.train --kind diff --data "$DATA/corpus" --tokenizer "$DATA/tokenizer.json" --out "$RUNS/diff" --tokenize-only
both "$DATA/corpus" "$STEPS" --seq-len "$SEQ_LEN" --batch-size "$BATCH" --long-steps "$LONG_STEPS"

# Phase 2: RETRIEVAL_STEPS more on half short retrieval documents, half corpus, at 512-token
# windows (same tokens per step); the learning rate restarts from where the longer schedule puts it.
[ -f "$DATA/retrieval-mix/train.txt" ] ||
  scripts/python.sh -m model.corpus retrieval-mix --corpus "$DATA/corpus" --out "$DATA/retrieval-mix"
scripts/python.sh -m model.train --kind diff --data "$DATA/retrieval-mix" --tokenizer "$DATA/tokenizer.json" --out "$RUNS/diff" --tokenize-only
both "$DATA/retrieval-mix" "$((STEPS + RETRIEVAL_STEPS))" --seq-len 512 --batch-size "$((BATCH * SEQ_LEN / 512))" --long-steps 0

for kind in diff baseline; do
  scripts/python.sh -m model export --checkpoint "$RUNS/$kind/checkpoint.pt" --tokenizer "$DATA/tokenizer.json" \
    --out "models/$PREFIX-$kind" --name "$PREFIX-$kind"
done
