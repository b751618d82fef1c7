#!/usr/bin/env node
// A stand-in for the VS Code executable that @vscode/test-electron's runTests starts: where desktop
// VS Code cannot be downloaded, this runs the same extension tests in code-server's real Node
// extension host, driven by headless chromium (see test/vscode/server.ts). It accepts VS Code's command line, prints the test output and exits
// with the test result. Needs `npx tsc -p .` (it loads the compiled server library).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { startServer, launchBrowser, remoteUri } = require('../out/test/vscode/server.js');

const timeoutSeconds = Number(process.env.CODE_TEST_SHIM_TIMEOUT_S ?? 600);

/** VS Code's `--name=value` / `--name value` flags; unknown flags (--no-sandbox, --disable-updates, …) are ignored. */
function parseCommandLine(argv) {
  const valueFlags = ['extensionDevelopmentPath', 'extensionTestsPath', 'user-data-dir', 'extensions-dir'];
  const parsed = { folders: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) {
      parsed.folders.push(path.resolve(arg));
      continue;
    }
    const [name, inlineValue] = arg.slice(2).split(/=(.*)/s);
    if (valueFlags.includes(name)) parsed[name] = path.resolve(inlineValue ?? argv[++i]);
  }
  if (!parsed.extensionDevelopmentPath || !parsed.extensionTestsPath) {
    throw new Error('usage: code-test-shim.js --extensionDevelopmentPath=DIR --extensionTestsPath=MODULE [--user-data-dir=DIR] [--extensions-dir=DIR] [FOLDER]');
  }
  return parsed;
}

/** The workbench forwards every log line, the extension host's console (mocha's output) included,
 * as printf-style arguments. All go to runDir/workbench.log; the console skips errors raised by
 * the workbench's own scripts (offline gallery lookups and the like), which are not test output. */
function automationLogPrinter(logFile) {
  return (level, args) => {
    const text = util.format(...(Array.isArray(args) ? args : [args]));
    fs.appendFileSync(logFile, `[${level}] ${text}\n`);
    if (level !== 'error') process.stdout.write(`${text}\n`);
    else if (!text.includes('/static/out/vs/')) process.stderr.write(`${text}\n`);
  };
}

async function main() {
  const options = parseCommandLine(process.argv.slice(2));
  const userDataDir = options['user-data-dir'] ?? path.resolve('.vscode-test', 'user-data');
  const runDir = path.join(path.dirname(userDataDir), 'code-server-run');
  fs.rmSync(runDir, { recursive: true, force: true });

  const server = await startServer({
    runDir,
    userDataDir,
    extensionsDir: options['extensions-dir'],
    folder: options.folders[0],
    extensionDevelopmentPath: options.extensionDevelopmentPath,
  });
  let browser;
  try {
    browser = await launchBrowser(runDir);
    let reportExit;
    const testsFinished = new Promise((resolve) => (reportExit = resolve));
    // Both must exist before the workbench loads: it calls them while and after the tests run.
    await browser.page.exposeFunction('codeAutomationLog', automationLogPrinter(path.join(runDir, 'workbench.log')));
    await browser.page.exposeFunction('codeAutomationExit', (code) => reportExit(code));
    const timedOut = new Promise((resolve) => setTimeout(() => resolve('timeout'), timeoutSeconds * 1000).unref());
    await browser.page.goto(server.workbenchUrl([['extensionTestsPath', remoteUri(options.extensionTestsPath)]]));
    const result = await Promise.race([testsFinished, timedOut]);
    if (result === 'timeout') {
      console.error(`code-test-shim: no test result after ${timeoutSeconds} s; logs in ${runDir}`);
      return 1;
    }
    return result;
  } finally {
    await browser?.close();
    await server.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error('code-test-shim:', error);
    process.exit(1);
  },
);
