// Export View: a PNG or an SVG (vector labels around the map's cells, for papers) of the panel's map
// (on the Explain tab, an SVG of its bar lists; on the Flow tab, of its graph) and, beside it, a JSON
// of what the panel shows (the model's sha256, the text's range, the settings, the selection, the
// key spans and the map as shown: its viewport and cells, the locked query's row when the map's
// cells pool it, on the Explain tab its explanation and on the Flow tab its flow graph).

import * as path from 'node:path';
import * as vscode from 'vscode';
import { viewportCells, type MapViewport } from '../../shared/inspection';
import type { Explanation } from '../../shared/explain';
import type { FlowGraph } from '../../shared/flow';
import type { ExportFormat } from '../../shared/protocol';
import type { InspectorPanel } from './panel';
import type { PanelSession } from './panelSession';
import type { InspectorSettings } from './settings';

/** How long the panel may take to load and draw its image. */
const IMAGE_TIMEOUT_MS = 10_000;

export class ViewExporter {
  constructor(
    private readonly panel: InspectorPanel,
    private readonly session: PanelSession,
    private readonly settings: InspectorSettings,
    private readonly log: vscode.LogOutputChannel,
    /** The Explain tab's explanation while the panel shows that tab. */
    private readonly shownExplanation: () => Explanation | undefined,
    /** The Flow tab's graph while the panel shows that tab. */
    private readonly shownFlow: () => FlowGraph | undefined,
  ) {}

  /** Writes the image (at `target`, else where the user picks; an SVG for a .svg name, else a PNG)
   *  and the JSON beside it. */
  async export(target?: vscode.Uri): Promise<vscode.Uri | undefined> {
    const inspection = this.session.inspection;
    const map = this.session.shown('map');
    const spans = this.session.shown('spans');
    const queryRow = this.session.shown('queryRow');
    if (!inspection || !map || !spans) {
      void vscode.window.showWarningMessage('DiffTransformer: nothing to export yet; run Inspect Selection and wait for its map.');
      return undefined;
    }
    target ??= await vscode.window.showSaveDialog({
      defaultUri: vscode.Uri.joinPath(vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(path.dirname(inspection.uri.fsPath)), 'difftransformer-view.png'),
      filters: { 'PNG image (a JSON file is written beside it)': ['png'], 'SVG image, vector labels (a JSON file is written beside it)': ['svg'] },
    });
    if (!target) return undefined;
    const format: ExportFormat = target.path.endsWith('.svg') ? 'svg' : 'png';
    const image = await this.panel.requestImage(IMAGE_TIMEOUT_MS, format);
    const { model, result, range, uri } = inspection;
    const explanation = this.shownExplanation();
    const flow = this.shownFlow();
    const record = {
      model: { name: model.name, kind: model.kind, sha256: model.sha256, provider: model.provider },
      source: { file: uri.fsPath, range: { start: { line: range.start.line, character: range.start.character }, end: { line: range.end.line, character: range.end.character } } },
      settings: { executionProvider: this.settings.provider(), topSpans: this.settings.topSpans() },
      selection: { layer: map.layer, head: map.head, view: map.view, query: spans.query },
      lambda: result.lambda,
      // A model whose λ varies per token (DIFF V2): the shown head's λ of each cell row (the mean of its queries').
      ...(map.lambda && { lambdaPerRow: Array.from(map.lambda) }),
      window: result.window,
      tokens: result.tokens.map((t) => t.text),
      spans: spans.spans,
      map: { viewport: map.viewport, ...cellCounts(map.viewport), values: Array.from(map.data) },
      ...(queryRow && rowOfMap(queryRow, map) && queryRow.query === spans.query && { queryRow: { viewport: queryRow.viewport, values: Array.from(queryRow.data) } }),
      ...(explanation && { explanation }),
      ...(flow && { flow }),
    };
    const imageUri = target.path.endsWith(`.${format}`) ? target : target.with({ path: `${target.path}.png` });
    const jsonUri = imageUri.with({ path: imageUri.path.replace(/\.(png|svg)$/, '.json') });
    await vscode.workspace.fs.writeFile(imageUri, image);
    await vscode.workspace.fs.writeFile(jsonUri, Buffer.from(JSON.stringify(record, null, 2)));
    this.log.info(`exported ${imageUri.fsPath} and ${jsonUri.fsPath}`);
    return imageUri;
  }
}

/** Whether a locked query's row was computed for the map (its head and viewport). */
function rowOfMap(row: { layer: number; head: number; view: string; requestId: number }, map: typeof row): boolean {
  return row.layer === map.layer && row.head === map.head && row.view === map.view && row.requestId === map.requestId;
}

/** A viewport's size in cells (rows x cols values, row-major). */
function cellCounts(viewport: MapViewport): { rows: number; cols: number } {
  const { rows, cols } = viewportCells(viewport);
  return { rows, cols };
}
