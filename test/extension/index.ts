// Mocha runner loaded inside the extension host by VS Code's extension-test support
// (`--extensionTestsPath` / the workbench payload): runs every compiled *.test.js next to it, or
// only those named in EXTENSION_TESTS (comma-separated, e.g. `EXTENSION_TESTS=importModel`).
/// <reference types="mocha" />
import * as fs from 'node:fs';
import * as path from 'node:path';
// mocha 12 is ESM-only; the extension host's Node (24, and Node >= 20.19) loads it through require(esm).
import Mocha from 'mocha';

export async function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 60_000 });
  const only = process.env.EXTENSION_TESTS?.split(',').map((name) => `${name.trim()}.test.js`);
  const testFiles = fs
    .readdirSync(__dirname)
    .filter((name) => name.endsWith('.test.js') && (!only || only.includes(name)))
    .sort();
  if (testFiles.length === 0) throw new Error(`no extension test matches EXTENSION_TESTS=${process.env.EXTENSION_TESTS}`);
  for (const name of testFiles) mocha.addFile(path.join(__dirname, name));
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(`${failures} extension test(s) failed`);
}
