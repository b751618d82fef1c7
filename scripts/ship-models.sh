#!/usr/bin/env bash
# Ships a trained pair as the bundled models: exports RUNS_DIR/diff and RUNS_DIR/baseline's
# checkpoint.pt with data/tokenizer.json to models/code-diff and models/code-baseline, plots the
# two runs' learning curves into docs/training, and evaluates the pair into docs/evaluation.md,
# .json and docs/evaluation/. Each step says how long it took. What cannot be scripted (the prose
# that quotes the pair's numbers) is the checklist in docs/model-and-training.md, "Shipping a new
# pair", printed at the end.
#   scripts/ship-models.sh runs/long4k-b
# BENCH=1 also reruns the benches (docs/performance.*, docs/long-context.*): do that on an idle
# machine, their figures are timings. EVALUATE_ARGS passes options to model.evaluate (e.g. --quick).
# Each model's results are kept in RUNS_DIR/evaluation-cache: a run stopped part-way, or one after a
# model was evaluated alone (model.evaluate --only), does not evaluate a model twice.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:?usage: scripts/ship-models.sh RUNS_DIR (holding diff/ and baseline/, each with checkpoint.pt and log.jsonl)}"
DATA="${DATA:-data}"
for kind in diff baseline; do
  for file in checkpoint.pt log.jsonl; do
    [ -f "$runs/$kind/$file" ] || { echo "ship-models: $runs/$kind/$file is missing" >&2; exit 2; }
  done
done

step_started=$SECONDS
step() {  # the previous step's time, then the next step's name
  [ -z "${step_name:-}" ] || echo "ship-models: $step_name took $((SECONDS - step_started)) s"
  step_name="$1" step_started=$SECONDS
  [ -z "$step_name" ] || echo "ship-models: $step_name"
}

step "export both packages"
for kind in diff baseline; do
  scripts/python.sh -m model export --checkpoint "$runs/$kind/checkpoint.pt" --tokenizer "$DATA/tokenizer.json" \
    --out "models/code-$kind" --name "code-$kind"
  du -sh "models/code-$kind"
done

step "learning curves"
scripts/python.sh -m model.learning --diff "$runs/diff/log.jsonl" --baseline "$runs/baseline/log.jsonl" --out docs/training

step "evaluation"
# shellcheck disable=SC2086  # EVALUATE_ARGS is a list of options
scripts/python.sh -m model.evaluate --diff models/code-diff --baseline models/code-baseline --data "$DATA/corpus" \
  --out docs/evaluation.md --training-logs "$runs/diff/log.jsonl" "$runs/baseline/log.jsonl" \
  --cache "$runs/evaluation-cache" ${EVALUATE_ARGS:-}

# The goldens under test/fixtures/golden are the tiny random-weight packages' (python -m model
# fixtures): no number of the shipped pair is in them, so they stay as they are.

if [ "${BENCH:-}" = 1 ]; then
  step "benches"
  npx tsc -p . && node scripts/build.mjs
  node out/test/bench/bench.js
  node out/test/bench/longContextBench.js
fi
step ""

echo
echo "ship-models: done. Now, by hand (docs/model-and-training.md, \"Shipping a new pair\"):"
sed -n '/^### Shipping a new pair/,/^### /p' docs/model-and-training.md | sed -n '/^[0-9]\+\./p'
