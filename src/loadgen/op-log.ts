/**
 * Writes one application instance's operation log (format: src/checker/log-format.ts). Lines are appended with
 * synchronous writes, so a write's invoke line is on disk (in the page cache) before its request is sent: an
 * instance that dies mid-request leaves an indeterminate write behind, never an unexplained value.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CompleteRecord, InvokeRecord } from '../checker/log-format';

/** One JSON Lines file `<dir>/<instance>.jsonl`. */
export class OpLogWriter {
  readonly file: string;
  private fd: number | undefined;

  constructor(dir: string, readonly instance: string) {
    fs.mkdirSync(dir, { recursive: true });
    this.file = path.join(dir, `${instance}.jsonl`);
    this.fd = fs.openSync(this.file, 'a');
  }

  /** Appends one record. */
  write(record: InvokeRecord | CompleteRecord): void {
    if (this.fd === undefined) throw new Error(`operation log ${this.file} is closed`);
    fs.writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
