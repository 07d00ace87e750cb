/**
 * CdcSource over AWS Database Migration Service: creates (or reuses) a full-load-and-cdc (or cdc) replication task
 * with generated table mappings, makes sure the Kafka target endpoint has the settings the parser needs, starts,
 * describes (DescribeReplicationTasks + DescribeTableStatistics), stops and resumes it.
 *
 * Invariants:
 *   - start() is idempotent: the task identifier is derived from the request (or given), an existing task is reused
 *     and only started when it is not already starting/running; a creation race (ResourceAlreadyExistsFault) reuses
 *     the winner's task. The cdcId is the task ARN.
 *   - Every documented task status maps to a CdcState: creating/modifying/moving/testing/ready/starting → starting,
 *     running → running, stopping → stopping, stopped → stopped (failed when its StopReason is an error),
 *     failed/failed-move/deleting → failed with LastFailureMessage / StopReason as the error.
 *   - SDK faults become DmsTaskError: throttling and InternalFailure are retriable, everything else (access denied,
 *     quota, KMS, invalid parameter, missing resources) is not. InvalidResourceStateFault on stop of a stopped task
 *     is success.
 *   - Never run against real AWS in this repository's tests (no account is reachable); see README.
 */
import {
  CreateReplicationTaskCommand,
  DescribeEndpointsCommand,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  ModifyEndpointCommand,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
  type DatabaseMigrationServiceClient,
  type ReplicationTask,
} from '@aws-sdk/client-database-migration-service';
import type { CdcDescription, CdcState, StartCdcResult, StopCdcResult } from '../../shared/activity-contract';
import { formatPosition } from './checkpoint';
import { kafkaEndpointSettings, kafkaSettingsMatch, tableMappings, taskIdentifier, taskSettings } from './dms-config';
import { DmsTaskError } from './errors';
import type { CdcCounts, CdcSource, CdcStartRequest } from './source';

export interface DmsSourceConfig {
  readonly replicationInstanceArn: string;
  readonly sourceEndpointArn: string;
  readonly targetEndpointArn: string;
  /** Kafka brokers as DMS reaches them ("host:port,host:port"). */
  readonly broker: string;
  readonly taskIdentifier?: string;
  /** Poll interval and bound while waiting for a task to become ready or stopped. */
  readonly pollMs?: number;
  readonly maxWaitMs?: number;
}

const STARTING = new Set(['creating', 'modifying', 'moving', 'testing', 'ready', 'starting']);
const ERROR_STOP = /error|fail/i;
const RETRIABLE = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'InternalFailure', 'ServiceUnavailable', 'RequestTimeout', 'TimeoutError']);

/** The CdcState of a DMS task status (see module invariants). */
export function cdcStateOf(task: Pick<ReplicationTask, 'Status' | 'StopReason'>): CdcState {
  const s = task.Status ?? '';
  if (s === 'running') return 'running';
  if (s === 'stopping') return 'stopping';
  if (s === 'stopped') return ERROR_STOP.test(task.StopReason ?? '') ? 'failed' : 'stopped';
  if (STARTING.has(s)) return 'starting';
  return 'failed';
}

export class DmsCdcSource implements CdcSource {
  constructor(
    private readonly client: DatabaseMigrationServiceClient,
    private readonly cfg: DmsSourceConfig,
  ) {}

