// The host's handle on the engine child process. Requests run one at a time in the child; aborting
// one kills the child (a native ONNX Runtime run cannot be interrupted otherwise), and the next
// request starts a fresh child and reloads the last model.

import { fork, type ChildProcess } from 'node:child_process';
import { PendingRequests, type RequestMessage } from '../../shared/requests';
import type { EngineInfo } from './engine';
import type { EngineMessage, EngineReplies, EngineRequest } from './engineProtocol';
import { CancelledError, ERROR_CLASSES } from './errors';
import type { GenerateOptions, Generation } from './generate';
import type { ProviderSetting } from './runtime';

/** The engine process's C allocator settings (glibc reads them at start; other C libraries ignore
 *  them): blocks mapped from the kernel only above 32 MiB (glibc's largest threshold), and freed
 *  memory kept up to 128 MiB. By default glibc maps each allocation larger than any freed before
 *  anew, and the analyses' arrays grow block by block (a block reads the keys up to its last row),
 *  so a whole map faulted in fresh pages for nearly every block: at 8,192 tokens of the 32K test
 *  model the first map took 45K page faults and 0.97 s, 27K and 0.70 s with these; a later map 21K
 *  and 0.66 s, 1.4K and 0.40 s. That model's run took the same time and peak memory. */
const ENGINE_MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728';

/** The engine process's environment: this one's, with ENGINE_MALLOC_TUNABLES unless the user's own
 *  GLIBC_TUNABLES (later in the list, so they win) set the same. */
export function engineEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GLIBC_TUNABLES: [ENGINE_MALLOC_TUNABLES, env.GLIBC_TUNABLES].filter(Boolean).join(':') };
}

export class EngineClient {
  private child: ChildProcess | undefined;
  private readonly requests = new PendingRequests(ERROR_CLASSES);
  private lastLoad: Extract<EngineRequest, { op: 'load' }> | undefined;
  private loaded: Promise<EngineInfo> | undefined;
  private readonly requested = new Map<EngineRequest['op'], number>();
  /** Each generation's progress listener, by the number its request carries. */
  private readonly generations = new Map<number, (done: number) => void>();
  private lastGeneration = 0;

  constructor(
    private readonly enginePath: string,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** Loads a package in the engine (replacing the current one). */
  load(packageDir: string, provider: ProviderSetting): Promise<EngineInfo> {
    // A failed load leaves the child's current model in place, so keep answering for that one.
    const previous = { lastLoad: this.lastLoad, loaded: this.loaded };
    this.lastLoad = { op: 'load', packageDir, provider };
    const loading = this.send(this.lastLoad) as Promise<EngineInfo>;
    this.loaded = loading;
    loading.catch(() => {
      if (this.loaded === loading) ({ lastLoad: this.lastLoad, loaded: this.loaded } = previous);
    });
    return loading;
  }

  /** Sends a request once a model is loaded; aborting the signal cancels it (and kills the child). */
  async request<R extends Exclude<EngineRequest, { op: 'load' }>>(request: R, signal?: AbortSignal): Promise<EngineReplies[R['op']]> {
    if (!this.lastLoad) throw new Error('no model is loaded');
    this.requested.set(request.op, this.requestCount(request.op) + 1);
    if (!this.child) this.loaded = this.send(this.lastLoad) as Promise<EngineInfo>;
    await this.loaded;
    return this.send(request, signal) as Promise<EngineReplies[R['op']]>;
  }

  /** Generates text after `prompt` (generate.ts), telling `onToken` how many tokens are done after
   *  each. Aborting the signal stops it after the token under way, and it resolves with the tokens
   *  made so far (stop 'cancelled'); the engine process is not killed. */
  async generate(prompt: string, options: GenerateOptions, onToken: (done: number) => void, signal?: AbortSignal): Promise<Generation> {
    const generation = ++this.lastGeneration;
    const stop = () => void this.request({ op: 'stopGenerating', generation }).catch(() => {});
    this.generations.set(generation, onToken);
    signal?.addEventListener('abort', stop, { once: true });
    if (signal?.aborted) stop();
    try {
      return await this.request({ op: 'generate', prompt, options, generation });
    } finally {
      signal?.removeEventListener('abort', stop);
      this.generations.delete(generation);
    }
  }

  /** The engine process's id, while one runs (the benchmark reads its peak memory). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Requests of one kind sent so far (the tests check that an inspection computes each map once). */
  requestCount(op: EngineRequest['op']): number {
    return this.requested.get(op) ?? 0;
  }

  dispose(): void {
    this.stopChild(new Error('the engine was shut down'));
  }

  private send(request: EngineRequest, signal?: AbortSignal): Promise<unknown> {
    if (signal?.aborted) return Promise.reject(new CancelledError());
    const child = this.ensureChild();
    const { id, reply } = this.requests.open();
    const onAbort = () => this.stopChild(new CancelledError());
    signal?.addEventListener('abort', onAbort, { once: true });
    child.send({ id, request } satisfies RequestMessage<EngineRequest>);
    return reply.finally(() => signal?.removeEventListener('abort', onAbort));
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(this.enginePath, [], { serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: engineEnv(process.env) });
    child.stdout?.on('data', (data) => this.log(String(data).trimEnd()));
    child.stderr?.on('data', (data) => this.log(String(data).trimEnd()));
    child.on('message', (message: EngineMessage) => {
      if ('log' in message) this.log(message.log);
      else if ('generated' in message) this.generations.get(message.generated.generation)?.(message.generated.done);
      else this.requests.settle(message);
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.requests.rejectAll(new Error(`the engine process stopped (${signal ?? `exit code ${code}`}); the next inspection starts a new one`));
    });
    this.child = child;
    return child;
  }

  private stopChild(reason: Error): void {
    const child = this.child;
    this.child = undefined;
    child?.kill('SIGKILL');
    this.requests.rejectAll(reason);
  }
}
