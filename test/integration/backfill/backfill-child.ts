/**
 * A backfill worker process for the churn test: runs runBackfill from the cursor given in argv[2] (JSON options)
 * and prints one `PROGRESS <json>` line per acknowledged chunk (what a Temporal activity would heartbeat), so the
 * test can kill -9 it at any moment and resume from the last line it saw.
 */
import { loadStackEnv } from '../../../src/infra/env';
import { createKafka } from '../../../src/infra/kafka';
import { runBackfill, type BackfillOptions } from '../../../src/pipeline/backfill/backfill';
import { KafkaLoadSink } from '../../../src/pipeline/backfill/kafka-sink';
import { createSourcePool } from '../../../src/pipeline/backfill/source-pool';

async function main(): Promise<void> {
  loadStackEnv();
  const o = JSON.parse(process.argv[2]) as BackfillOptions & { topic: string; keyColumns: string[] };
  const pool = createSourcePool({ connectionLimit: 4 });
  const sink = await KafkaLoadSink.create(createKafka('backfill-child'), o.topic, o.keyColumns);
  try {
    const p = await runBackfill({ pool, sink, onProgress: (x) => void process.stdout.write(`PROGRESS ${JSON.stringify(x)}\n`) }, o);
    process.stdout.write(`DONE ${JSON.stringify(p)}\n`);
  } finally {
    await sink.close();
    await pool.end();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
