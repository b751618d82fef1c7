// Import Model inside the extension host: random-weight checkpoints written by `python -m model
// hf-checkpoint` are imported through the command (its folder and options passed as arguments, as
// the explorer's context menu passes the folder), listed by Select Model, and inspected; the
// conversion runs in a worker thread, and cancelling it or a folder that is not a model leaves
// nothing behind.
/// <reference types="mocha" />
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as vscode from 'vscode';
import type { ImportResult } from '../../extension/core/import/importModel';
import type { ImportCommandOptions } from '../../extension/vscode/importModel';
import { api, EXTENSION_ID, inspectSelection, openSample, select } from './helpers';

const run = promisify(execFile);

/** Runs Import Model on `folder` with the command's options (no dialogs). */
async function importFolder(folder: string, options: ImportCommandOptions): Promise<ImportResult | undefined> {
  return vscode.commands.executeCommand<ImportResult | undefined>('difftransformer.importModel', vscode.Uri.file(folder), options);
}

async function configure(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('difftransformer').update(key, value, vscode.ConfigurationTarget.Global);
}

/** Inspects the sample's first function with the configured model. */
async function inspectSample(command = 'inspectSelection') {
  const editor = await openSample('sample.py');
  select(editor, '# A comment', 'list[int]:');
  return inspectSelection(editor, command);
}

