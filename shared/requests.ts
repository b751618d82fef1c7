// Requests and their replies over a message channel: the engine child process, the statistics and
// import worker threads, and the panel's webview. A request carries an id and its reply the same id;
// an error crosses as its name, message and own fields and is rebuilt on the other side as the same
// class, so a receiver tells errors apart with instanceof. Plain TypeScript (no Node or vscode
// imports): the host, the workers and the webview bundle all use it.

/** An error as it crosses a channel. `fields`: its own properties beside name and message (such as
 *  NonFiniteError's layer), when structured clone (every channel's serialisation) can copy them. */
export interface SerializedError {
  name: string;
  message: string;
  fields?: Record<string, unknown>;
}

/** A request as it crosses a channel. */
export interface RequestMessage<R> {
  id: number;
  request: R;
}

/** The answer to request `id`: its result, or the error it failed with. */
export type Reply<T = unknown> = { id: number; ok: true; result: T } | { id: number; ok: false; error: SerializedError };

/** An error class a channel rebuilds, by the name its instances carry (the key; a bundle's minifier
 *  renames classes but keeps keys and the names instances set). */
export type ErrorClasses = Readonly<Record<string, abstract new (...args: never[]) => Error>>;

/** JavaScript's own error classes, rebuilt on every channel. */
const BUILT_IN_ERRORS: ErrorClasses = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };

export function serializeError(thrown: unknown): SerializedError {
  if (!(thrown instanceof Error)) return { name: 'Error', message: String(thrown) };
  const { name, message, stack: _stack, ...fields } = thrown as Error & Record<string, unknown>;
  return { name, message, ...(Object.keys(fields).length > 0 && cloneable(fields) && { fields }) };
}

/** Whether a channel can carry `value`: a reply it cannot serialise would never arrive. */
function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

/** The error as an instance of the class its name says (among `classes` and JavaScript's own), or a
 *  plain Error carrying that name. The instance is not constructed anew (constructors take
 *  different arguments): it is an Error given the class's prototype, name, message and fields. */
export function deserializeError({ name, message, fields }: SerializedError, classes: ErrorClasses = {}): Error {
  const error = new Error(message);
  const errorClass = Object.hasOwn(classes, name) ? classes[name] : Object.hasOwn(BUILT_IN_ERRORS, name) ? BUILT_IN_ERRORS[name] : undefined;
  if (errorClass) Object.setPrototypeOf(error, errorClass.prototype);
  return Object.assign(error, fields, { name });
}

/** Runs `work` and makes its outcome the reply to request `id` (the answering side's half). */
export async function answer<T>(id: number, work: () => T | Promise<T>): Promise<Reply<T>> {
  try {
    return { id, ok: true, result: await work() };
  } catch (thrown) {
    return { id, ok: false, error: serializeError(thrown) };
  }
}

/** `promise`, or a rejection with `message` after `timeoutMs`. */
export function withTimeout<T>(promise: Promise<T>, timeoutMs: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** The asking side's table of requests waiting for their replies. */
export class PendingRequests {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  /** `errorClasses`: the classes this channel's errors are rebuilt as. */
  constructor(private readonly errorClasses: ErrorClasses = {}) {}

  /** A new request's id, and the promise its reply settles; with `timeout`, a request still without
   *  a reply after timeout.ms rejects with timeout.message (and a late reply is ignored). */
  open<T>(timeout?: { ms: number; message: string }): { id: number; reply: Promise<T> } {
    const id = this.nextId++;
    const reply = new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject }));
    if (!timeout) return { id, reply };
    return { id, reply: withTimeout(reply, timeout.ms, timeout.message).finally(() => this.pending.delete(id)) };
  }

  /** Settles the request the reply answers; false if none waits for it (settled, timed out or unknown). */
  settle(reply: Reply): boolean {
    const pending = this.pending.get(reply.id);
    if (!pending) return false;
    this.pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.result);
    else pending.reject(deserializeError(reply.error, this.errorClasses));
    return true;
  }

  /** Requests waiting for their replies. */
  get size(): number {
    return this.pending.size;
  }

  /** Rejects every request waiting (the other side stopped, or the channel is closed). */
  rejectAll(reason: Error): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const pending of waiting) pending.reject(reason);
  }
}
