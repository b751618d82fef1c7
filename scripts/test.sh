#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: TypeScript unit tests (Node's test
# runner), the Python model tests (pytest), the extension tests inside a real VS Code extension
# host (mocha via @vscode/test-electron's runTests) and the browser end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p .
npx tsc -p webview/tsconfig.json
node scripts/build.mjs
node --test out/test/unit/
scripts/python.sh -m pytest -q -p no:cacheprovider model/tests
node out/test/runExtensionTests.js
node --test out/test/e2e/*.e2e.js
