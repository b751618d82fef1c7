#!/usr/bin/env bash
# Builds the corpus and tokenizer, trains the DiffTransformer and its matched baseline on the same
# data, token count, schedule and optimizer, and exports both as model packages under models/.
# Resumable: run it again after an interruption and each step continues where it stopped.
# Sizes are set for about 75 minutes per model on 2 CPU cores (bf16 autocast; measured: about
# 1000 tokens/s at 256-token windows and 160 tokens/s at 1024 for the default 6.8M-parameter model).
# Every knob can be overridden from the environment, e.g. STEPS=20 LONG_STEPS=2 for a smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${DATA:-data}"
RUNS="${RUNS:-runs}"
VOCAB="${VOCAB:-8192}"
N_LAYER="${N_LAYER:-6}" N_HEAD="${N_HEAD:-4}" N_EMBD="${N_EMBD:-256}" CONTEXT="${CONTEXT:-1024}"
SEQ_LEN="${SEQ_LEN:-256}" BATCH="${BATCH:-16}" STEPS="${STEPS:-848}" LONG_STEPS="${LONG_STEPS:-48}"
MAX_MINUTES="${MAX_MINUTES:-85}"  # a safety stop per model; the step count ends a normal run
PREFIX="${PREFIX:-code}"

[ -f "$DATA/corpus/train.txt" ] || scripts/python.sh -m model.corpus build --out "$DATA/corpus"
[ -f "$DATA/tokenizer.json" ] ||
  scripts/python.sh -m model.tokenizer train --vocab-size "$VOCAB" --out "$DATA/tokenizer.json" "$DATA/corpus/train.txt"

for kind in diff baseline; do
  scripts/python.sh -m model.train --kind "$kind" --data "$DATA/corpus" --tokenizer "$DATA/tokenizer.json" \
    --out "$RUNS/$kind" --resume --bf16 --threads "$(nproc)" \
    --n-layer "$N_LAYER" --n-head "$N_HEAD" --n-embd "$N_EMBD" --context "$CONTEXT" \
    --seq-len "$SEQ_LEN" --batch-size "$BATCH" --steps "$STEPS" --long-steps "$LONG_STEPS" --max-minutes "$MAX_MINUTES"
  scripts/python.sh -m model export --checkpoint "$RUNS/$kind/checkpoint.pt" --tokenizer "$DATA/tokenizer.json" \
    --out "models/$PREFIX-$kind" --name "$PREFIX-$kind"
done
