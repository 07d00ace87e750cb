/**
 * Fault: a network partition between the CDC reader and Kafka for 30 s (only the reader's sockets are cut; the
 * broker and the ETL's connections stay up), under a logged write load, on a private stack. End to end: the reader
 * (src/pipeline/cdc/reader.ts, in this process so a kafkajs socketFactory can cut its connections) keeps retrying and
 * never checkpoints past an unpublished event; once the partition heals every acknowledged write reaches DynamoDB.
 * Measures what test/integration/cdc/kafka-outage.test.ts (topic level) does not: time until DynamoDB verifies clean,
 * mismatches, and lost writes judged by the checker over the once-window (support/logged-writer.ts).
 */
import * as net from 'node:net';
import { logLevel, type ISocketFactory } from 'kafkajs';
import { createKafka } from '../../src/infra/kafka';
import { BinlogCdcReader } from '../../src/pipeline/cdc/reader';
import { startPrivateStack, type PrivateStack } from '../support/private-stack';
import { LoggedWriter, verdict } from './support/logged-writer';
import { lastLine, pipelineFixture, sleep, waitFor, type PipelineFixture } from './support/pipeline';
import { record } from './support/record';

jest.setTimeout(300_000);

/** kafkajs sockets that can be cut: while down, every open socket is destroyed and new ones connect to a closed port. */
function partitionableSockets(): { factory: ISocketFactory; down(): void; up(): void } {
  let isDown = false;
  const open = new Set<net.Socket>();
  const factory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = isDown ? net.connect({ host: '127.0.0.1', port: 1 }) : net.connect({ host, port }, onConnect);
    socket.setKeepAlive(true, 60_000);
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    return socket;
  };
  return {
    factory,
    down() {
      isDown = true;
      for (const s of open) s.destroy(new Error('network partition (test)'));
    },
    up() {
      isDown = false;
    },
  };
}

let stack: PrivateStack;
let f: PipelineFixture;

beforeAll(async () => {
  stack = await startPrivateStack('fault-cdcpart-');
  stack.applyEnv();
  f = await pipelineFixture(stack, 'fp', { seedRows: 0 });
  // this test runs the reader itself: the fixture's CDC process goes away before it claims much
  f.cdc.child.kill('SIGKILL');
  await f.cdc.exited;
}, 120_000);

afterAll(async () => {
  await f?.close();
  await stack?.down();
});

const seqOf = (gtid: string | undefined): bigint => BigInt(gtid?.split('-')[2] ?? '0');

test('CDC reader partitioned from Kafka for 30 s under load: checkpoint holds, then every acknowledged write arrives', async () => {
  const cut = partitionableSockets();
  const kafka = createKafka('fault-cdc-partition', { logLevel: logLevel.NOTHING, socketFactory: cut.factory, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 300 } });
  // the killed process may still hold the task lease (5 s): the reader waits for it
  const reader = new BinlogCdcReader({ db: f.pool, store: f.store, kafka }, { cdcId: f.cdcId, leaseTtlMs: 5000, checkpointIntervalMs: 200, retry: { initialMs: 100, maxMs: 1000 } });
  const running = reader.run();
  const writer = new LoggedWriter(f);
  try {
    await writer.seedCold(2500);
    writer.start();
    await waitFor('ETL applying', () => Number(lastLine(f.etl, 'progress')?.written ?? 0) > 0, 90_000);
    writer.mode = 'once';
    await sleep(2_000);
    cut.down();
    const [g] = await f.pool.query('SELECT @@gtid_binlog_pos AS g');
    const atCut = seqOf(String((g as { g: string }[])[0].g));
    const ackedBefore = writer.acked;
    for (let s = 0; s < 30; s += 2) {
      await sleep(2_000);
      expect(seqOf((await f.store.get(f.cdcId))?.position?.gtid)).toBeLessThanOrEqual(atCut);
    }
    expect(reader.progress().kafkaError).not.toBeNull();
    const ackedDuring = writer.acked - ackedBefore;
    const tUp = Date.now();
    cut.up();
    await sleep(3_000);
    writer.mode = 'hot';
    await writer.stop();
    const { counts, ms } = await f.converge(150_000);
    const recoverMs = Date.now() - tUp;
    expect(counts.missing + counts.different + counts.extra).toBe(0);
    const report = await writer.check(f.client);
    console.log(`${verdict(report)}; once-window writes acked: ${writer.ackedOnce}; recovered in ${recoverMs} ms`);
    expect(report.keys.slice(0, 3)).toEqual([]);
    expect(report.lostWrites).toBe(0);
    expect(ackedDuring).toBeGreaterThan(500);
    expect(f.etl.child.exitCode).toBeNull();
    expect(await writer.lossIsVisible(f.client)).toBeGreaterThanOrEqual(1);
    record({
      fault: 'network partition between the CDC reader and Kafka, 30 s (reader sockets cut; broker up), then healed',
      phase: 'CDC + stream ETL under write load', recovered: true, recoverMs, convergeMs: ms, writesAcked: writer.acked, writesDuringFault: ackedDuring,
      writesLost: report.lostWrites, mismatches: counts.missing + counts.different + counts.extra,
      command: `npm run test:faults -- cdc-partition (${verdict(report)}; ${writer.ackedOnce} writes acked in the once-window; recoverMs: partition healed → DynamoDB verified clean)`,
    });
  } finally {
    await writer.stop();
    reader.stop();
    await running.catch(() => undefined);
  }
});
