/**
 * TEST-ONLY stand-in for cutover's CDC → Kafka → ETL apply path, used until the real pipeline (src/pipeline/cdc +
 * src/pipeline/apply) is wired end to end: it reads the real MariaDB binlog with zongji (GTID events and row
 * images), decodes rows with the shared row codec, maps them with the shared mapping, and applies each row change
 * to DynamoDB with the same rule as the ETL (version = changeVersion(GTID seq, row index), conditional `_v < :v`),
 * in binlog order. What it does not model: Kafka partitioning, redelivery, batching.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Pool } from 'mysql2/promise';
import { createZongJi, type ZongJi } from '../../../../src/pipeline/cdc/zongji';
import { rowFromBinlog, type ColumnInfo } from '../../../../src/pipeline/row/codec';
import { changeVersion } from '../../../../src/pipeline/version';
import { DynamoSide } from '../../../../src/routing/dynamo-side';
import type { RoutingMapping } from '../../../../src/routing/mapping';
import { currentBinlogSeq } from '../../../../src/routing/reconcile';

type RowsEvent = { getEventName(): string; tableMap: Record<number, { parentSchema: string; tableName: string }>; tableId: number; rows: Array<Record<string, unknown>> };

export class TestCdcRelay {
  private zongji: ZongJi | undefined;
  private chain: Promise<void> = Promise.resolve();
  private curSeq = 0n;
  private rowIndex = 0;
  /** Every transaction with seq ≤ this is fully applied. */
  appliedSeq = 0n;
  applied = 0;
  skipped = 0;
  error: unknown;
  /** Every row change seen, in binlog order (for assertions about versions). */
  readonly seen: { seq: bigint; rowIndex: number; kind: string; row: Record<string, unknown> }[] = [];
  private readonly dynamo: DynamoSide;

  constructor(
    private readonly pool: Pool,
    private readonly mapping: RoutingMapping,
    private readonly columns: readonly ColumnInfo[],
    dynamo: DynamoDBClient,
  ) {
    this.dynamo = new DynamoSide(dynamo, mapping);
  }

  /** Starts reading at the current end of the binlog. */
  async start(): Promise<void> {
    const [rows] = (await this.pool.query('SELECT @@gtid_binlog_pos AS pos')) as unknown as [Array<{ pos: string }>];
    this.appliedSeq = await currentBinlogSeq(this.pool);
    this.curSeq = this.appliedSeq;
    const z = createZongJi();
    this.zongji = z;
    const { schema, table } = this.mapping.source;
    await new Promise<void>((resolve, reject) => {
      z.on('ready', () => resolve());
      z.on('error', (e: unknown) => {
        this.error = e;
        reject(e);
      });
      z.on('binlog', (raw) => {
        const evt = raw as unknown as RowsEvent & { seqNo?: number | string };
        const name = evt.getEventName();
        if (name === 'mariadbgtid') {
          const seq = BigInt(evt.seqNo as string | number);
          const prev = this.curSeq;
          this.enqueue(async () => {
            if (prev > this.appliedSeq) this.appliedSeq = prev;
          });
          this.curSeq = seq;
          this.rowIndex = 0;
          return;
        }
        if (name === 'xid') {
          const seq = this.curSeq;
          this.enqueue(async () => {
            if (seq > this.appliedSeq) this.appliedSeq = seq;
          });
          return;
        }
        if (name !== 'writerows' && name !== 'updaterows' && name !== 'deleterows') return;
        const tm = evt.tableMap[evt.tableId];
        if (!tm || tm.parentSchema !== schema || tm.tableName !== table) return;
        for (const r of evt.rows) {
          const version = changeVersion(this.curSeq, this.rowIndex++);
          const image = name === 'updaterows' ? (r.after as Record<string, unknown>) : r;
          const row = rowFromBinlog(this.columns, image);
          this.seen.push({ seq: this.curSeq, rowIndex: this.rowIndex - 1, kind: name, row });
          const item = this.dynamo.stamp(this.mapping.keyOf(row), name === 'deleterows' ? undefined : this.mapping.toItem(row), version);
          this.enqueue(async () => {
            if (await this.dynamo.putIfNewer(item)) this.applied++;
            else this.skipped++;
          });
        }
      });
      z.start({
        serverId: 50_000 + Math.floor(Math.random() * 1_000_000),
        gtidSet: rows[0].pos,
        includeEvents: ['mariadbgtid', 'tablemap', 'writerows', 'updaterows', 'deleterows', 'xid'],
        includeSchema: { [schema]: [table] },
      } as never);
    });
  }

  private enqueue(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).catch((e) => {
      this.error = e;
    });
  }

  /** Resolves when every transaction up to the binlog's current end is applied. */
  async catchUp(timeoutMs = 20_000): Promise<void> {
    const target = await currentBinlogSeq(this.pool);
    const deadline = Date.now() + timeoutMs;
    while (this.appliedSeq < target) {
      if (this.error) throw this.error;
      if (Date.now() > deadline) throw new Error(`CDC relay stuck at seq ${this.appliedSeq}, target ${target}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    await this.chain;
    await new Promise<void>((resolve) => {
      if (!this.zongji) return resolve();
      this.zongji.on('stopped', () => resolve());
      this.zongji.stop();
      setTimeout(resolve, 2000).unref();
    });
  }
}
