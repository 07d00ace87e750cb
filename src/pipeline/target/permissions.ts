/**
 * DynamoDB permission preflight: proves, before a migration starts, that the worker's AWS identity holds every
 * DynamoDB permission the migration will use, WITHOUT changing any item or table, and reports every missing one
 * together, by name (`dynamodb:PutItem on table X`), in one DynamoPermissionError.
 *
 * How each permission is proven (IAM is evaluated before the request is executed, so an authorised probe gets the
 * service's own answer and an unauthorised one AccessDeniedException; a table that does not exist yet answers
 * ResourceNotFoundException only when the caller is authorised for its ARN):
 *   DescribeTable                     DescribeTable.
 *   GetItem / BatchGetItem            a read of a key that cannot exist (a random `cutover-preflight-probe#<uuid>`).
 *   Scan                              Scan, Limit 1, Select COUNT (no item data is returned).
 *   PutItem / UpdateItem / DeleteItem on that key with the condition `attribute_exists(#k) AND attribute_not_exists(#k)`,
 *                                     which can never hold: ConditionalCheckFailedException = granted, nothing written.
 *   BatchWriteItem                    cannot carry a condition: one DeleteRequest of the key that cannot exist. Deleting
 *                                     a missing item is a no-op, so nothing changes. IAM authorises a BatchWriteItem as
 *                                     dynamodb:BatchWriteItem on each table it names, whatever requests it holds, so the
 *                                     DeleteRequest proves what the apply's PutRequests need (AWS's documented rule).
 *   CreateTable, existing table       not needed: an existing target is only checked, and ControlStore.ensureTable
 *                                     describes the control table before it would create it.
 *   CreateTable on a missing table    NOT probed (it cannot be proven without creating): ensureTarget, the next step
 *                                     and still before CDC starts, creates the target and the control table and turns
 *                                     an AccessDeniedException into this same error (see permissionErrorOf).
 *   DeleteTable                       NOT probed: any DeleteTable of the real name could delete the table if a create
 *                                     won a race with the probe. Only abortCleanup uses it (a table this migration
 *                                     created, on abort); a denial there fails the abort naming the AWS error.
 * What is required per table is derived from the calls the worker and the ETL make (see REQUIRED below), a subset of
 * the policy in docs/security.md. Only AccessDeniedException / UnrecognizedClientException count as "missing";
 * any other error (throttling, network) is thrown as it is, so the activity's retry policy handles it.
 */
import { randomUUID } from 'node:crypto';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { PreflightError } from '../../shared/errors';
import type { TargetTable } from '../transform/mapping';

/** One table's key attributes (names and DynamoDB scalar types). */
export interface ProbeKeySchema {
  readonly partitionKey: { readonly name: string; readonly type: 'S' | 'N' | 'B' };
  readonly sortKey?: { readonly name: string; readonly type: 'S' | 'N' | 'B' };
}

/** A DynamoDB action cutover may need, as IAM names it without the `dynamodb:` prefix. */
export type DynamoAction =
  | 'DescribeTable' | 'GetItem' | 'BatchGetItem' | 'Scan' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'BatchWriteItem' | 'CreateTable';

/** The actions preflight proves by a call (CreateTable never: it cannot be proven without creating). */
type ProbedAction = Exclude<DynamoAction, 'CreateTable'>;

/**
 * A table to check and the role it plays. Both are created when missing (the target by ensureTarget with
 * `createTarget`, else ensureTarget fails anyway; the control table by ControlStore.ensureTable), and only then need
 * CreateTable.
 */
export interface PermissionTarget {
  readonly role: 'target' | 'control';
  readonly table: string;
  readonly key: ProbeKeySchema;
}

/** The tables a migration writing `target` uses, with the ETL control table `controlTable`. */
export function migrationPermissionTargets(target: TargetTable, controlTable: string): PermissionTarget[] {
  return [
    { role: 'target', table: target.table, key: target },
    // The control table's key, as ControlStore.ensureTable creates it.
    { role: 'control', table: controlTable, key: { partitionKey: { name: 'pk', type: 'S' } } },
  ];
}

