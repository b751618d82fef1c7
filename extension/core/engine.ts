// The inspection engine: a loaded package (session + tokenizer) and the analysis of the last run.
// The extension runs it in a child process (engineWorker.ts) so native failures and long runs
// never block or crash the extension host; the CLI and the tests use it in-process. An inspection
// runs the model once and returns what the first view needs; maps, spans, outlier statistics and
// the quantisation what-if are computed when asked for, each at most once per run.

import * as ort from 'onnxruntime-node';
import {
  wholeMap, type InputWindow, type KeySpan, type LayerOutliers, type LayerQuantisation, type LensLayer, type MapViewport, type Prediction, type Thumbnails, type TokenInfo,
} from '../../shared/inspection';
import { mapViews, type Interventions, type MapView, type ModelInfo } from '../../shared/model';
import type { ExplainOptions, Explanation, SourceParts } from '../../shared/explain';
import type { FlowGraph } from '../../shared/flow';
import type { NeedleTestOptions, NeedleTestResult, NeedleTrial } from '../../shared/needleTest';
import type { LayerSinks } from '../../shared/sinks';
import { RunAnalysis } from './analysis';
import { AnalysisGraphs, VIEW_TILE_ELEMENTS } from './analysisGraphs';
import { Contributions } from './contributions';
import { FlowTracer, type FlowOptions } from './flow';
import { EmptyTextError, LensUnavailableError } from './errors';
import { checkFinite } from './finiteCheck';
import { generate, type GenerateOptions, type Generation } from './generate';
import { Memo } from './memo';
import { loadModelPackage, type ModelPackage, type PackageConfig } from './modelPackage';
import { continuationOf, documentLengths, makeNeedleDocument, needleTestSettings, planTrials, summariseNeedleTrials } from './needles';
import { attentionShares, greedyMatch, locateQuery, type NeedleRun } from './needleScoring';
import { StatisticsClient } from './statisticsClient';
import { createSession, openWeightsGraph, runModel, runNextTokenLogits, type ProviderSetting, type RunOutputs, type SessionInfo } from './runtime';
import { loadTokenizer, type Encoding, type TextTokenizer } from './tokenizer';

export const HOVER_PREDICTIONS = 5;

/** The loaded model (what the panel is told of it) and, for the host only, the package folder and
 *  why a GPU provider was not used, if one was tried. */
export interface EngineInfo extends ModelInfo, SessionInfo {
  dir: string;
}

/** What a run returns to the caller; offsets are UTF-16 positions in the inspected text. */
export interface InspectionResult {
  tokens: TokenInfo[];
  window: InputWindow | null;
  /** Token index (BOS = 0) of the query: the token at the query offset, by default the last. */
  query: number;
  latencyMs: number;
  /** One λ per layer; empty for a baseline and for a model whose λ varies per token (lambdaByToken). */
  lambda: number[];
  /** λ [L, T, H] of each layer, query token and head, for a model whose λ varies per token (DIFF
   *  V2); null otherwise. */
  lambdaByToken: Float32Array | null;
  /** log p(token | tokens before); 0 for BOS. */
  tokenLogprob: Float32Array;
  thumbnails: Thumbnails;
  thumbnailSize: number;
}

/** What to do about a run that went non-finite. */
const WEIGHTS_FIX = "the model's weights hold NaN or Inf: import it again; the importer reports which tensor";
const INTERVENTION_FIX = 'the unmodified run is finite, so the intervention made it so: give λ and the head mask finite values of moderate size';

export class Engine {
  private lensSession: Promise<ort.InferenceSession> | undefined;
  /** The last inspection ('main') and, beside it, a what-if run of the same tokens ('whatIf'). */
  private runs: Partial<Record<RunName, Run>> = {};
  /** The speed of the last timed run (runFlops per millisecond), for estimates. */
  private flopsPerMs: number | undefined;
  /** The last text tokenised: the host asks for an estimate of a text, then inspects it. */
  private lastEncoding: { text: string; encoding: Encoding } | undefined;
  private readonly graphs = new AnalysisGraphs();
  private readonly statistics = new StatisticsClient();
  /** The last run's outlier statistics and quantisation what-if, once asked for. */
  private readonly lastOutliers = new Memo<LayerOutliers[]>();
  private readonly lastQuantisation = new Memo<LayerQuantisation[]>();
  private readonly contributions: Contributions;
  private readonly lastSinks = new Memo<LayerSinks[]>();
  private readonly flowTracer: FlowTracer;

