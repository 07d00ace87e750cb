/**
 * Parses a Kafka message produced by cutover's binlog reader, by AWS DMS (Kafka target, JSON) or by Debezium (the
 * MySQL/MariaDB connector's JSON envelope, with or without the schema wrapper) into a CdcEvent or CdcControlEvent.
 *
 * Invariants:
 *   - Anything else (not JSON, a Kafka tombstone, missing schema/table/data, an unknown operation, no derivable
 *     version) raises MalformedCdcMessageError naming topic, partition and offset. Nothing is guessed.
 *   - Versions (see ../version.ts and docs/design.md "CDC"):
 *       cutover      the exact version carried in stream-position (`cutover:1:<version>:...`).
 *       DMS load     "0": DMS publishes a table's full load before the changes it cached during the load, so any
 *                    change of the same row (a higher version) must win over a load.
 *       DMS change   from stream-position `<binlog base>.<file index>:<pos>[:...]` and transaction-record-id:
 *                    (fileIndex × 2^32 + pos) × ROW_SPAN + recordId. Monotonic in binlog order on one source
 *                    server; not comparable with GTID-based versions (do not mix producers on one topic) and not
 *                    valid across a source failover that renumbers binlog files. A DMS change without a parseable
 *                    stream-position (IncludeTransactionDetails off) is refused.
 *       Debezium     MariaDB GTID `d-s-seq` in source.gtid with transaction.total_order → changeVersion(seq,
 *                    total_order − 1); otherwise source.file/pos/row like DMS; snapshot reads (op r) → "0".
 *   - Row values are passed through as the producer wrote them. cutover's are canonical (../row/codec.ts); DMS's and
 *     Debezium's follow their own type mapping (e.g. BIGINT beyond 2^53 may already be rounded by the producer).
 *   - An empty before-image (`{}`, as DMS writes when no column qualifies) is treated as absent.
 */
import { MalformedCdcMessageError } from './errors';
import { versionFromStreamPosition } from './dms-format';
import type { CdcControlEvent, CdcEvent, CdcOperation, Row } from '../types';
import { changeVersion, ROW_SPAN } from '../version';

type Json = Record<string, unknown>;

const DATA_OPS: Record<string, CdcOperation> = { load: 'load', insert: 'insert', update: 'update', delete: 'delete' };
const CONTROL_OPS = new Set<CdcControlEvent['operation']>(['create-table', 'drop-table', 'add-column', 'drop-column', 'change-columns', 'rename-table', 'column-type-change']);
const DEBEZIUM_OPS: Record<string, CdcOperation> = { c: 'insert', u: 'update', d: 'delete', r: 'load' };

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** (fileIndex × 2^32 + pos) × ROW_SPAN + recordIndex: a version from a MySQL binlog coordinate. */
export function binlogCoordinateVersion(fileIndex: bigint, pos: bigint, recordIndex: bigint): string {
  return ((fileIndex * 2n ** 32n + pos) * ROW_SPAN + recordIndex).toString();
}

/**
 * Parses one message. `key` is unused for the result (the row carries its key) but accepted so callers can pass the
 * record as is; `value` is the message payload.
 */
