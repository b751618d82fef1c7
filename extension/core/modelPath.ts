// Which model package folder to run, from the `difftransformer.modelPath` setting's values.
// In Restricted Mode a path from workspace settings is ignored: a workspace must not make the
// extension load and run files it ships.

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
