#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: TypeScript unit tests (Node's test
# runner), then the Python model tests (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p .
node --test out/test/unit/
scripts/python.sh -m pytest -q -p no:cacheprovider model/tests
