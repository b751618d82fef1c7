// The model packages Select Model… offers: the bundled ones and those Import Model… wrote into the
// extension's global storage, each described from its config.json (kind, variant, the format it
// was imported from, parameters) without loading it; loading validates it when it is chosen.

import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';

/** What the list shows of a package's config.json (docs/model-package.md, docs/import.md). */
const summarySchema = z.object({
  name: z.string(),
  kind: z.string(),
  variant: z.string(),
  pairing: z.string().nullable().optional(),
  parameters: z.number(),
  source: z.object({ format: z.string(), model_type: z.string().optional(), folder: z.string().optional() }).optional(),
  /** A test fixture's note starts "untrained: random weights…" (model/export.py). */
  training: z.object({ note: z.string().optional() }).passthrough().optional(),
});

export interface PackageSummary {
  dir: string;
  name: string;
  /** One line: kind and variant, head pairing, the model type (or format) imported from, parameter count. */
  description: string;
  /** Random weights, never trained: a test fixture, which says nothing about attention. */
  untrained: boolean;
}

/** The packages in `parent`'s subfolders (those with a manifest.json), by name; a folder whose
 *  config.json cannot be read is described by the reason. */
export async function listPackages(parent: string): Promise<PackageSummary[]> {
  const entries = await readdir(parent, { withFileTypes: true }).catch(() => []);
  const dirs = entries
    .filter((entry) => entry.isDirectory() && existsSync(path.join(parent, entry.name, 'manifest.json')))
    .map((entry) => path.join(parent, entry.name))
    .sort();
  return Promise.all(dirs.map(summarise));
}

async function summarise(dir: string): Promise<PackageSummary> {
  const file = path.join(dir, 'config.json');
  try {
    const config = summarySchema.parse(JSON.parse(await readFile(file, 'utf8')));
    const kind = config.kind === 'diff' ? `DIFF ${config.variant.toUpperCase()}` : 'standard attention';
    const parts = [kind];
    if (config.pairing === 'halves') parts.push('DiffLlama pairing');
    if (config.source) {
      // The model type says more than the format it was read as (a Mistral is read as llama), except
      // for the official modules' diff_transformer, whose format names the version.
      const { format, model_type: modelType } = config.source;
      parts.push(`from ${modelType && modelType !== 'diff_transformer' ? modelType : format}`);
    }
    parts.push(`${formatCount(config.parameters)} parameters`);
    const untrained = config.training?.note?.startsWith('untrained') ?? false;
    if (untrained) parts.unshift('test fixture: untrained, random weights');
    return { dir, name: config.name, description: parts.join(' · '), untrained };
  } catch (err) {
    return { dir, name: path.basename(dir), description: `${file} cannot be read: ${(err as Error).message.split('\n')[0]}`, untrained: false };
  }
}

/** 6.8M, 1.2B, 950K. */
export function formatCount(count: number): string {
  for (const [size, unit] of [[1e9, 'B'], [1e6, 'M'], [1e3, 'K']] as const) {
    if (count >= size) return `${(count / size).toFixed(count >= 10 * size ? 0 : 1)}${unit}`;
  }
  return String(count);
}

/** `parent/name`, or `parent/name-2`, `-3`, … when taken (a package folder is never overwritten). */
export function unusedFolder(parent: string, name: string): string {
  let candidate = path.join(parent, name);
  for (let n = 2; existsSync(candidate); n++) candidate = path.join(parent, `${name}-${n}`);
  return candidate;
}