/**
 * Actions each role needs, from the calls in src: the target is described (ensureTarget), scanned (emptiness, verify,
 * tombstone cleanup, reconcile), batch-read (version cache, verify) and written (BatchWriteItem, PutItem; DeleteItem
 * by cleanup); the control table is read and written item by item (leases, modes, members, rebuild marker).
 * GetItem / Query / UpdateItem on the target are the application's (routing layer), not the migration's.
 */
export const REQUIRED: Readonly<Record<PermissionTarget['role'], readonly ProbedAction[]>> = {
  target: ['DescribeTable', 'Scan', 'BatchGetItem', 'PutItem', 'DeleteItem', 'BatchWriteItem'],
  control: ['DescribeTable', 'GetItem', 'BatchGetItem', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem'],
};

/** The outcome of one permission. `probed: false` means it was not (or could not be) proven here; see `detail`. */
export interface PermissionCheck {
  readonly action: DynamoAction | 'DeleteTable';
  readonly table: string;
  readonly role: PermissionTarget['role'];
  readonly granted: boolean;
  readonly probed: boolean;
  readonly detail: string;
}

/** Every missing DynamoDB permission of a migration, by name; nothing was started or changed. */
export class DynamoPermissionError extends PreflightError {
  constructor(readonly missing: readonly PermissionCheck[]) {
    super(
      `the AWS identity lacks ${missing.map((m) => `dynamodb:${m.action} on table ${m.table}`).join(', ')} ` +
        `(${missing.map((m) => m.detail).filter((d, i, a) => a.indexOf(d) === i).join('; ')}); grant them as in docs/security.md (AWS IAM)`,
      'dynamodb permissions',
    );
  }
}

const DENIED = new Set(['AccessDeniedException', 'UnrecognizedClientException']);

/**
 * The "missing permission" error for `e` if it is an authorisation failure, else undefined. The action is read from
 * AWS's message (`not authorized to perform: dynamodb:X on resource: …`) when it names one, else `action` is assumed.
 */
export function permissionErrorOf(e: unknown, action: DynamoAction, table: string, role: PermissionTarget['role']): DynamoPermissionError | undefined {
  const name = (e as Error | undefined)?.name ?? '';
  if (!DENIED.has(name)) return undefined;
  const named = /perform: dynamodb:([A-Za-z]+)/.exec((e as Error).message ?? '')?.[1] as DynamoAction | undefined;
  const a = named ?? action;
  return new DynamoPermissionError([{ action: a, table, role, granted: false, probed: true, detail: `${name} from ${a}` }]);
}

const PROBE_PREFIX = 'cutover-preflight-probe#';

function impossibleValue(type: 'S' | 'N' | 'B', nonce: string): AttributeValue {
  if (type === 'S') return { S: PROBE_PREFIX + nonce };
  if (type === 'B') return { B: new TextEncoder().encode(PROBE_PREFIX + nonce) };
  // A negative number with 32 random digits after the point: no integer key, and no realistic DECIMAL key, is it.
  return { N: `-0.${BigInt(`0x${nonce.replace(/-/g, '')}`).toString().padEnd(32, '7').slice(0, 32)}1` };
}

function probeKey(k: ProbeKeySchema): Record<string, AttributeValue> {
  const nonce = randomUUID();
  return { [k.partitionKey.name]: impossibleValue(k.partitionKey.type, nonce), ...(k.sortKey ? { [k.sortKey.name]: impossibleValue(k.sortKey.type, nonce) } : {}) };
}

/** Answers that prove the caller was authorised for the action. */
const GRANTED = new Set(['ConditionalCheckFailedException', 'ResourceNotFoundException', 'ResourceInUseException']);

async function probe(client: DynamoDBClient, t: PermissionTarget, action: ProbedAction): Promise<PermissionCheck> {
  const TableName = t.table;
  const Key = probeKey(t.key);
  const never = { ConditionExpression: 'attribute_exists(#k) AND attribute_not_exists(#k)', ExpressionAttributeNames: { '#k': t.key.partitionKey.name } };
  const send: Record<ProbedAction, () => Promise<unknown>> = {
    DescribeTable: () => client.send(new DescribeTableCommand({ TableName })),
    GetItem: () => client.send(new GetItemCommand({ TableName, Key })),
    BatchGetItem: () => client.send(new BatchGetItemCommand({ RequestItems: { [TableName]: { Keys: [Key] } } })),
    Scan: () => client.send(new ScanCommand({ TableName, Limit: 1, Select: 'COUNT' })),
    PutItem: () => client.send(new PutItemCommand({ TableName, Item: Key, ...never })),
    UpdateItem: () => client.send(new UpdateItemCommand({ TableName, Key, ...never })),
    DeleteItem: () => client.send(new DeleteItemCommand({ TableName, Key, ...never })),
    BatchWriteItem: () => client.send(new BatchWriteItemCommand({ RequestItems: { [TableName]: [{ DeleteRequest: { Key } }] } })),
  };
  const base = { action, table: t.table, role: t.role, probed: true };
  try {
    await send[action]();
    return { ...base, granted: true, detail: 'answered' };
  } catch (e) {
    const name = (e as Error).name;
    if (GRANTED.has(name)) return { ...base, granted: true, detail: `authorised (${name})` };
    if (DENIED.has(name)) return { ...base, granted: false, detail: `${name} from ${action}` };
    throw e;
  }
}

async function tableExists(client: DynamoDBClient, table: string): Promise<boolean | undefined> {
  try {
    await client.send(new DescribeTableCommand({ TableName: table }));
    return true;
  } catch (e) {
    const name = (e as Error).name;
    if (name === 'ResourceNotFoundException') return false;
    if (DENIED.has(name)) return undefined; // reported by the DescribeTable probe
    throw e;
  }
}

/**
 * Probes every permission `targets` need (see the file comment) and returns one check per permission, including
 * those not probed (with the reason). Changes no item and no table. Throws only errors that are not authorisation
 * failures (throttling, network).
 */
export async function probeDynamoPermissions(client: DynamoDBClient, targets: readonly PermissionTarget[]): Promise<PermissionCheck[]> {
  const out: PermissionCheck[] = [];
  for (const t of targets) {
    const exists = await tableExists(client, t.table);
    out.push(...(await Promise.all(REQUIRED[t.role].map((a) => probe(client, t, a)))));
    if (exists !== true) {
      // An existing table is never created again (ControlStore.ensureTable describes the control table first).
      const why = exists === false
        ? 'not probed: the table does not exist and CreateTable cannot be proven without creating it; ensureTarget creates it next, before CDC starts, and reports a denial as this error'
        : 'not probed: DescribeTable was denied, so whether the table must be created is unknown';
      out.push({ action: 'CreateTable', table: t.table, role: t.role, granted: true, probed: false, detail: why });
      if (t.role === 'target' && exists === false) {
        out.push({ action: 'DeleteTable', table: t.table, role: t.role, granted: true, probed: false, detail: 'not probed (a DeleteTable of the real name could delete it); used only by abortCleanup of a target this migration created' });
      }
    }
  }
  return out;
}

/** probeDynamoPermissions, then a DynamoPermissionError naming every missing permission, if any. */
export async function assertDynamoPermissions(client: DynamoDBClient, targets: readonly PermissionTarget[]): Promise<PermissionCheck[]> {
  const checks = await probeDynamoPermissions(client, targets);
  const missing = checks.filter((c) => !c.granted);
  if (missing.length) throw new DynamoPermissionError(missing);
  return checks;
}
