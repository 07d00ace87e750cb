/**
 * Appends the outcome of one fault run as a JSON line to $CUTOVER_FAULT_RESULTS (default
 * /tmp/cutover-fault-results.jsonl), the raw material of docs/reliability.md. Only what a test measured is written.
 */
import * as fs from 'node:fs';

export interface FaultOutcome {
  readonly fault: string;
  readonly phase: string;
  readonly recovered: boolean;
  /** When not simply recovered: what the system did instead (e.g. stopped safely and surfaced it to the operator). */
  readonly outcome?: string;
  /** Acknowledged writes parked in the dead-letter topic (not in the target until an operator replays them). */
  readonly heldInDlq?: number;
  /** From the end of the fault (service back / process restarted) until the target verified clean. */
  readonly recoverMs: number;
  readonly convergeMs?: number;
  /** After a worker kill: from the new worker's start until it started the first killed activity again (attempt ≥ 2). */
  readonly retriedMs?: number;
  readonly retriedActivities?: readonly string[];
  readonly writesAcked?: number;
  readonly writesDuringFault?: number;
  readonly writesLost: number;
  /** Application requests (through the routing layer) that failed, when application instances ran. */
  readonly requestsFailed?: number;
  readonly requestsOk?: number;
  readonly mismatches: number;
  readonly command: string;
}

export function record(o: FaultOutcome): void {
  const file = process.env.CUTOVER_FAULT_RESULTS ?? '/tmp/cutover-fault-results.jsonl';
  fs.appendFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), ...o })}\n`);
}