  async start(req: CdcStartRequest): Promise<StartCdcResult> {
    const id = this.cfg.taskIdentifier ?? taskIdentifier(`${req.tables.map((t) => `${t.database}.${t.table}`).sort().join('-')}-${req.topic}`);
    await this.ensureEndpoint(id, req.topic);
    let task = await this.find(id);
    let createdTask = false;
    if (!task) {
      try {
        const startAt = req.start;
        const out = await this.call(id, () => this.client.send(new CreateReplicationTaskCommand({
          ReplicationTaskIdentifier: id,
          ReplicationInstanceArn: this.cfg.replicationInstanceArn,
          SourceEndpointArn: this.cfg.sourceEndpointArn,
          TargetEndpointArn: this.cfg.targetEndpointArn,
          MigrationType: req.fullLoad === false ? 'cdc' : 'full-load-and-cdc',
          TableMappings: tableMappings(req.tables),
          ReplicationTaskSettings: taskSettings(),
          ...(startAt?.kind === 'timestamp' ? { CdcStartTime: new Date(startAt.at) } : {}),
          ...(startAt?.kind === 'position' ? { CdcStartPosition: startAt.position.file ? `${startAt.position.file}:${startAt.position.pos ?? 4}` : formatPosition(startAt.position) ?? undefined } : {}),
          Tags: [{ Key: 'cutover:topic', Value: req.topic }],
        })));
        task = out.ReplicationTask;
        createdTask = true;
      } catch (e) {
        if (!(e instanceof DmsTaskError && /ResourceAlreadyExistsFault/.test(e.message))) throw e;
        task = await this.find(id);
      }
      if (!task) throw new DmsTaskError(id, 'task not found right after creation');
    }
    task = await this.waitWhile(id, task, (s) => s === 'creating' || s === 'modifying' || s === 'moving' || s === 'testing');
    const status = task.Status ?? '';
    if (status === 'failed' || status === 'failed-move' || status === 'deleting') {
      throw new DmsTaskError(id, `cannot start: status ${status}${task.LastFailureMessage ? `: ${task.LastFailureMessage}` : ''}`);
    }
    if (status === 'ready' || status === 'stopped') {
      await this.startTask(id, task.ReplicationTaskArn!, status === 'ready' ? 'start-replication' : 'resume-processing');
    }
    return {
      cdcId: task.ReplicationTaskArn!, topic: req.topic, partitions: req.partitions,
      startPosition: task.CdcStartPosition ?? (req.start?.kind === 'timestamp' ? `timestamp ${req.start.at}` : 'now'),
      createdTopic: false, createdTask,
    };
  }

  async describe(cdcId: string): Promise<CdcDescription & { perTable: Record<string, CdcCounts> }> {
    const task = await this.byArn(cdcId);
    const perTable: Record<string, CdcCounts> = {};
    const counts = { loads: 0, inserts: 0, updates: 0, deletes: 0 };
    let marker: string | undefined;
    do {
      const out = await this.call(cdcId, () => this.client.send(new DescribeTableStatisticsCommand({ ReplicationTaskArn: cdcId, MaxRecords: 500, Marker: marker })));
      for (const t of out.TableStatistics ?? []) {
        const c = { loads: t.FullLoadRows ?? 0, inserts: t.Inserts ?? 0, updates: t.Updates ?? 0, deletes: t.Deletes ?? 0 };
        perTable[`${t.SchemaName}.${t.TableName}`] = c;
        counts.loads += c.loads;
        counts.inserts += c.inserts;
        counts.updates += c.updates;
        counts.deletes += c.deletes;
      }
      marker = out.Marker;
    } while (marker);
    const state = cdcStateOf(task);
    const error = state === 'failed' ? task.LastFailureMessage ?? task.StopReason ?? `task status ${task.Status}` : undefined;
    // The DMS API exposes no latency; CloudWatch's CDCLatencySource/CDCLatencyTarget do. 0 here means "unknown".
    return { state, publishedPosition: task.RecoveryCheckpoint ?? task.CdcStartPosition ?? null, lagSeconds: 0, counts, perTable, ...(error ? { error } : {}) };
  }

  async stop(cdcId: string): Promise<StopCdcResult> {
    let task = await this.byArn(cdcId);
    if (task.Status === 'running' || task.Status === 'starting') {
      try {
        await this.call(cdcId, () => this.client.send(new StopReplicationTaskCommand({ ReplicationTaskArn: cdcId })));
      } catch (e) {
        if (!(e instanceof DmsTaskError && /InvalidResourceStateFault/.test(e.message))) throw e;
      }
    }
    task = await this.waitWhile(cdcId, await this.byArn(cdcId), (s) => s === 'stopping' || s === 'running' || s === 'starting');
    return { state: cdcStateOf(task), finalPosition: task.RecoveryCheckpoint ?? null };
  }

