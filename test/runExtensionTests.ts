// Runs the mocha suites in test/extension inside a real VS Code extension host with
// @vscode/test-electron's runTests. Here, where desktop VS Code cannot be downloaded, the
// "executable" is scripts/code-test-shim.js (code-server + headless chromium); set
// VSCODE_EXECUTABLE to a desktop VS Code binary to use that instead. Needs `npx tsc -p .`
// and `node scripts/build.mjs` first.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

const repoRoot = path.resolve(__dirname, '..', '..');
const runDir = path.join(repoRoot, 'test-results', 'extension-tests');

async function main(): Promise<number> {
  // The tests change workspace settings: give them a copy of the sample workspace.
  const workspace = path.join(runDir, 'workspace');
  fs.rmSync(workspace, { recursive: true, force: true });
  fs.cpSync(path.join(repoRoot, 'test', 'fixtures', 'workspace'), workspace, { recursive: true });
  try {
    await runTests({
      vscodeExecutablePath: process.env.VSCODE_EXECUTABLE ?? path.join(repoRoot, 'scripts', 'code-test-shim.js'),
      extensionDevelopmentPath: repoRoot,
      extensionTestsPath: path.join(repoRoot, 'out', 'test', 'extension', 'index'),
      // Profile folders inside the run folder rather than .vscode-test/ in the repository.
      launchArgs: [
        workspace,
        `--user-data-dir=${path.join(runDir, 'user-data')}`,
        `--extensions-dir=${path.join(runDir, 'extensions')}`,
      ],
    });
    return 0;
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    return 1;
  }
}

void main().then((code) => process.exit(code));
