// The benchmark's PyTorch side (model/bench.py) as a child process: it writes a package's bare
// forward graph and the matrix-multiply graph, reports useful FLOPs, and times PyTorch eager
// forward passes one at a time, so that they interleave with the ONNX Runtime runs.

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { createInterface } from 'node:readline';

export interface TorchInfo {
  /** The bare forward graph (logits alone) of the package. */
  bare: string;
  /** A 2048^3 MatMul graph and its FLOPs. */
  matmul: string;
  matmul_flops: number;
  /** PyTorch's intra-op threads. */
  threads: number;
  /** Useful FLOPs of one forward pass, by token count. */
  flops: Record<string, number>;
}

export class TorchProcess {
  private readonly waiting: ((line: string) => void)[] = [];

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
  }

  static async start(repo: string, packageDir: string, outDir: string, lengths: readonly number[]): Promise<{ torch: TorchProcess; info: TorchInfo }> {
    const child = spawn('bash', [path.join(repo, 'scripts', 'python.sh'), '-m', 'model.bench', '--package', packageDir, '--out', outDir, '--lengths', lengths.join(',')], {
      cwd: repo,
      // OpenMP threads that spin after a forward pass would steal the cores from the next
      // measurement (ONNX Runtime's) for a while.
      env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
    });
    let errors = '';
    child.stderr.on('data', (data) => (errors += String(data)));
    const torch = new TorchProcess(child);
    const exited = new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`model.bench exited (${code}): ${errors.slice(-2000)}`))));
    const info = JSON.parse(await Promise.race([torch.nextLine(), exited])) as TorchInfo;
    return { torch, info };
  }

  /** One PyTorch eager forward pass over `length` tokens, in ms. */
  async time(length: number): Promise<number> {
    const line = this.nextLine();
    this.child.stdin.write(`${length}\n`);
    return Number(await line);
  }

  stop(): void {
    this.child.stdin.end();
  }

  private nextLine(): Promise<string> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
}
