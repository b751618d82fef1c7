import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseModelPath } from '../../extension/core/modelPath';

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
