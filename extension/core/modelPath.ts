// Which model package folder to run, from the `difftransformer.modelPath` setting's values.
// In Restricted Mode a path from workspace settings is ignored: a workspace must not make the
// extension load and run files it ships.

export interface SettingValues {
  globalValue?: string;
  workspaceValue?: string;
  workspaceFolderValue?: string;
}

export interface ModelChoice {
  dir: string;
  /** A workspace value that was set but not used because the workspace is not trusted. */
  ignoredWorkspaceValue?: string;
}

export function chooseModelPath(values: SettingValues, workspaceTrusted: boolean, bundledDefault: string): ModelChoice {
  const workspaceValue = values.workspaceFolderValue || values.workspaceValue;
  if (workspaceValue && workspaceTrusted) return { dir: workspaceValue };
  const dir = values.globalValue || bundledDefault;
  return workspaceValue ? { dir, ignoredWorkspaceValue: workspaceValue } : { dir };
}
