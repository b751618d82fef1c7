// Browser smoke test: the extension starts in a real VS Code and its panel's webview appears.
import { test } from 'node:test';
import { panelFixture, runCommand } from './harness';

const panel = panelFixture('smoke');

test('Show Panel opens the inspector webview', async () => {
  await runCommand(panel.page, 'DiffTransformer: Show Panel');
  // The inspector's own page: its empty panel asks for a selection to inspect.
  await panel.frame.locator('#source', { hasText: 'Inspect Selection' }).waitFor();
  await panel.screenshot('show-panel');
});
