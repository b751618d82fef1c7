// Which model package folder to run, from the `difftransformer.modelPath` setting's values, and
// what a folder named there holds. In Restricted Mode a path from workspace settings is ignored: a
// workspace must not make the extension load and run files it ships.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CHECKPOINT_WEIGHT_FILES } from './import/safetensors';

/** The bundled packages (folders of models/) run when the settings name none. */
export const DEFAULT_MODEL = 'code-diff';
export const DEFAULT_BASELINE = 'code-baseline';

export interface SettingValues {
  globalValue?: string;
  workspaceValue?: string;
  workspaceFolderValue?: string;
}

/** The package folder the settings choose, and a workspace value they ignored. */
export interface ChosenModelPath {
  dir: string;
  /** A workspace value that was set but not used because the workspace is not trusted. */
  ignoredWorkspaceValue?: string;
}

export function chooseModelPath(values: SettingValues, workspaceTrusted: boolean, bundledDefault: string): ChosenModelPath {
  const workspaceValue = values.workspaceFolderValue || values.workspaceValue;
  if (workspaceValue && workspaceTrusted) return { dir: workspaceValue };
  const dir = values.globalValue || bundledDefault;
  return workspaceValue ? { dir, ignoredWorkspaceValue: workspaceValue } : { dir };
}

/** The baseline a model is compared with when `difftransformer.baselineModelPath` is empty: the
 *  package's matched pair beside it (NAME-diff -> NAME-baseline), else the bundled baseline. */
export function matchedBaseline(modelDir: string, bundledBaseline: string, isPackage: (dir: string) => boolean): string {
  const match = /^(.*)-diff([\\/]*)$/.exec(modelDir);
  const sibling = match ? `${match[1]}-baseline` : undefined;
  return sibling && isPackage(sibling) ? sibling : bundledBaseline;
}

/** What a folder a path setting names holds: a model package; a Hugging Face checkpoint (its
 *  config.json and safetensors weights), which runs once imported; nothing (no such folder); or
 *  something else. */
export type ModelFolderKind = 'package' | 'checkpoint' | 'missing' | 'other';

export function modelFolderKind(dir: string): ModelFolderKind {
  if (!existsSync(dir)) return 'missing';
  if (existsSync(path.join(dir, 'manifest.json'))) return 'package';
  const hasWeights = CHECKPOINT_WEIGHT_FILES.some((file) => existsSync(path.join(dir, file)));
  return hasWeights && existsSync(path.join(dir, 'config.json')) ? 'checkpoint' : 'other';
}

/** Why the folder that `setting` names cannot run, in words that say what to do; undefined for a
 *  package (whose own checks run when it loads). */
export function modelFolderProblem(dir: string, setting: string): string | undefined {
  switch (modelFolderKind(dir)) {
    case 'package':
      return undefined;
    case 'checkpoint':
      return `${setting} names ${dir}, a Hugging Face checkpoint, not a model package: import it with "DiffTransformer: Import Model…" to run it.`;
    case 'missing':
      return `${setting} names ${dir}, which does not exist: choose a model with "DiffTransformer: Select Model…".`;
    case 'other':
      return `${setting} names ${dir}, which is not a model package (no manifest.json): choose one with "DiffTransformer: Select Model…", or import a Hugging Face checkpoint.`;
  }
}
