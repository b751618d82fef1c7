// config.json's sizes against what the safetensors headers hold, checked before anything is built or
// allocated: a config that claims more layers, heads or width than the weights have must be refused
// at once, not after the importer has tried to describe (and run out of memory describing) a model
// that is not there.

import { totalmem } from 'node:os';
import { layerTensorNames, type Architecture } from './architecture';
import { ImportError } from '../errors';
import type { CheckpointWeights } from './safetensors';

const LAYER_TENSOR = /^model\.layers\.(\d+)\./;

/** A size config.json implies, and the tensor axis that holds it. */
interface SizeClaim {
  /** The config fields it comes from, with their values. */
  fields: Array<[string, number]>;
  size: number;
  tensor: string;
  axis: number;
}

/** Throws an ImportError naming config.json, the field and what the weights hold when the config's
 *  layers, heads, head_dim, widths or vocabulary disagree with the tensors' shapes. */
export function checkAgainstWeights(arch: Architecture, checkpoint: CheckpointWeights, configPath: string): void {
  const layers = new Set<number>();
  for (const name of checkpoint.names()) {
    const match = LAYER_TENSOR.exec(name);
    if (match) layers.add(Number(match[1]));
  }
  const consecutive = [...layers].every((layer) => layer < layers.size);
  if (arch.nLayer !== layers.size || !consecutive) {
    const held = consecutive ? `layers model.layers.0 to model.layers.${layers.size - 1}` : `layers numbered ${[...layers].sort((a, b) => a - b).join(', ')}`;
    throw new ImportError(
      `${configPath}: field 'num_hidden_layers' is ${arch.nLayer}, but the weights (${checkpoint.files.join(', ')}) hold ${layers.size} ${held}; ` +
        'the config and the weights do not belong together',
    );
  }
  const layer0 = layerTensorNames(arch, 0);
  // config.json counts DIFF's heads (num_attention_heads) as differential heads for the official modules only.
  const perHead = arch.format === 'diff-v1' || arch.format === 'diff-v2' ? 2 : 1;
  const headDim: [string, number] = [arch.format === 'diff-v1' ? 'hidden_size / (2 * num_attention_heads)' : 'head_dim', arch.headDim];
  const kvHeads = arch.format === 'diff-v1' ? arch.kvSoftmaxHeads / 2 : arch.kvSoftmaxHeads;
  const claims: SizeClaim[] = [
    { fields: [['vocab_size', arch.vocabSize]], size: arch.vocabSize, tensor: 'model.embed_tokens.weight', axis: 0 },
    { fields: [['hidden_size', arch.hidden]], size: arch.hidden, tensor: 'model.embed_tokens.weight', axis: 1 },
    { fields: [['intermediate_size', arch.intermediate]], size: arch.intermediate, tensor: `${layer0.gate}.weight`, axis: 0 },
    { fields: [['num_attention_heads', arch.softmaxHeads / perHead], headDim], size: arch.softmaxHeads * arch.headDim, tensor: `${layer0.q}.weight`, axis: 0 },
    { fields: [['num_key_value_heads', kvHeads], headDim], size: arch.kvSoftmaxHeads * arch.headDim, tensor: `${layer0.k}.weight`, axis: 0 },
  ];
  if (arch.lambda === 'layer') claims.push({ fields: [headDim], size: arch.headDim, tensor: layer0.lambdaVectors[0], axis: 0 });
  if (arch.lambda === 'token') claims.push({ fields: [['num_attention_heads', arch.heads]], size: arch.heads, tensor: layer0.lambdaProj, axis: 0 });
  for (const claim of claims) {
    const entry = checkpoint.entry(claim.tensor);
    const held = entry.shape[claim.axis];
    if (held === claim.size) continue;
    const [[field, value], ...others] = claim.fields;
    const stated = others.length
      ? `fields ${claim.fields.map(([f, v]) => `'${f}' (${v})`).join(' and ')} give ${claim.size}`
      : `field '${field}' is ${value}`;
    throw new ImportError(
      `${configPath}: ${stated}, but the weights hold ${held ?? 'no such axis'}: tensor '${claim.tensor}' in ${entry.file} has shape [${entry.shape.join(', ')}]; ` +
        'the config and the weights do not belong together',
    );
  }
}

/** Throws an ImportError when this machine's memory cannot hold the package's weights (bytes as
 *  stored in weights.bin): a run keeps all of them in memory, and the import one tensor at a time. */
export function checkMemory(weightBytes: number, configPath: string): void {
  const machineBytes = totalmem();
  if (weightBytes <= machineBytes) return;
  const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
  throw new ImportError(
    `${configPath}: the model's weights take ${gib(weightBytes)}, more than this machine's ${gib(machineBytes)} of memory, ` +
      'and a run holds all of them in memory; import it on a machine with more memory',
  );
}