suite('Import Model', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'import-model-test-'));
  /** Packages the tests wrote into the extension's storage, removed afterwards. */
  const imported: string[] = [];
  const checkpoints: Record<string, string> = {};

  /** Writes a random-weight checkpoint in `format` (docs/import.md) into the work folder. */
  async function checkpoint(format: string, ...options: string[]): Promise<string> {
    const out = path.join(work, `${format}${options.join('')}`);
    const repo = vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
    await run(path.join(repo, 'scripts', 'python.sh'), ['-m', 'model', 'hf-checkpoint', '--format', format, '--out', out, ...options], { cwd: repo });
    return out;
  }

  suiteSetup(async function () {
    this.timeout(180_000);
    for (const format of ['diffllama', 'llama', 'diff-v2']) checkpoints[format] = await checkpoint(format);
  });

  suiteTeardown(async () => {
    await configure('modelPath', undefined);
    await configure('baselineModelPath', undefined);
    for (const dir of [...imported, work]) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a DiffLlama folder is imported into the extension storage, listed by Select Model, and inspected with its pairing', async () => {
    const inspector = await api();
    const result = await importFolder(checkpoints.diffllama, { destination: 'storage', use: 'model' });
    assert.ok(result, 'the import finished');
    imported.push(result.dir);
    assert.equal(result.kind, 'diff');
    for (const file of ['model.onnx', 'lens.onnx', 'weights.bin', 'tokenizer.json', 'config.json', 'manifest.json']) {
      assert.ok(fs.existsSync(path.join(result.dir, file)), `the package has ${file}`);
    }
    assert.match(result.dir, /[\\/]globalStorage[\\/].+[\\/]models[\\/]diffllama(-\d+)?$/, 'in the extension’s global storage');

    const choices = await inspector.modelChoices();
    const listed = choices.find((choice) => choice.dir === result.dir);
    assert.ok(listed, `Select Model lists ${result.dir}: ${choices.map((c) => c.detail).join(', ')}`);
    assert.match(String(listed.description), /DIFF V1 · DiffLlama pairing · from diffllama · \d+(\.\d)?K parameters/);
    assert.ok(choices.some((choice) => choice.dir?.endsWith(`${path.sep}code-diff`)), 'next to the bundled packages');
    assert.ok(choices.some((choice) => choice.action === 'import'), 'and offers Import Model…');

    assert.equal(inspector.modelDir(), result.dir, 'used as the model');
    const inspection = await inspectSample();
    assert.equal(inspection.model.dir, result.dir);
    assert.equal(inspection.model.pairing, 'halves', 'DiffLlama pairs softmax heads h and h + H');
    assert.equal(inspection.model.sourceFormat, 'diffllama');
    assert.equal(inspection.model.lambdaGranularity, 'layer');
    assert.equal(inspection.result.lambda.length, inspection.model.nLayer, 'one λ per layer');
    assert.equal(inspection.result.lambdaByToken, null);
  });

  test('importing the same folder again writes a new folder beside the first', async () => {
    const first = imported[0];
    const again = await importFolder(checkpoints.diffllama, { destination: 'storage', use: 'none' });
    assert.ok(again);
    imported.push(again.dir);
    assert.notEqual(again.dir, first);
    assert.equal(path.dirname(again.dir), path.dirname(first));
    assert.match(path.basename(again.dir), /^diffllama-\d+$/);
    assert.ok(fs.existsSync(path.join(first, 'manifest.json')), 'the first package is untouched');
  });

  test('a Llama folder used as the comparison model puts its heads h and h + H beside DiffLlama head h', async () => {
    const inspector = await api();
    const llama = await importFolder(checkpoints.llama, { destination: path.join(work, 'packages'), use: 'baseline' });
    assert.ok(llama);
    assert.equal(llama.kind, 'baseline');
    assert.equal(path.dirname(llama.dir), path.join(work, 'packages'), 'written into the folder asked for');
    assert.equal(inspector.baselineDir(), llama.dir, 'used as the comparison model');

    const before = inspector.engineRequests().baseline.map;
    const inspection = await inspectSample('compareWithBaseline');
    const { comparison, model } = inspection;
    assert.ok(comparison, 'compared');
    assert.equal(comparison.model.sourceFormat, 'llama');
    assert.equal(comparison.model.nHead, 2 * model.nHead);
    assert.equal(inspector.engineRequests().baseline.map - before, 2, 'the baseline computed the maps of heads h and h + H');

    const head = model.nHead - 1;
    const beforeSelect = inspector.engineRequests().baseline.map;
    await inspector.panelMessage({ type: 'select', runId: inspection.runId, head });
    assert.equal(inspector.engineRequests().baseline.map - beforeSelect, 2, `head ${head}: the baseline's heads ${head} and ${head + model.nHead}`);
  });

  test('a DIFF V2 model returns λ per token and head', async () => {
    const v2 = await importFolder(checkpoints['diff-v2'], { destination: path.join(work, 'packages'), use: 'model' });
    assert.ok(v2);
    const inspection = await inspectSample();
    const { model, result } = inspection;
    assert.equal(model.lambdaGranularity, 'token');
    assert.equal(model.pairing, 'adjacent');
    assert.deepEqual(result.lambda, [], 'no one λ per layer');
    const lambda = result.lambdaByToken;
    assert.ok(lambda, 'λ per token and head');
    const T = result.tokens.length;
    assert.equal(lambda.length, model.nLayer * T * model.nHead);
    const headZero = Array.from({ length: T }, (_, t) => lambda[t * model.nHead]);
    assert.ok(new Set(headZero).size > 1, 'λ of layer 0, head 0 varies over the tokens');
    assert.ok(headZero.every((value) => value > 0 && value < 1), 'λ = sigmoid(x W_λ) lies in (0, 1)');
  });

  test('cancelling an import leaves nothing behind', async function () {
    this.timeout(180_000);
    const large = await checkpoint('diffllama', '--size', '100m', '--dtype', 'bfloat16');
    const parent = path.join(work, 'cancelled');
    const abort = new AbortController();
    const importing = importFolder(large, { destination: parent, use: 'none', signal: abort.signal });
    // Cancel once the import is writing its temporary folder.
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(parent) || !fs.readdirSync(parent).some((name) => name.includes('.partial-'))) {
      assert.ok(Date.now() < deadline, 'the import started writing');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    abort.abort();
    assert.equal(await importing, undefined, 'the command reports a cancelled import as no package');
    assert.deepEqual(fs.readdirSync(parent), [], 'no package and no temporary folder');
  });

  test('a folder that is not a model is refused with its message and nothing is written', async () => {
    const folder = path.join(work, 'not-a-model');
    fs.mkdirSync(folder);
    fs.writeFileSync(path.join(folder, 'README.md'), 'no weights here\n');
    const parent = path.join(work, 'refused');
    assert.equal(await importFolder(folder, { destination: parent, use: 'model' }), undefined);
    assert.deepEqual(fs.readdirSync(parent), [], 'nothing written');
  });
});
