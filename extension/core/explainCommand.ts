// The command line's explain: the contributions to one prediction (shared/explain.ts) of a file's
// text, as JSON or as a short table of the largest parts.

import type { Explanation } from '../../shared/explain';
import type { Engine } from './engine';

export const EXPLAIN_HELP = [
  'usage: cli.js explain FILE [options]',
  "Runs the text in FILE and prints the direct contribution of the embedding, every head and every MLP to one token's logit",
  "at the query (the final norm's scale held at its value there); a DIFF head's part is split into A1·V (a1) and -λ·A2·V (a2).",
  '  --package DIR        the model package (default: models/tiny-diff)',
  '  --query N            the query token, BOS = 0 (default: the last token)',
  "  --target TOKEN       the token whose logit is explained: its text or #ID (default: the model's top prediction)",
  "  --versus TOKEN       explain the target's logit minus this token's",
  '  --top N              parts listed, largest first (default: 5; --json prints them all)',
  '  --json               print the explanation as JSON: target, logit, parts (component, total, a1, a2)',
  'example: node out/extension/core/cli.js explain src/app.ts --package models/code-diff --target "return" --json',
].join('\n');

export interface ExplainArguments {
  query?: string;
  target?: string;
  versus?: string;
  top: number;
  json: boolean;
}

/** Explains the text's prediction at the query; returns the lines to print. */
export async function explainCommand(engine: Engine, text: string, args: ExplainArguments): Promise<string> {
  const result = await engine.inspect(text);
  const query = args.query === undefined ? result.tokens.length - 1 : Number(args.query);
  const token = (value: string | undefined) => (value === undefined ? undefined : engine.tokenId(value));
  const explanation = await engine.explain(query, { target: token(args.target), versus: token(args.versus) });
  return args.json ? JSON.stringify(explanation, null, 2) : table(explanation, result.tokens[query].text, args.top);
}

function table(e: Explanation, queryText: string, top: number): string {
  const versus = e.versus ? ` - ${JSON.stringify(e.versus.text)} (#${e.versus.id})` : '';
  const largest = [...e.parts].sort((a, b) => Math.abs(b.total) - Math.abs(a.total)).slice(0, top);
  const number = (value: number | undefined) => (value === undefined ? '' : value.toFixed(4)).padStart(10);
  return [
    `query token ${e.query} ${JSON.stringify(queryText)}: logit of ${JSON.stringify(e.target.text)} (#${e.target.id})${versus} = ${e.logit.toFixed(4)}`,
    `final norm's scale held at ${e.finalScale.toFixed(4)}; the ${e.parts.length} parts add up to the logit`,
    `${'component'.padEnd(12)}${'total'.padStart(10)}${'a1'.padStart(10)}${'a2'.padStart(10)}`,
    ...largest.map((part) => `${part.component.padEnd(12)}${number(part.total)}${number(part.a1)}${number(part.a2)}`),
  ].join('\n');
}