  async resume(cdcId: string): Promise<{ state: CdcState }> {
    const task = await this.byArn(cdcId);
    if (task.Status === 'stopped') await this.startTask(cdcId, cdcId, 'resume-processing');
    else if (task.Status === 'ready') await this.startTask(cdcId, cdcId, 'start-replication');
    else if (task.Status === 'failed' || task.Status === 'failed-move') throw new DmsTaskError(cdcId, `cannot resume: status ${task.Status}: ${task.LastFailureMessage ?? ''}`);
    return { state: cdcStateOf(await this.byArn(cdcId)) };
  }

  private async startTask(id: string, arn: string, type: 'start-replication' | 'resume-processing'): Promise<void> {
    try {
      await this.call(id, () => this.client.send(new StartReplicationTaskCommand({ ReplicationTaskArn: arn, StartReplicationTaskType: type })));
    } catch (e) {
      // already starting/running (a concurrent start won): fine
      if (!(e instanceof DmsTaskError && /InvalidResourceStateFault/.test(e.message))) throw e;
    }
  }

  private async ensureEndpoint(id: string, topic: string): Promise<void> {
    const wanted = kafkaEndpointSettings(this.cfg.broker, topic);
    const out = await this.call(id, () => this.client.send(new DescribeEndpointsCommand({ Filters: [{ Name: 'endpoint-arn', Values: [this.cfg.targetEndpointArn] }] })));
    const ep = out.Endpoints?.[0];
    if (!ep) throw new DmsTaskError(id, `target endpoint ${this.cfg.targetEndpointArn} not found`);
    if (ep.EngineName && ep.EngineName !== 'kafka') throw new DmsTaskError(id, `target endpoint ${this.cfg.targetEndpointArn} is ${ep.EngineName}, not kafka`);
    if (!kafkaSettingsMatch(ep.KafkaSettings, wanted)) {
      await this.call(id, () => this.client.send(new ModifyEndpointCommand({ EndpointArn: this.cfg.targetEndpointArn, KafkaSettings: { ...ep.KafkaSettings, ...wanted } })));
    }
  }

  private async find(id: string): Promise<ReplicationTask | undefined> {
    try {
      const out = await this.call(id, () => this.client.send(new DescribeReplicationTasksCommand({ Filters: [{ Name: 'replication-task-id', Values: [id] }], WithoutSettings: true })));
      return out.ReplicationTasks?.[0];
    } catch (e) {
      if (e instanceof DmsTaskError && /ResourceNotFoundFault/.test(e.message)) return undefined;
      throw e;
    }
  }

  private async byArn(arn: string): Promise<ReplicationTask> {
    const out = await this.call(arn, () => this.client.send(new DescribeReplicationTasksCommand({ Filters: [{ Name: 'replication-task-arn', Values: [arn] }], WithoutSettings: true })));
    const task = out.ReplicationTasks?.[0];
    if (!task) throw new DmsTaskError(arn, 'no such replication task');
    return task;
  }

  private async waitWhile(id: string, task: ReplicationTask, busy: (status: string) => boolean): Promise<ReplicationTask> {
    const deadline = Date.now() + (this.cfg.maxWaitMs ?? 15 * 60_000);
    let t = task;
    while (busy(t.Status ?? '')) {
      if (Date.now() > deadline) throw new DmsTaskError(id, `still ${t.Status} after ${this.cfg.maxWaitMs ?? 900_000} ms`, true);
      await new Promise((r) => setTimeout(r, this.cfg.pollMs ?? 5000));
      t = await this.byArn(t.ReplicationTaskArn!);
    }
    return t;
  }

  /** Runs an SDK call, translating faults into DmsTaskError (retriable for throttling and internal failures). */
  private async call<T>(id: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      const name = (e as { name?: string }).name ?? 'Error';
      throw new DmsTaskError(id, `${name}: ${(e as Error).message}`, RETRIABLE.has(name), { cause: e });
    }
  }
}
