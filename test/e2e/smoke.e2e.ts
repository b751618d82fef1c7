// Browser smoke test: the extension starts in a real VS Code and its panel's webview appears.
import { after, before, test } from 'node:test';
import { runCommand, startSession, webviewFrame, type Session } from './harness';

let session: Session;
before(async () => {
  session = await startSession('smoke');
});
after(async () => {
  await session?.close();
});

test('Show Panel opens the inspector webview', async () => {
  await runCommand(session.page, 'DiffTransformer: Show Panel');
  // The inspector's own page: its empty panel asks for a selection to inspect.
  await webviewFrame(session.page).locator('#source', { hasText: 'Inspect Selection' }).waitFor();
  await session.screenshot('show-panel');
});
