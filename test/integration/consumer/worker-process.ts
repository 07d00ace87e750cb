/** Starts src/workers/etl.ts as a child process (node itself, so signals reach the consumer) and reads its JSON lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  /** What the process logged on stderr. */
  readonly log: string[];
  readonly exited: Promise<number | null>;
}

const root = path.join(__dirname, '../../..');

export function startWorker(args: readonly string[], children: ChildProcess[]): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/workers/etl.ts', ...args], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  child.stdout?.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        /* not a JSON line */
      }
    }
  });
  const log: string[] = [];
  child.stderr?.on('data', (d: Buffer) => void log.push(d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.once('exit', () => {
    child.stdout?.destroy();
    child.stderr?.destroy();
  });
  return { child, lines, log, exited };
}
