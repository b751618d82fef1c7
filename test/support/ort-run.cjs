// Runs a model.onnx with ONNX Runtime (CPU) on token sequences, for the Python parity tests.
// Usage: node ort-run.cjs MODEL.onnx REQUEST.json RESPONSE.json
//   REQUEST:  {"sequences": [[id, ...], ...]}   (each run alone, batch 1)
//   RESPONSE: {"runs": [{name: {"dims": [...], "dtype": "float32"|"int64", "base64": "..."}}]}
const fs = require('node:fs');
const path = require('node:path');
const ort = require('onnxruntime-node');

async function main() {
  const [modelPath, requestPath, responsePath] = process.argv.slice(2);
  const { sequences } = JSON.parse(fs.readFileSync(requestPath, 'utf8'));
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'] });
  // A package's intervention inputs (config.json beside the graph), each fed the value that changes nothing.
  const configPath = path.join(path.dirname(modelPath), 'config.json');
  const config = fs.existsSync(configPath) ? JSON.parse(fs.readFileSync(configPath, 'utf8')) : {};
  const plain = Object.fromEntries(
    Object.entries(config.intervention_inputs ?? {}).map(([name, value]) => [
      name,
      new ort.Tensor('float32', new Float32Array(config.n_layer * config.n_head).fill(value), [config.n_layer, config.n_head]),
    ]),
  );
  const runs = [];
  for (const ids of sequences) {
    const input = new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
    const outputs = await session.run({ input_ids: input, ...plain });
    const run = {};
    for (const [name, tensor] of Object.entries(outputs)) {
      const data = tensor.data;
      run[name] = {
        dims: tensor.dims,
        dtype: tensor.type,
        base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
      };
    }
    runs.push(run);
  }
  fs.writeFileSync(responsePath, JSON.stringify({ runs }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
