#!/usr/bin/env bash
# Builds the corpus and tokenizer, trains the DiffTransformer and its matched baseline on the same
# data, token count, schedule and optimizer, and exports both as model packages under models/
# (or EXPORT).
# Resumable: run it again after an interruption and each step continues where it stopped
# (runs/*/train.out says how far each model is; runs/*/log.jsonl has every step and probe).
# The recipe (model/data.py): three in four rows of every batch are rewritten so that copying and
# retrieval pay off from the first step (pasted spans, repeated random runs, needle documents);
# windows grow from 256 to 512 to 1024 tokens; the learning rate warms up, stays at its peak while
# circuits form, and decays over the last fifth. Sizes are set for about 60 minutes for the pair on
# 2 idle CPU cores (bf16 autocast, one core per model: about 1.9 s per 4096-token step at 256-token
# windows, 2.8 s at 512 and 3.6 s at 1024 for the 6.8M-parameter DIFF model).
# Every knob can be overridden from the environment, e.g. STEPS=20 for a smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA="${DATA:-data}"
RUNS="${RUNS:-runs}"
VOCAB="${VOCAB:-8192}"
N_LAYER="${N_LAYER:-6}" N_HEAD="${N_HEAD:-4}" N_EMBD="${N_EMBD:-256}" CONTEXT="${CONTEXT:-1024}"
BATCH="${BATCH:-16}" STEPS="${STEPS:-1400}" WINDOWS="${WINDOWS:-256,512@0.7,1024@0.85}" LR="${LR:-2e-3}"
MIX="${MIX:-}"  # row-kind shares, e.g. needles=0.45,span_copy=0.15,random_copy=0.2 (model/data.py Mix)
MAX_MINUTES="${MAX_MINUTES:-300}"  # a safety stop per model; the step count ends a normal run
PREFIX="${PREFIX:-code}"
EXPORT="${EXPORT:-models}"  # where the packages are written (another folder: to evaluate them before shipping)
# A longer run from the peak learning rate: FROM=runs starts each model of a new RUNS folder from
# FROM/KIND/before-decay.pt (with FROM's log up to that step); STEPS, WINDOWS and BATCH then give the
# longer schedule. For example: FROM=runs RUNS=runs/long STEPS=2800 WINDOWS=512,1024@0.6 BATCH=8
# EXPORT=runs/long/packages (still 4,096 tokens a step, most of the added ones at 1,024-token windows).
FROM="${FROM:-}"
# A longer context from the shipped packages: INIT=models starts each model of a new RUNS folder
# from INIT/PREFIX-KIND's weights at CONTEXT (a fresh optimizer; RoPE needs no rescaling to run
# longer, the training teaches the longer distances). For example: INIT=models RUNS=runs/long4k
# CONTEXT=4096 STEPS=2400 WINDOWS=1024,2048@0.1,4096@0.3 BATCH=4 LR=1e-3 EXPORT=runs/long4k/packages.
# Windows past 1,024 tokens recompute each layer in the backward pass to bound the memory.
INIT="${INIT:-}"

[ -f "$DATA/corpus/train.txt" ] || scripts/python.sh -m model.corpus build --out "$DATA/corpus"
[ -f "$DATA/tokenizer.json" ] ||
  scripts/python.sh -m model.tokenizer train --vocab-size "$VOCAB" --out "$DATA/tokenizer.json" "$DATA/corpus/train.txt"

# Both models train at once, each on half the cores: on 2 cores that gives about twice the combined
# throughput of training them one after the other on both cores.
threads=$(( $(nproc) / 2 )); [ "$threads" -ge 1 ] || threads=1
train() {  # kind, data folder, last step, extra arguments; exec, so that its pid is the trainer's
  exec scripts/python.sh -m model.train --kind "$1" --data "$2" --tokenizer "$DATA/tokenizer.json" \
    --out "$RUNS/$1" --resume --bf16 --threads "$threads" \
    --n-layer "$N_LAYER" --n-head "$N_HEAD" --n-embd "$N_EMBD" --context "$CONTEXT" \
    --steps "$3" --max-minutes "$MAX_MINUTES" ${INIT:+--init-from "$INIT/$PREFIX-$1"} "${@:4}"
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

if [ -n "$FROM" ]; then
  for kind in diff baseline; do
    [ ! -f "$RUNS/$kind/checkpoint.pt" ] || continue  # already started: resume it
    mkdir -p "$RUNS/$kind"
    cp "$FROM/$kind/before-decay.pt" "$RUNS/$kind/checkpoint.pt"
    scripts/python.sh -c 'import json, sys, torch
step = torch.load(sys.argv[1], map_location="cpu")["training"]["step"]
sys.stdout.writelines(line for line in open(sys.argv[2]) if json.loads(line)["step"] <= step)' \
      "$RUNS/$kind/checkpoint.pt" "$FROM/$kind/log.jsonl" > "$RUNS/$kind/log.jsonl"
  done
fi

# Tokenise once before the two runs would both try to.
scripts/python.sh -m model.train --kind diff --data "$DATA/corpus" --tokenizer "$DATA/tokenizer.json" --out "$RUNS/diff" --tokenize-only
both "$DATA/corpus" "$STEPS" --windows "$WINDOWS" --batch-size "$BATCH" --lr "$LR" --eval-every 100 ${MIX:+--mix "$MIX"}

for kind in diff baseline; do
  scripts/python.sh -m model export --checkpoint "$RUNS/$kind/checkpoint.pt" --tokenizer "$DATA/tokenizer.json" \
    --out "$EXPORT/$PREFIX-$kind" --name "$PREFIX-$kind"
done
