// Builds every bundle with esbuild: the extension host, the inference engine process, the CLI
// (Node, CommonJS) and the webview (browser). `--watch` rebuilds on change; `--production` minifies;
// `--outdir DIR` writes elsewhere than dist/ (scripts/package.sh stages a VSIX without touching dist/).
import * as esbuild from 'esbuild';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');
const outdirFlag = process.argv.indexOf('--outdir');
const outdir = outdirFlag >= 0 ? process.argv[outdirFlag + 1] : 'dist';

const common = { bundle: true, sourcemap: !production, minify: production, logLevel: 'info' };
const node = {
  ...common,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // vscode is provided by the host; onnxruntime-node loads per-platform .node files esbuild cannot bundle.
  external: ['vscode', 'onnxruntime-node'],
};
const builds = [
  { ...node, entryPoints: { extension: 'extension/vscode/extension.ts' }, outdir },
  { ...node, entryPoints: { engineWorker: 'extension/core/engineWorker.ts', statisticsWorker: 'extension/core/statisticsWorker.ts', importWorker: 'extension/core/importWorker.ts', cli: 'extension/core/cli.ts' }, outdir },
  { ...common, platform: 'browser', format: 'iife', target: 'es2022', entryPoints: { webview: 'webview/main.ts' }, outdir },
];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
