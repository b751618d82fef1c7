// Continue Text: tokens generated after the selection (or, without one, the text before the cursor)
// into a read-only document holding prompt + generation, beside the source, which is then inspected
// as any document is. The generated tokens are marked in the editor and carry a note on why each
// was chosen (generatedTexts.ts); Next/Previous Generated Token move the panel's locked query
// through them, so that the maps and key spans follow each step.

import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GenerateOptions, Generation, GenerationMode } from '../core/generate';
import type { ModelEngines } from './engines';
import { GENERATED_SCHEME, type GeneratedTexts } from './generatedTexts';
import type { InspectionRunner } from './inspections';
import type { ModelJobs } from './modelJobs';
import type { PanelSession } from './panelSession';
import { ScratchDocuments } from './scratchDocuments';

const TITLE = 'DiffTransformer: Continue Text';
export const DEFAULT_GENERATED_TOKENS = 32;

/** What the command is given (the input boxes ask for what is missing: tokens, mode, a sample's seed). */
export type ContinueTextOptions = Partial<GenerateOptions>;

export interface GeneratedRun {
  document: vscode.TextDocument;
  generation: Generation;
}

export class ContinueTextFlow implements vscode.Disposable {
  private readonly documents = new ScratchDocuments(GENERATED_SCHEME, 'Continue Text');
  private lastRun: GeneratedRun | undefined;

  constructor(
    private readonly engines: ModelEngines,
    private readonly jobs: ModelJobs,
    private readonly session: PanelSession,
    private readonly inspections: InspectionRunner,
    private readonly generatedTexts: GeneratedTexts,
  ) {}

  get last(): GeneratedRun | undefined {
    return this.lastRun;
  }

  /** Generates, opens the generated document beside the source, inspects it and locks the query on
   *  the first generated token. A cancelled run still shows the tokens made before the cancel. */
  async run(editor: vscode.TextEditor, given: ContinueTextOptions = {}): Promise<void> {
    const source = editor.document;
    const prompt = source.getText(editor.selection.isEmpty ? new vscode.Range(new vscode.Position(0, 0), editor.selection.active) : editor.selection);
    if (this.jobs.refuses(prompt)) return;
    const options = await askOptions(given);
    if (!options) return;
    let generation: Generation | undefined;
    await this.jobs.run(TITLE, `Generating ${options.tokens} tokens after ${path.basename(source.fileName)}…`, async (progress, signal, superseded) => {
      progress.report({ message: 'loading the model' });
      const model = await this.engines.ensureModel();
      const made = await this.engines.model.generate(prompt, options, (done) => progress.report({ message: `Generating ${done} / ${options.tokens} (${model.name})` }), signal);
      if (!superseded()) generation = made;
    });
    if (!generation) return;
    const stopped = stopMessage(generation, options.tokens);
    if (generation.tokens.length === 0) throw new Error(stopped ?? 'no token was generated');
    if (stopped) void vscode.window.showInformationMessage(`DiffTransformer: ${stopped}`);

    const document = await this.documents.open(generation.text, source);
    this.generatedTexts.add(document, generation);
    this.lastRun = { document, generation };
    // The column after the source's (as the Needle Test's scratch copy opens).
    const shown = await vscode.window.showTextDocument(document, { viewColumn: (editor.viewColumn ?? vscode.ViewColumn.One) + 1, preview: true });
    this.generatedTexts.mark(shown);
    await this.inspections.inspect(shown);
    const first = this.session.inspection?.generated[0];
    if (first) await this.lockOn(first.token);
  }

  /** Locks the panel's query on the next (or previous) generated token after the locked one, and
   *  reveals it in the editor; at either end it stays on the last (or first). */
  async step(direction: 1 | -1): Promise<void> {
    const current = this.session.inspection;
    const steps = current?.generated.map((note) => note.token) ?? [];
    if (!current || steps.length === 0) throw new Error('the panel shows no Continue Text run: run DiffTransformer: Continue Text first');
    const query = this.session.panelSelection.query;
    await this.lockOn(direction > 0 ? (steps.find((token) => token > query) ?? steps.at(-1)!) : ([...steps].reverse().find((token) => token < query) ?? steps[0]));
  }

  private async lockOn(token: number): Promise<void> {
    const { runId } = this.session.inspection!;
    await this.session.onWebviewMessage({ type: 'lockQuery', pane: 'main', runId, query: token });
    await this.session.onWebviewMessage({ type: 'reveal', pane: 'main', runId, firstToken: token, endToken: token + 1 });
  }

  dispose(): void {
    this.documents.dispose();
  }
}

/** Why a generation made fewer tokens than asked for, if it did. */
function stopMessage(generation: Generation, wanted: number): string | undefined {
  const made = `${generation.tokens.length} of ${wanted} tokens generated`;
  if (generation.stop === 'context') return `${made}: the model's context (${generation.promptIds.length + generation.tokens.length} tokens with the prompt) is full.`;
  if (generation.stop === 'cancelled') return `${made} before the cancel.`;
  return undefined;
}

/** The options given, the missing ones asked for; undefined if an input box was dismissed. */
async function askOptions(given: ContinueTextOptions): Promise<GenerateOptions | undefined> {
  const tokens = given.tokens ?? (await askWholeNumber('Tokens to generate after the selection (or the text before the cursor)', DEFAULT_GENERATED_TOKENS, 1));
  if (tokens === undefined) return undefined;
  const mode = given.mode ?? (await pickMode());
  if (mode === undefined) return undefined;
  const seed = mode === 'sample' ? (given.seed ?? (await askWholeNumber('Seed of the sampling (the same seed gives the same text)', 0, 0))) : undefined;
  if (mode === 'sample' && seed === undefined) return undefined;
  return { ...given, tokens, mode, seed };
}

async function pickMode(): Promise<GenerationMode | undefined> {
  const picked = await vscode.window.showQuickPick(
    [
      { label: 'Greedy', description: 'the most likely token at every step', mode: 'greedy' as const },
      { label: 'Sampled', description: "drawn from the model's probabilities, with a seed you set", mode: 'sample' as const },
    ],
    { title: TITLE, placeHolder: 'How to choose each token' },
  );
  return picked?.mode;
}

async function askWholeNumber(prompt: string, value: number, least: number): Promise<number | undefined> {
  const answer = await vscode.window.showInputBox({
    title: TITLE,
    prompt,
    value: String(value),
    validateInput: (text) => (/^\d+$/.test(text.trim()) && Number(text) >= least && Number(text) <= 0xffffffff ? undefined : `a whole number from ${least} to 4294967295`),
  });
  return answer === undefined ? undefined : Number(answer.trim());
}