  private constructor(
    private readonly pkg: ModelPackage,
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: TextTokenizer,
    readonly info: EngineInfo,
  ) {
    this.contributions = new Contributions(pkg);
    this.flowTracer = new FlowTracer(this.contributions);
  }

  static async load(packageDir: string, provider: ProviderSetting, log?: (message: string) => void): Promise<Engine> {
    const pkg = await loadModelPackage(packageDir);
    const tokenizer = loadTokenizer(pkg.tokenizerJson);
    // The embedding may have more rows than the tokenizer has tokens (imported models pad it), never fewer.
    if (tokenizer.vocabSize > pkg.config.vocab_size) {
      throw new Error(`${packageDir}/tokenizer.json has ${tokenizer.vocabSize} tokens but config.json's vocab_size is only ${pkg.config.vocab_size}; export the package again with its own tokenizer`);
    }
    const { session, info } = await createSession(pkg, provider, log);
    const c = pkg.config;
    const lambdaGranularity = c.lambda === null ? null : c.lambda.granularity === 'token' ? 'token' : 'layer';
    const sourceFormat = c.source?.format ?? null;
    return new Engine(pkg, session, tokenizer, {
      name: c.name, kind: c.kind, sha256: pkg.sha256, nLayer: c.n_layer, nHead: c.n_head, maxSeqLen: inspectionContext(c),
      pairing: c.pairing, lambdaGranularity, sourceFormat, parameters: c.parameters, weightBytes: pkg.weightBytes,
      ...(c.non_finite_weights?.length && { weightWarning: nonFiniteWarning(c.non_finite_weights) }), ...info, dir: packageDir,
    });
  }

  /** Tokenises text, cuts it to the model's context around the query, runs the model (with the
   *  given interventions: lambda scaled or set per head, heads ablated). */
  async inspect(text: string, queryOffset = text.length, interventions: Interventions = {}): Promise<InspectionResult> {
    const config = this.pkg.config;
    const encoding = this.encode(text);
    const total = encoding.ids.length;
    if (total === 0) throw new EmptyTextError('there is no text to inspect: select some code or text, or open a file that is not empty');
    // The query is the token covering the character before queryOffset (the selection's last token).
    let queryToken = encoding.offsets.findIndex(([, end]) => end >= queryOffset && end > 0);
    if (queryToken < 0) queryToken = total - 1;
    const context = inspectionContext(config);
    const room = context - 1; // one place for BOS
    const first = total > room ? Math.max(0, Math.min(queryToken + 1, total) - room) : 0;
    const kept = Math.min(total - first, room);
    const ids = [config.bos_token_id, ...encoding.ids.slice(first, first + kept)];
    const tokens: TokenInfo[] = [{ text: this.tokenizer.tokenText(config.bos_token_id), start: 0, end: 0 }];
    for (let t = first; t < first + kept; t++) {
      const [start, end] = encoding.offsets[t];
      tokens.push({ text: text.slice(start, end) || this.tokenizer.tokenText(encoding.ids[t]), start, end });
    }
    if (tokens.length > 1) tokens[0] = { ...tokens[0], start: tokens[1].start, end: tokens[1].start };
    const window = total > room
      ? {
          totalTokens: total,
          firstToken: first,
          note:
            context < config.max_seq_len
              ? `The text has ${total} tokens; the inspector runs at most ${context} tokens of this model at once (this package's graph holds whole attention maps, which grow with the square of the length; export or import it again for blocked attention and the whole context): ran tokens ${first + 1}–${first + kept}, the window that ends at the query.`
              : `The text has ${total} tokens but the model's context is ${config.max_seq_len}: ran tokens ${first + 1}–${first + kept}, the window that ends at the query.`,
        }
      : null;

    const query = Math.max(0, Math.min(queryToken - first + 1, kept));
    // The last run goes first (held through this one, it was a second copy at the peak); a failed run leaves none.
    this.runs = {};
    for (const memo of [this.lastOutliers, this.lastQuantisation, this.lastSinks]) memo.clear();
    this.statistics.supersede();
    const run = await this.execute(ids, tokens, window, query, interventions);
    this.runs = { main: run };
    return run.result;
  }

  /** The last inspection's tokens run again with interventions, kept beside it as the 'whatIf'
   *  run (maps, spans, predictions and the lens take `run: 'whatIf'`). */
  async whatIf(interventions: Interventions): Promise<InspectionResult> {
    const { ids, result } = this.run('main');
    const run = await this.execute(ids, result.tokens, result.window, result.query, interventions, INTERVENTION_FIX);
    this.runs.whatIf = run;
    return run.result;
  }

