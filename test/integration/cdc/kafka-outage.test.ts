/**
 * Kafka unavailable while CDC runs: the reader's connections to the (shared, untouched) broker are cut with a
 * kafkajs socketFactory that refuses while "down" (a network partition for this reader only). The reader keeps
 * retrying, reports the error, and the checkpoint does not move; once Kafka is reachable every event arrives.
 */
import * as net from 'node:net';
import { logLevel, type ISocketFactory } from 'kafkajs';
import { BinlogCdcReader } from '../../../src/pipeline/cdc/reader';
import { BuiltinCdcSource } from '../../../src/pipeline/cdc/source';
import { uniqueName } from '../../support/ids';
import { cdcFixture, createKafka, readTopic, type CdcFixture } from './support';

jest.setTimeout(90_000);

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

const waitFor = async (cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('CDC while Kafka is unreachable', () => {
  let f: CdcFixture;
  beforeAll(async () => {
    f = await cdcFixture('cdc_outage');
    await f.pool.query(`CREATE TABLE ${f.db}.t (id INT PRIMARY KEY)`);
  });
  afterAll(() => f.close());

  it('retries without moving the checkpoint, then delivers everything', async () => {
    const source = new BuiltinCdcSource({ db: f.pool, store: f.store, kafka: f.kafka });
    const { cdcId } = await source.start({ tables: [{ database: f.db, table: 't' }], topic: f.topic, partitions: 2 });
    const net = partitionableSockets();
    const kafka = createKafka(uniqueName('cdc_outage_reader'), { logLevel: logLevel.NOTHING, socketFactory: net.factory, retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 300 } });
    const reader = new BinlogCdcReader({ db: f.pool, store: f.store, kafka }, { cdcId, leaseTtlMs: 5000, checkpointIntervalMs: 100, retry: { initialMs: 100, maxMs: 400 } });
    const running = reader.run();
    const seq = async (): Promise<bigint> => BigInt((await f.store.get(cdcId))!.position!.gtid!.split('-')[2]);
    try {
      for (let i = 1; i <= 10; i++) await f.pool.query(`INSERT INTO ${f.db}.t VALUES (${i})`);
      await waitFor(() => reader.progress().published >= 10 && reader.progress().pendingMessages === 0);
      net.down();
      // GTID sequence of each outage insert (other engineers' transactions may interleave on the shared server)
      const outageSeqs: bigint[] = [];
      const conn = await f.pool.getConnection();
      try {
        for (let i = 11; i <= 30; i++) {
          await conn.query(`INSERT INTO ${f.db}.t VALUES (${i})`);
          const [g] = await conn.query('SELECT @@last_gtid AS g');
          outageSeqs.push(BigInt(String((g as { g: string }[])[0].g).split('-')[2]));
        }
      } finally {
        conn.release();
      }
      await waitFor(() => reader.progress().kafkaError !== null && reader.progress().pendingMessages === 20);
      for (let k = 0; k < 10; k++) {
        await new Promise((r) => setTimeout(r, 200));
        expect(await seq()).toBeLessThan(outageSeqs[0]);
      }
      expect(reader.progress().published).toBe(10);
      expect((await f.store.get(cdcId))!.error).toMatch(/kafka unavailable/);

      net.up();
      await waitFor(() => reader.progress().pendingMessages === 0, 30_000);
      expect(reader.progress().kafkaError).toBeNull();
      await waitFor(async () => (await seq()) >= outageSeqs[19]);
      const msgs = await readTopic(f.kafka, f.topic, (m) => new Set(m.map((x) => (x.value.data as { id: number }).id)).size >= 30);
      const ids = new Set(msgs.map((x) => (x.value.data as { id: number }).id));
      expect([...Array(30).keys()].map((i) => i + 1).filter((i) => !ids.has(i))).toEqual([]);
    } finally {
      reader.stop();
      await running.catch(() => undefined);
    }
  });
});
