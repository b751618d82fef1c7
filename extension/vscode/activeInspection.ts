// The inspection the panel, the editor highlights and the hover show: which text of which
// document was run, and what the model (and, when comparing, the baseline) returned.

import * as vscode from 'vscode';
import type { TokenInfo } from '../../shared/inspection';
import type { GeneratedTokenNote, Pane } from '../../shared/protocol';
import type { EngineInfo, InspectionResult } from '../core/engine';
import { visibleRange } from './visibleRange';

export interface ActiveInspection {
  runId: number;
  uri: vscode.Uri;
  version: number;
  /** Document offset of the inspected text's first character. */
  baseOffset: number;
  range: vscode.Range;
  result: InspectionResult;
  model: EngineInfo;
  /** The baseline's run on the same text (Compare with Baseline). */
  comparison?: { result: InspectionResult; model: EngineInfo };
  /** Its generated tokens, when the document is a Continue Text one (generatedTexts.ts). */
  generated: GeneratedTokenNote[];
}

/** The tokens of a pane's run (offsets in the inspected text). */
export function tokensOf(inspection: ActiveInspection, pane: Pane): TokenInfo[] {
  return pane === 'compare' && inspection.comparison ? inspection.comparison.result.tokens : inspection.result.tokens;
}

/** Document range of tokens [first, end) of a pane's run, as the user sees it (see visibleRange).
 *  Tokens that start with a byte fragment (the rest of a character split into bytes, such as a CJK
 *  character's: an empty offset range after the token holding it) start at that character, as the
 *  span's text and the hover over that character show them. */
export function tokenRange(inspection: ActiveInspection, document: vscode.TextDocument, first: number, end: number, pane: Pane = 'main'): vscode.Range {
  const tokens = tokensOf(inspection, pane);
  const base = inspection.baseOffset;
  const { start } = tokens[first];
  const startsMidCharacter = start === tokens[first].end && start > 0;
  return visibleRange(document, base + start - (startsMidCharacter ? 1 : 0), base + tokens[end - 1].end);
}

/** Whether `document` is the inspected one, unchanged since the run (its offsets still hold). */
export function isInspected(inspection: ActiveInspection | undefined, document: vscode.TextDocument): inspection is ActiveInspection {
  return inspection !== undefined && sameFile(document.uri, inspection.uri) && document.version === inspection.version;
}

/** Schemes whose documents are files: one file can reach the host under two URIs that differ in
 *  the authority only (a remote window's, and the one a link such as `npm start`'s opened it with). */
const FILE_SCHEMES = new Set(['file', 'vscode-remote']);

/** Whether two URIs name the same document: files by their path, anything else by the whole URI. */
export function sameFile(a: vscode.Uri, b: vscode.Uri): boolean {
  if (FILE_SCHEMES.has(a.scheme) && FILE_SCHEMES.has(b.scheme)) return a.fsPath === b.fsPath;
  return a.toString() === b.toString();
}
