// The VSIX a user installs: `npm run package` builds the linux-x64 package, code-server installs it
// into an empty extensions folder (`--install-extension`), and a workbench started without the
// development extension runs it: the Get Started walkthrough opens the bundled sample and Inspect
// Selection from the palette draws that run's heatmap.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Engine } from '../../extension/core/engine';
import { DEFAULT_MODEL } from '../../extension/core/modelPath';
import { installExtension, repoRoot } from '../vscode/server';
import { drawnMap, inspectWith, modelsFolder, ofRun, panelFixture, webviewFrame } from './harness';

const TARGET = 'linux-x64';
const manifest = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
const vsixPath = path.join(repoRoot, `${manifest.name}-${TARGET}-${manifest.version}.vsix`);

// No folder and no development extension: the installed copy is the only one there is.
const panel = panelFixture('vsix', {
  install: async (runDir) => {
    execFileSync('bash', [path.join(repoRoot, 'scripts', 'package.sh'), TARGET], { cwd: repoRoot, stdio: ['ignore', 'ignore', 'inherit'] });
    const extensionsDir = path.join(runDir, 'extensions');
    await installExtension(vsixPath, { runDir, extensionsDir });
    return { extensionsDir };
  },
});

/** Where code-server says it installed the extension (its extensions.json), from a VSIX. */
function installedDir(): string {
  const installed: Array<{ identifier: { id: string }; location: { fsPath: string }; metadata?: { source?: string } }> = JSON.parse(
    fs.readFileSync(path.join(panel.runDir, 'extensions', 'extensions.json'), 'utf8'),
  );
  const entry = installed.find((extension) => extension.identifier.id === `${manifest.publisher}.${manifest.name}`);
  assert.equal(entry?.metadata?.source, 'vsix', 'installed from the VSIX');
  return entry!.location.fsPath;
}

/** Opens a walkthrough by its title (the palette's Welcome: Open Walkthrough..., then its list). */
async function openWalkthrough(title: string): Promise<void> {
  const { page } = panel;
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.fill('>Welcome: Open Walkthrough');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Welcome: Open Walkthrough' }).first().click();
  await page.locator('.quick-input-widget input[placeholder="Select a walkthrough to open"]').fill(title);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().click();
  await input.waitFor({ state: 'hidden' });
}

test('the VSIX holds the runtime for its own platform and no development files', () => {
  const entries = execFileSync('unzip', ['-Z1', vsixPath], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const binaries = entries.filter((entry) => entry.includes('onnxruntime-node/bin/'));
  assert.ok(binaries.includes('extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node'), 'its platform binding');
  assert.deepEqual(binaries.filter((entry) => !entry.includes('/napi-v6/linux/x64/')), [], 'no other platform');
  const modules = [...new Set(entries.filter((entry) => entry.startsWith('extension/node_modules/')).map((entry) => entry.split('/')[2]))];
  assert.deepEqual(modules.sort(), ['onnxruntime-common', 'onnxruntime-node'], 'of node_modules, only what the bundles load at run time');
  for (const needed of ['extension/dist/extension.js', 'extension/dist/engineWorker.js', 'extension/models/code-diff/model.onnx', 'extension/models/code-baseline/model.onnx', 'extension/extension/graphs/attention_maps.onnx', 'extension/media/walkthrough/sample.py', 'extension/media/icon.png', 'extension/changelog.md']) {
    assert.ok(entries.includes(needed), `${needed} is packaged`);
  }
  const devOnly = entries.filter((entry) => /\/models\/tiny-|^extension\/(test|out|scripts|model|webview|shared|docs)\/|\.map$|\.ts$/.test(entry));
  assert.deepEqual(devOnly, [], 'no fixtures, sources, tests or source maps');
  assert.ok(fs.existsSync(path.join(installedDir(), 'package.json')), 'code-server unpacked it');
});

test('the walkthrough opens the bundled sample and Inspect Selection draws its heatmap', async () => {
  const { page } = panel;
  const walkthrough = manifest.contributes.walkthroughs[0];
  await openWalkthrough(walkthrough.title);
  await panel.screenshot('walkthrough');
  await page.getByRole('button', { name: 'Open Sample' }).click();
  await page.locator('.tab.active', { hasText: 'sample.py' }).waitFor({ state: 'visible' });
  // The sample is the installed extension's own copy, so this is the installed extension running.
  await page.locator('.breadcrumbs-control', { hasText: path.basename(installedDir()) }).waitFor({ state: 'visible' });

  const runId = await inspectWith(page, 'DiffTransformer: Inspect Selection', DEFAULT_MODEL);
  const { view } = await drawnMap(page, '#heatmap', runId);
  assert.equal(view, 'diff', 'a DIFF model opens on the signed differential map');
  await panel.screenshot('inspected');

  // Nothing was selected: the whole sample, one canvas pixel per cell: a (query, key) pair of its
  // tokens, or a pooled block of them where the panel's map has fewer device pixels than the sample
  // has tokens (the walkthrough beside it leaves the panel short).
  const engine = await Engine.load(path.join(modelsFolder, DEFAULT_MODEL), 'cpu');
  const T = (await engine.inspect(fs.readFileSync(path.join(installedDir(), 'media', 'walkthrough', 'sample.py'), 'utf8'))).tokens.length;
  const { width, height, data } = await webviewFrame(page)
    .locator(ofRun('#heatmap', runId))
    .evaluate((c) => {
      const canvas = c as unknown as { width: number; height: number; dataset: Record<string, string> };
      return { width: canvas.width, height: canvas.height, data: { ...canvas.dataset } };
    });
  const [firstRow, endRow, firstKey, endKey, rows, cols] = ['firstRow', 'endRow', 'firstKey', 'endKey', 'rows', 'cols'].map((key) => Number(data[key]));
  assert.deepEqual([firstRow, endRow, firstKey, endKey], [0, T, 0, T], 'the whole sample');
  assert.deepEqual([width, height], [cols, rows], 'one canvas pixel per cell');
  assert.ok(rows === cols && rows > 0 && rows <= T, `${rows} x ${cols} cells for ${T} tokens`);

  // The walkthrough counts the steps done: the sample opened, an inspection run, the panel shown.
  await openWalkthrough(walkthrough.title);
  for (const step of ['openSample', 'inspect', 'panel']) {
    await page.locator(`.getting-started-step[data-step-id="${manifest.publisher}.${manifest.name}#${walkthrough.id}#${step}"][aria-checked="true"]`).waitFor({ state: 'attached' });
  }
  await panel.screenshot('walkthrough-done');
});
