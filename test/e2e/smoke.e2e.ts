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
  await webviewFrame(session.page).locator('body').waitFor({ state: 'attached', timeout: 30_000 });
  await session.screenshot('show-panel');
});
