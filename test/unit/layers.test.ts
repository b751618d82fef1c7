// The layers stay one-way, webview -> shared <- extension/core <- extension/vscode: shared/ imports
// only itself and packages, neither it nor extension/core imports `vscode`, and the webview reaches
// the extension only through shared/. Read from the sources, so a wrong import fails here.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const REPO = path.resolve(__dirname, '..', '..', '..');

/** An import or re-export in a .ts file. */
interface Import {
  file: string;
  /** The repo-relative path of a relative import, else the package name. */
  target: string;
  local: boolean;
}

/** `import … from 'x'`, `export … from 'x'` and `import 'x'` at the start of a line. */
const IMPORT = /^(?:import|export)\b[^;'"]*?\bfrom\s*'([^']+)'|^import\s*'([^']+)'/gm;

function importsOf(folder: string): Import[] {
  const dir = path.join(REPO, folder);
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.ts'))
    .flatMap((name) => {
      const file = path.join(dir, name);
      return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((match) => {
        const specifier = match[1] ?? match[2];
        const local = specifier.startsWith('.');
        const target = local ? path.relative(REPO, path.resolve(path.dirname(file), specifier)) : specifier;
        return { file: path.relative(REPO, file), target, local };
      });
    });
}

/** The imports of `folder` that `allowed` refuses, as readable lines. */
function offending(folder: string, allowed: (i: Import) => boolean): string[] {
  return importsOf(folder)
    .filter((i) => !allowed(i))
    .map(({ file, target }) => `${file} imports ${target}`);
}

/** A local import of a module inside `folder`. */
const into = ({ target, local }: Import, folder: string) => local && target.startsWith(path.join(folder) + path.sep);

test('the import graph finds the imports it checks', () => {
  assert.ok(importsOf('webview').some(({ target }) => target === path.join('shared', 'protocol')));
  assert.ok(importsOf('extension/vscode').some(({ target }) => target === 'vscode'));
});

test('shared/ imports only shared/ and packages other than vscode', () => {
  assert.deepEqual(offending('shared', (i) => (i.local ? into(i, 'shared') : i.target !== 'vscode')), []);
});

test('extension/core imports neither vscode nor extension/vscode nor the webview', () => {
  assert.deepEqual(offending('extension/core', (i) => i.target !== 'vscode' && !into(i, 'extension/vscode') && !into(i, 'webview')), []);
});

test('the webview imports only itself, shared/ and packages other than vscode', () => {
  assert.deepEqual(offending('webview', (i) => (i.local ? into(i, 'webview') || into(i, 'shared') : i.target !== 'vscode')), []);
});

test('extension/vscode does not import the webview', () => {
  assert.deepEqual(offending('extension/vscode', (i) => !into(i, 'webview')), []);
});
