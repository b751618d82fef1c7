// The inspection the panel, the editor highlights and the hover show: which text of which
// document was run, and what the model (and, when comparing, the baseline) returned.

import * as vscode from 'vscode';
import type { TokenInfo } from '../../shared/inspection';
import type { Pane } from '../../shared/protocol';
import type { EngineInfo, InspectionResult } from '../core/engine';

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
}

/** The tokens of a pane's run (offsets in the inspected text). */
export function tokensOf(inspection: ActiveInspection, pane: Pane): TokenInfo[] {
  return pane === 'compare' && inspection.comparison ? inspection.comparison.result.tokens : inspection.result.tokens;
}

/** Document range of tokens [first, end) of a pane's run. */
export function tokenRange(inspection: ActiveInspection, document: vscode.TextDocument, first: number, end: number, pane: Pane = 'main'): vscode.Range {
  const tokens = tokensOf(inspection, pane);
  const base = inspection.baseOffset;
  return new vscode.Range(document.positionAt(base + tokens[first].start), document.positionAt(base + tokens[end - 1].end));
}

/** Whether `document` is the inspected one, unchanged since the run (its offsets still hold). */
export function isInspected(inspection: ActiveInspection | undefined, document: vscode.TextDocument): inspection is ActiveInspection {
  return inspection !== undefined && document.uri.toString() === inspection.uri.toString() && document.version === inspection.version;
}
