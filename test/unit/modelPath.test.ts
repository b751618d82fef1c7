import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseModelPath, matchedBaseline } from '../../extension/core/modelPath';

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
