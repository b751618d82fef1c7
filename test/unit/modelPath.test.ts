import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { chooseModelPath, DEFAULT_MODEL, matchedBaseline, modelFolderKind, modelFolderProblem } from '../../extension/core/modelPath';

const BUNDLED = '/ext/models/tiny-diff';

test('a workspace model path is used only in a trusted workspace', () => {
  assert.deepEqual(chooseModelPath({ workspaceValue: '/w/model' }, true, BUNDLED), { dir: '/w/model' });
  assert.deepEqual(chooseModelPath({ workspaceValue: '/w/model' }, false, BUNDLED), { dir: BUNDLED, ignoredWorkspaceValue: '/w/model' });
  assert.deepEqual(chooseModelPath({ workspaceFolderValue: '/f/model', globalValue: '/g/model' }, false, BUNDLED), {
    dir: '/g/model',
    ignoredWorkspaceValue: '/f/model',
  });
});

test('user settings and the bundled default', () => {
  assert.deepEqual(chooseModelPath({ globalValue: '/g/model' }, false, BUNDLED), { dir: '/g/model' });
  assert.deepEqual(chooseModelPath({}, true, BUNDLED), { dir: BUNDLED });
  assert.deepEqual(chooseModelPath({ globalValue: '' }, true, BUNDLED), { dir: BUNDLED });
});

test('the baseline of a model is its matched sibling package, else the bundled one', () => {
  const packages = new Set(['/m/code-baseline', '/ext/models/code-baseline']);
  const isPackage = (dir: string) => packages.has(dir);
  assert.equal(matchedBaseline('/m/code-diff', '/ext/models/code-baseline', isPackage), '/m/code-baseline');
  assert.equal(matchedBaseline('/m/code-diff/', '/ext/models/code-baseline', isPackage), '/m/code-baseline');
  assert.equal(matchedBaseline('/m/other-diff', '/ext/models/code-baseline', isPackage), '/ext/models/code-baseline', 'no sibling package');
  assert.equal(matchedBaseline('/m/mymodel', '/ext/models/code-baseline', isPackage), '/ext/models/code-baseline', 'not a NAME-diff folder');
});

test('a model path names a package, a Hugging Face checkpoint to import, nothing, or something else', () => {
  const work = mkdtempSync(path.join(tmpdir(), 'model-folder-'));
  try {
    const folder = (name: string, files: string[]) => {
      const dir = path.join(work, name);
      mkdirSync(dir);
      for (const file of files) writeFileSync(path.join(dir, file), '{}');
      return dir;
    };
    const bundled = path.resolve(__dirname, '..', '..', '..', 'models', DEFAULT_MODEL);
    const checkpoint = folder('checkpoint', ['config.json', 'model.safetensors', 'tokenizer.json']);
    const sharded = folder('sharded', ['config.json', 'model.safetensors.index.json']);
    const notes = folder('notes', ['notes.txt']);
    const weightsOnly = folder('weights-only', ['model.safetensors']);
    assert.equal(modelFolderKind(bundled), 'package');
    assert.equal(modelFolderKind(checkpoint), 'checkpoint');
    assert.equal(modelFolderKind(sharded), 'checkpoint', 'sharded weights listed by an index');
    assert.equal(modelFolderKind(weightsOnly), 'other', 'weights without a config.json are no checkpoint');
    assert.equal(modelFolderKind(notes), 'other');
    assert.equal(modelFolderKind(path.join(work, 'absent')), 'missing');

    assert.equal(modelFolderProblem(bundled, 'difftransformer.modelPath'), undefined, 'a package runs (its own checks come at load)');
    assert.match(modelFolderProblem(checkpoint, 'difftransformer.modelPath')!, /^difftransformer\.modelPath names .*checkpoint, a Hugging Face checkpoint, not a model package: import it with "DiffTransformer: Import Model…"/);
    assert.match(modelFolderProblem(path.join(work, 'absent'), 'difftransformer.baselineModelPath')!, /^difftransformer\.baselineModelPath names .*absent, which does not exist/);
    assert.match(modelFolderProblem(notes, 'difftransformer.modelPath')!, /notes, which is not a model package \(no manifest\.json\)/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