export function parseCdcMessage(
  topic: string,
  partition: number,
  offset: string,
  key: Buffer | string | null | undefined,
  value: Buffer | string | null | undefined,
): CdcEvent | CdcControlEvent {
  void key;
  const fail = (reason: string): never => {
    throw new MalformedCdcMessageError(topic, partition, offset, reason);
  };
  if (value === null || value === undefined || value.length === 0) return fail('empty value (Kafka tombstone)');
  let msg: unknown;
  try {
    msg = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (e) {
    return fail(`not JSON: ${(e as Error).message}`);
  }
  if (!isObject(msg)) return fail('not a JSON object');
  const origin = { topic, partition, offset };
  if (isObject(msg.metadata) && ('data' in msg || 'control' in msg)) return parseDms(msg, origin, fail);
  const envelope = isObject(msg.payload) && 'op' in msg.payload ? msg.payload : msg;
  if (typeof envelope.op === 'string' && isObject(envelope.source)) return parseDebezium(envelope, origin, fail);
  return fail('neither an AWS DMS record ({data|control, metadata}) nor a Debezium envelope ({op, source, before, after})');
}

type Fail = (reason: string) => never;
type Origin = { topic: string; partition: number; offset: string };

function str(v: unknown, field: string, fail: Fail, allowEmpty = false): string {
  if (typeof v !== 'string' || (!allowEmpty && v === '')) return fail(`${field} missing or not a non-empty string`);
  return v;
}

function dmsVersion(meta: Json, operation: string, fail: Fail): string {
  const pos = meta['stream-position'];
  if (typeof pos === 'string') {
    const own = versionFromStreamPosition(pos);
    if (own !== undefined) return own;
    const m = /^[^:]*?\.(\d+):(\d+)(?::|$)/.exec(pos);
    if (m) {
      const rec = meta['transaction-record-id'];
      const recordIndex = typeof rec === 'number' && Number.isSafeInteger(rec) && rec >= 0 && rec < Number(ROW_SPAN) ? BigInt(rec) : 0n;
      return binlogCoordinateVersion(BigInt(m[1]), BigInt(m[2]), recordIndex);
    }
  }
  if (operation === 'load' || meta['record-type'] === 'control') return '0';
  return fail(`no version: metadata.stream-position ${JSON.stringify(pos)} is not a binlog coordinate (enable IncludeTransactionDetails)`);
}

function parseDms(msg: Json, origin: Origin, fail: Fail): CdcEvent | CdcControlEvent {
  const meta = msg.metadata as Json;
  const recordType = meta['record-type'];
  const operation = str(meta.operation, 'metadata.operation', fail);
  const schema = str(meta['schema-name'], 'metadata.schema-name', fail, recordType === 'control');
  const table = str(meta['table-name'], 'metadata.table-name', fail);
  if (recordType === 'control') {
    // DMS names a column rename 'rename-column' (IncludeTableAlterOperations); CdcControlEvent files it under change-columns.
    const op = operation === 'rename-column' ? 'change-columns' : operation;
    if (!CONTROL_OPS.has(op as CdcControlEvent['operation'])) return fail(`unknown control operation ${JSON.stringify(operation)}`);
    const control = isObject(msg.control) ? msg.control : {};
    return {
      operation: op as CdcControlEvent['operation'],
      schema,
      table,
      ...(typeof control.statement === 'string' ? { statement: control.statement } : {}),
      version: dmsVersion(meta, operation, fail),
    };
  }
  if (recordType !== 'data') return fail(`unknown metadata.record-type ${JSON.stringify(recordType)}`);
  const op = DATA_OPS[operation];
  if (!op) return fail(`unknown data operation ${JSON.stringify(operation)}`);
  if (!isObject(msg.data)) return fail('data missing or not an object');
  const before = msg['before-image'];
  if (before !== undefined && !isObject(before)) return fail('before-image is not an object');
  const commit = meta['commit-timestamp'];
  return {
    operation: op,
    schema,
    table,
    data: msg.data as Row,
    ...(before && Object.keys(before).length ? { before: before as Row } : {}),
    version: dmsVersion(meta, operation, fail),
    ...(typeof commit === 'string' ? { commitTimestamp: commit } : {}),
    origin,
  };
}

function parseDebezium(env: Json, origin: Origin, fail: Fail): CdcEvent {
  const op = DEBEZIUM_OPS[env.op as string];
  if (!op) return fail(`unknown Debezium op ${JSON.stringify(env.op)}`);
  const source = env.source as Json;
  const schema = str(source.db, 'source.db', fail);
  const table = str(source.table, 'source.table', fail);
  const after = env.after;
  const before = env.before;
  const data = op === 'delete' ? before : after;
  if (!isObject(data)) return fail(`${op === 'delete' ? 'before' : 'after'} missing or not an object for op ${String(env.op)}`);
  let version: string;
  const tx = isObject(env.transaction) ? env.transaction : undefined;
  const gtid = typeof source.gtid === 'string' ? /^(\d+)-(\d+)-(\d+)$/.exec(source.gtid) : null;
  if (op === 'load') version = '0';
  else if (gtid && tx && typeof tx.total_order === 'number' && tx.total_order >= 1) version = changeVersion(gtid[3], tx.total_order - 1);
  else if (typeof source.file === 'string' && /\.(\d+)$/.test(source.file) && typeof source.pos === 'number') {
    const fileIndex = BigInt(/\.(\d+)$/.exec(source.file)![1]);
    const row = typeof source.row === 'number' ? BigInt(source.row) : 0n;
    version = binlogCoordinateVersion(fileIndex, BigInt(source.pos), row);
  } else return fail('no version: source has neither gtid + transaction.total_order nor file/pos');
  const ts = typeof source.ts_ms === 'number' ? new Date(source.ts_ms).toISOString() : undefined;
  return {
    operation: op,
    schema,
    table,
    data: data as Row,
    ...(op === 'update' && isObject(before) ? { before: before as Row } : {}),
    version,
    ...(ts ? { commitTimestamp: ts } : {}),
    origin,
  };
}

/** True when `e` is a control (DDL) event rather than a row change. */
export function isControlEvent(e: CdcEvent | CdcControlEvent): e is CdcControlEvent {
  return !('data' in e);
}