  /** A predicted token's text. Imported models often pad their vocabulary past the tokenizer's
   *  (to a multiple of 64 or 128); those rows have no text, and a model can still predict them. */
  private predictedText(id: number): string {
    return id < this.tokenizer.vocabSize ? this.tokenizer.tokenText(id) : `⟨id ${id}: no token⟩`;
  }

  /** The vocabulary id a user gave: `#ID` as written, else the one token `text` encodes to (the CLI's explain and the Explain tab take targets as text). */
  tokenId(text: string): number {
    if (/^#\d+$/.test(text)) return Number(text.slice(1));
    const { ids } = this.tokenizer.encode(text);
    if (ids.length !== 1) throw new RangeError(`${JSON.stringify(text)} is ${ids.length} tokens, not one; give a token's id as #ID`);
    return ids[0];
  }

  /** How many tokens an inspection of `text` runs, and about how long it will take at the speed of
   *  the last run (none before a first run of at least ESTIMATE_FROM_TOKENS tokens). */
  estimate(text: string): RunEstimate {
    const tokens = Math.min(this.encode(text).ids.length + 1, inspectionContext(this.pkg.config));
    return { tokens, ...(this.flopsPerMs && { seconds: runFlops(this.pkg.config, tokens) / this.flopsPerMs / 1000 }) };
  }

  private encode(text: string): Encoding {
    if (this.lastEncoding?.text !== text) this.lastEncoding = { text, encoding: this.tokenizer.encode(text) };
    return this.lastEncoding.encoding;
  }

  private async execute(ids: number[], tokens: TokenInfo[], window: InputWindow | null, query: number, interventions: Interventions, fix = WEIGHTS_FIX): Promise<Run> {
    const config = this.pkg.config;
    const started = performance.now();
    const out = await runModel(this.session, ids, config, interventions);
    const latencyMs = performance.now() - started;
    checkFinite(out, config, fix);
    if (ids.length >= ESTIMATE_FROM_TOKENS) this.flopsPerMs = runFlops(config, ids.length) / latencyMs;
    const analysis = new RunAnalysis(config, out, this.graphs, VIEW_TILE_ELEMENTS);
    const thumbnails: Thumbnails = {};
    const { pooled, size } = await analysis.pooledMaps();
    for (const view of mapViews(config.kind)) thumbnails[view] = analysis.thumbnails(view, pooled, size);
    const perToken = this.info.lambdaGranularity === 'token';
    const lambda = config.kind === 'diff' && !perToken ? Array.from({ length: config.n_layer }, (_, layer) => analysis.lambda(layer)) : [];
    const lambdaByToken = perToken && out.lambda ? out.lambda : null;
    return { ids, out, analysis, interventions, result: { tokens, window, query, latencyMs, lambda, lambdaByToken, tokenLogprob: out.tokenLogprob, thumbnails, thumbnailSize: size } };
  }

  /** The Needle Test (needles.ts) on scratch copies of `filler`: `trials` needle documents (or
   *  options.trial alone) at each of options.lengths (default the context), each fitted to its
   *  length and run once. The last inspection (maps, spans, outliers) stays as it was. */
  async needleTest(filler: string, options: NeedleTestOptions = {}): Promise<NeedleTestResult> {
    const { form, needles, queries, trials, seed } = needleTestSettings(options);
    const config = this.pkg.config;
    const lengths = documentLengths(options.lengths, inspectionContext(config));
    const countTokens = (text: string) => this.tokenizer.encode(text).ids.length + 1;
    const tokenText = (id: number) => this.predictedText(id);
    // Without noise cancellation: lambda 0 in every head, each a plain softmax of A1 (DIFF only).
    const size = config.n_layer * config.n_head;
    const lambdaZero = options.lambdaZero === true && config.kind === 'diff';
    const interventions = lambdaZero ? { lambda_scale: new Float32Array(size), lambda_shift: new Float32Array(size) } : {};
    const results: NeedleTrial[] = [];
    for (const { length, depth, seed: trialSeed } of planTrials(lengths, trials, seed).filter(({ trial }) => options.trial === undefined || trial === options.trial)) {
      const document = makeNeedleDocument(filler, { form, needles, queries, seed: trialSeed, depth, language: options.language }, { countTokens, maxTokens: length });
      const encoding = this.tokenizer.encode(document.text);
      const ids = [config.bos_token_id, ...encoding.ids];
      const out = await runModel(this.session, ids, config, interventions);
      checkFinite(out, config, WEIGHTS_FIX);
      const K = config.top_k;
      const run: NeedleRun = { ids, offsets: [[0, 0], ...encoding.offsets], predicted: Array.from({ length: out.length }, (_, t) => out.topIds[t * K]) };
      const analysis = new RunAnalysis(config, out, this.graphs);
      results.push({
        seed: trialSeed,
        depth,
        length,
        text: document.text,
        tokens: ids.length,
        fillerLines: document.fillerLines,
        totalFillerLines: document.totalFillerLines,
        queries: document.answers.map((answer) => {
          const query = locateQuery(run, answer);
          const shares = attentionShares(analysis, query);
          return {
            ...answer,
            ...greedyMatch(run, query, continuationOf(answer.value), tokenText),
            answerShare: shares.answer,
            noiseShare: shares.noise,
            queryShare: shares.query,
          };
        }),
      });
    }
    const model = lambdaZero ? `${config.name} (λ = 0)` : config.name;
    return { model, kind: config.kind, form, needles, queries, lengths, trials: results, ...summariseNeedleTrials(results) };
  }

  /** Continue Text (generate.ts): tokens after `prompt`, each from a forward over the whole
   *  sequence so far, at most the inspection's context. The last inspection stays as it was. */
  generate(prompt: string, options: GenerateOptions, onToken?: (done: number) => void, isCancelled?: () => boolean): Promise<Generation> {
    const config = this.pkg.config;
    const model = { bosId: config.bos_token_id, context: inspectionContext(config), nextTokenLogits: (ids: readonly number[]) => runNextTokenLogits(this.session, ids, config) };
    return generate(model, this.tokenizer, prompt, options, onToken, isCancelled);
  }

  private run(name: RunName): Run {
    const run = this.runs[name];
    if (!run) throw new Error(name === 'main' ? 'no inspection to read: none has run yet, or the last one failed' : 'no what-if has run on the last inspection');
    return run;
  }

  /** The top next-token predictions after a token. */
  predictions(token: number, count = HOVER_PREDICTIONS, run: RunName = 'main'): Prediction[] {
    const { out } = this.run(run);
    const K = this.pkg.config.top_k;
    return Array.from({ length: Math.min(count, K) }, (_, r) => ({
      text: this.predictedText(out.topIds[token * K + r]),
      prob: out.topProbs[token * K + r],
    }));
  }

  /** The logit lens at a token: per layer, the top next-token predictions its hidden state gives
   *  through the final norm and the LM head (the last layer's are the model's own). */
  async lens(token: number, run: RunName = 'main'): Promise<LensLayer[]> {
    const { out } = this.run(run);
    const { n_layer: L, n_embd: E, top_k: K } = this.pkg.config;
    const hidden = new Float32Array(L * E);
    for (let layer = 0; layer < L; layer++) hidden.set(out.hidden[layer].subarray(token * E, (token + 1) * E), layer * E);
    const lens = await (this.lensSession ??= this.openLens());
    const result = await lens.run({ hidden: new ort.Tensor('float32', hidden, [L, E]) });
    const ids = result.lens_top_ids.data as BigInt64Array;
    const probs = result.lens_top_probs.data as Float32Array;
    return Array.from({ length: L }, (_, layer) => ({
      layer,
      predictions: Array.from({ length: Math.min(HOVER_PREDICTIONS, K) }, (_, r) => ({
        text: this.predictedText(Number(ids[layer * K + r])),
        prob: probs[layer * K + r],
      })),
    }));
  }

  private openLens(): Promise<ort.InferenceSession> {
    const { lensPath } = this.pkg;
    if (!lensPath) {
      return Promise.reject(new LensUnavailableError(`${this.pkg.dir} has no lens.onnx (packages exported before the logit lens); export the package again`));
    }
    return openWeightsGraph(lensPath, this.pkg.config);
  }

  /** The direct contributions of the embedding, every head (A1·V and -λ·A2·V) and every MLP to a
   *  target's logit at a query token (contributions.ts); by default the target is the top prediction. */
  explain(query: number, options: ExplainOptions = {}, run: RunName = 'main'): Promise<Explanation> {
    return this.contributions.explain(this.run(run), query, options, (id) => this.predictedText(id));
  }

  /** One head's part of explain() split over the source tokens. */
  explainSources(query: number, options: ExplainOptions, layer: number, head: number, run: RunName = 'main'): Promise<SourceParts> {
    return this.contributions.sources(this.run(run), query, options, layer, head);
  }

  /** The flow of information into the prediction at `query` (flow.ts); a newer call stops this one
   *  (SupersededError). */
  flow(query: number, options: FlowOptions, run: RunName = 'main'): Promise<FlowGraph> {
    return this.flowTracer.trace(this.run(run), query, options);
  }

  /** A viewport of a view's map pooled to at most viewport.rows x viewport.cols cells; without
   *  one, the whole T x T map (row = query, column = key). */
  map(layer: number, head: number, view: MapView, viewport?: MapViewport, run: RunName = 'main'): Promise<Float32Array> {
    const { analysis } = this.run(run);
    const whole = wholeMap(analysis.T, analysis.T, 'mean');
    return this.statistics.foreground(() => analysis.pooledMap(layer, head, view, viewport ?? whole));
  }

  /** Top-k key spans for a query; head undefined = mean over the layer's heads. */
  spans(layer: number, head: number | undefined, query: number, k: number, run: RunName = 'main'): KeySpan[] {
    const { analysis, result } = this.run(run);
    return analysis.keySpans(layer, head, query, k, (i) => result.tokens[i].text);
  }

  /** The Outliers view's histograms of the last run. Rejects with SupersededError if another
   *  inspection starts before they are done. */
  outliers(): Promise<LayerOutliers[]> {
    const { config, out } = this.run('main').analysis;
    return this.lastOutliers.get(() => this.statistics.outliers(config, out));
  }

  /** The quantisation what-if of the last run (after its outlier statistics, whose top-1 sets
   *  each layer's scale). */
  quantisation(): Promise<LayerQuantisation[]> {
    const { config, out } = this.run('main').analysis;
    return this.lastQuantisation.get(async () => {
      const layers = await this.outliers();
      return this.statistics.quantisation(config, out, layers.map((l) => l.logits.top1));
    });
  }

  /** The attention sinks of the last run (shared/sinks.ts). */
  sinks(): Promise<LayerSinks[]> {
    const { config, out } = this.run('main').analysis;
    return this.lastSinks.get(() => this.statistics.sinks(config, out));
  }
}

/** "weights hold NaN or Inf (model.layers.1.mlp.up_proj.weight: 3 NaN, 2 Inf; …)": the warning
 *  every run of a package imported with --allow-non-finite carries. */
function nonFiniteWarning(weights: NonNullable<PackageConfig['non_finite_weights']>): string {
  const listed = weights.slice(0, 3).map(({ tensor, nan, inf }) => `${tensor}: ${nan} NaN, ${inf} Inf`);
  const more = weights.length > 3 ? `; ${weights.length - 3} more tensors` : '';
  return `imported with weights that hold NaN or Inf (${listed.join('; ')}${more}): its runs may fail or be meaningless`;
}

/** What an inspection will cost: the tokens it runs and, once a run has been timed, about how long. */
export interface RunEstimate {
  tokens: number;
  seconds?: number;
}

/** Runs shorter than this are dominated by fixed costs: their speed does not predict a long run's. */
const ESTIMATE_FROM_TOKENS = 256;

/** Multiply-adds x 2 of a run of T tokens: the weights once per token, and the causal half of the
 *  attention scores (q k^T, d wide) and of their product with the values (w wide) per softmax sub-head. */
export function runFlops(config: PackageConfig, T: number): number {
  return 2 * config.parameters * T + config.n_layer * config.n_softmax_heads * T * T * (config.head_dim + config.value_head_dim);
}

/** The runs the engine keeps: the last inspection, and a what-if run of its tokens. */
export type RunName = 'main' | 'whatIf';

interface Run {
  ids: number[];
  out: RunOutputs;
  analysis: RunAnalysis;
  interventions: Interventions;
  result: InspectionResult;
}

/** A package whose graph holds one layer's whole attention scores, S x T x T float32, a few times
 *  over (exported before attention ran over blocks of query rows: config.json has no `attention`),
 *  is run in a window cut so that one copy stays under this size. */
const ATTENTION_SCORES_LIMIT_BYTES = 512 * 2 ** 20;

/** The most tokens (BOS included) the engine runs at once: the model's context, or for a package
 *  without blocked attention less, where its attention scores would not fit ATTENTION_SCORES_LIMIT_BYTES. */
export function inspectionContext(config: PackageConfig): number {
  if (config.attention === 'blocked') return config.max_seq_len;
  const fits = Math.floor(Math.sqrt(ATTENTION_SCORES_LIMIT_BYTES / (4 * config.n_softmax_heads)));
  return Math.min(config.max_seq_len, fits);
}
