#!/usr/bin/env bash
# Installs everything, builds the extension and serves VS Code with it for a browser: code-server
# on http://127.0.0.1:$PORT (default 8080) with the extension loaded from this folder and
# test/fixtures/workspace/sample.py open. Runs until Ctrl+C, which stops everything. Its files
# (profile, server.log) are in .cache/start/, recreated on each start.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node scripts/build.mjs
npx tsc -p test/vscode/tsconfig.json  # the launcher shared with the tests, without type-checking them

PORT="${PORT:-8080}" exec node - <<'EOF_NODE'
const fs = require('node:fs');
const path = require('node:path');
const { startServer, remoteUri, repoRoot } = require(path.resolve('out/test/vscode/server.js'));

(async () => {
  const runDir = path.join(repoRoot, '.cache', 'start');
  fs.rmSync(runDir, { recursive: true, force: true });
  const workspace = path.join(repoRoot, 'test', 'fixtures', 'workspace');
  const server = await startServer({ runDir, folder: workspace, extensionDevelopmentPath: repoRoot, port: Number(process.env.PORT) });
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await server.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // The extension is loaded through the URL's payload: a plain http://127.0.0.1:PORT/ opens VS Code without it.
  const url = server.workbenchUrl([['openFile', remoteUri(path.join(workspace, 'sample.py'))]]);
  console.log(`\nVS Code with DiffTransformer Inspector is running. Open this URL in a browser:\n\n  ${url}\n`);
  console.log(`Server log: ${server.logFile}. Press Ctrl+C to stop.`);
  await server.exited;
  if (stopping) return;
  console.error(`code-server stopped on its own; see ${server.logFile}`);
  process.exit(1);
})().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
EOF_NODE
