// Import Model inside the extension host: random-weight checkpoints written by `python -m model
// hf-checkpoint` are imported through the command (its folder and options passed as arguments, as
// the explorer's context menu passes the folder), listed by Select Model, and inspected (a DIFF V2
// model's λ per token in the What-if maps and the hover); the conversion runs in a worker thread,
// and cancelling it or a folder that is not a model leaves nothing behind; weights holding NaN are
// refused unless allowed (the question a refused import asks), then imported with their warning.
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
import { plantNonFinite } from '../support/safetensors';
import { assertClose } from '../support/tolerance';
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
    for (const file of ['model.onnx', 'lens.onnx', 'contributions.onnx', 'weights.bin', 'tokenizer.json', 'config.json', 'manifest.json']) {
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

  test('a DIFF V2 model: each What-if map carries its run’s λ per query row, and the hover names a token’s λ', async () => {
    const inspector = await api();
    const inspection = inspector.lastInspection();
    const lambda = inspection?.result.lambdaByToken;
    assert.ok(inspection && lambda, 'the DIFF V2 run of the test before');
    const { model, result, runId } = inspection;
    const T = result.tokens.length;
    /** The engine's λ of query `token` in `layer` and `head` (lambdaByToken is [L, T, H]). */
    const engineLambda = (layer: number, head: number, token: number) => lambda[(layer * T + token) * model.nHead + head];
    const layer = model.nLayer - 1;
    const head = model.nHead - 1;
    await inspector.panelMessage({ type: 'select', runId, layer, head });

    // λ × 0.5 in the last layer: the layers before it run as they did, so its λ is half the plain run's.
    await inspector.panelMessage({ type: 'whatIf', runId, whatIfId: 1, spec: { kind: 'lambda', layer, scale: 0.5, shift: 0 } });
    const whatIf = inspector.lastWhatIf();
    assert.ok(whatIf && whatIf.whatIfId === 1, 'the what-if was posted');
    assert.deepEqual([whatIf.layer, whatIf.head], [layer, head]);
    const plain = Float32Array.from({ length: T }, (_, token) => engineLambda(layer, head, token));
    assert.ok(whatIf.main.lambda && whatIf.whatIf.lambda, 'both maps carry λ per query row');
    assert.deepEqual(Array.from(whatIf.main.lambda), Array.from(plain), 'the plain map: the run’s λ');
    assertClose(whatIf.whatIf.lambda, plain.map((value) => 0.5 * value), 'the what-if map: half of it');

    // The hover names the λ of the hovered token's query row for the panel's layer and head.
    const editor = vscode.window.activeTextEditor!;
    const token = Math.floor(T / 2);
    const position = editor.document.positionAt(inspection.baseOffset + result.tokens[token].start);
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', editor.document.uri, position);
    const text = hovers.flatMap((hover) => hover.contents.map((c) => (typeof c === 'string' ? c : (c as vscode.MarkdownString).value))).join('\n');
    assert.match(text, new RegExp(`token ${token} `), `the hover is token ${token}'s`);
    const expected = `λ ${engineLambda(layer, head, token).toFixed(3)}** for this query token (layer ${layer}, head ${head})`;
    assert.ok(text.includes(expected), `the hover says ${expected}: ${text}`);
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

  test('weights holding NaN are refused, and imported with a warning once allowed (as Import Anyway answers)', async () => {
    const broken = path.join(work, 'nan-checkpoint');
    fs.cpSync(checkpoints.diffllama, broken, { recursive: true });
    const tensor = 'model.layers.1.mlp.up_proj.weight';
    await plantNonFinite(broken, tensor, [0, 5], [7]);
    const parent = path.join(work, 'non-finite');
    assert.equal(await importFolder(broken, { destination: parent, use: 'none', allowNonFinite: false }), undefined, 'refused');
    assert.deepEqual(fs.readdirSync(parent), [], 'nothing written');
    const result = await importFolder(broken, { destination: parent, use: 'none', allowNonFinite: true });
    assert.ok(result, 'imported once allowed');
    const config = JSON.parse(fs.readFileSync(path.join(result.dir, 'config.json'), 'utf8'));
    assert.deepEqual(config.non_finite_weights, [{ tensor, nan: 2, inf: 1 }], 'the package records what it holds, for the warning on every run');
  });
});
