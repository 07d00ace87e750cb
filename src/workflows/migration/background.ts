/**
 * What runs beside the phase machine for as long as CDC runs: the ETL consumers (when the workflow runs them:
 * `etl.runner: workflow`, one long activity per consumer, restarted slice after slice; Temporal spreads them over
 * the workers) and the monitor that samples CDC and ETL lag for the status. A failing or DLQ-stopped consumer sets
 * `etlProblem` and waits for an operator's approve; an ETL pause stops the consumers within one batch.
 */
import { CancellationScope, isCancellation, sleep, condition } from '@temporalio/workflow';
import { control, longOptions } from './activities';
import { describeFailure, runCancellable, type Migration } from './runtime';

/** Handle on the background loops. */
export interface Background {
  /** Stops the ETL consumers gracefully (each commits what it applied) and waits for them. */
  stopEtl(): Promise<void>;
  /** Stops everything (before continue-as-new or at the end). */
  stop(): Promise<void>;
}

function ignoreCancellation(err: unknown): void {
  if (!isCancellation(err)) throw err;
}

/** Starts the background loops of `m`. */
export function startBackground(m: Migration): Background {
  const s = m.state;
  let etlStopped = false;
  const etlScope = new CancellationScope();
  const monitorScope = new CancellationScope();
  const terminal = () => s.phase === 'complete' || s.phase === 'aborted' || s.phase === 'failed';
  const etlWanted = () => !etlStopped && m.config.etl.runner === 'workflow' && s.cdcId !== null && !s.cdcStopped && !terminal();

  async function etlLoop(consumer: number): Promise<void> {
    for (;;) {
      await condition(() => etlWanted() && s.etlProblem === null && !s.etlPaused);
      const input = {
        ctx: m.ctx(),
        mappingFile: m.config.mappingFile,
        topic: m.config.cdc.topic,
        group: m.config.etl.group,
        sliceMs: m.config.sliceMs,
        consumer,
        maxDlqEvents: Math.max(m.config.thresholds.maxDlqEvents, s.dlqAccepted),
      };
      try {
        const { result } = await runCancellable(
          () => control.runEtl.executeWithOptions({ ...longOptions(m.config.sliceMs), summary: `ETL consumer ${consumer} of ${m.label} (group ${m.config.etl.group})` }, [input]),
          () => s.etlPaused,
        );
        if (result?.stoppedBy === 'dlq-threshold') {
          s.etlProblem = `ETL consumer ${consumer} stopped: ${result.reason ?? 'too many dead-lettered events'}. Inspect the DLQ, then approve to restart`;
          m.note({ kind: 'blocked', to: 'etl', cause: s.etlProblem });
        }
      } catch (err) {
        if (isCancellation(err)) throw err;
        s.etlProblem = `ETL consumer ${consumer} failed: ${describeFailure(err)}. Fix the cause, then approve to restart`;
        m.note({ kind: 'blocked', to: 'etl', cause: s.etlProblem });
      }
    }
  }

  async function monitor(): Promise<void> {
    for (;;) {
      await sleep(m.config.monitorIntervalMs);
      if (s.cdcId === null || s.cdcStopped || terminal()) continue;
      await sample(m).catch((err) => {
        if (isCancellation(err)) throw err;
      });
    }
  }

  const loops: Promise<void>[] = [];
  for (let i = 0; i < m.config.etl.consumers; i++) loops.push(etlScope.run(() => etlLoop(i)).catch(ignoreCancellation));
  const monitoring = monitorScope.run(monitor).catch(ignoreCancellation);

  return {
    async stopEtl() {
      etlStopped = true;
      etlScope.cancel();
      await Promise.all(loops);
    },
    async stop() {
      etlStopped = true;
      etlScope.cancel();
      monitorScope.cancel();
      await Promise.all([...loops, monitoring]);
    },
  };
}

/** Samples CDC and ETL lag and the DLQ count into the status (a failed sample only leaves the status stale). */
export async function sample(m: Migration): Promise<void> {
  const s = m.state;
  if (s.cdcId === null) return;
  const opts = { retry: { maximumAttempts: 2 } };
  const [cdc, etl] = await Promise.all([
    control.describeCdc.executeWithOptions({ ...opts, summary: `describe CDC of ${m.label}` }, [{ ctx: m.ctx(), cdcId: s.cdcId, cdc: m.config.cdc }]),
    control.describeEtl.executeWithOptions({ ...opts, summary: `describe ETL of ${m.label}` }, [
      { ctx: m.ctx(), mappingFile: m.config.mappingFile, topic: m.config.cdc.topic, group: m.config.etl.group },
    ]),
  ]);
  s.lags = { cdcLagSeconds: cdc.lagSeconds, etlLagEvents: etl.lagEvents, etlLagSeconds: etl.lagSeconds, dlqCount: etl.dlqCount, sampledAt: m.now() };
}
