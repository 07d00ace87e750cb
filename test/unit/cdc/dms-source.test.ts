/**
 * Contract tests of the AWS DMS adapter against the documented request/response shapes (aws-sdk-client-mock; no AWS
 * account is reachable here): create-or-reuse + start, every documented task status, table statistics paging,
 * stop/resume, and the documented faults.
 */
import {
  CreateReplicationTaskCommand,
  DatabaseMigrationServiceClient,
  DescribeEndpointsCommand,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  ModifyEndpointCommand,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
  type ReplicationTask,
} from '@aws-sdk/client-database-migration-service';
import { mockClient } from 'aws-sdk-client-mock';
import { kafkaEndpointSettings, tableMappings, taskIdentifier, taskSettings } from '../../../src/pipeline/cdc/dms-config';
import { cdcStateOf, DmsCdcSource } from '../../../src/pipeline/cdc/dms-source';
import { DmsTaskError } from '../../../src/pipeline/cdc/errors';

const dms = mockClient(DatabaseMigrationServiceClient);
const ARN = 'arn:aws:dms:us-east-1:123456789012:task:ABCDEFGHIJKLMNOP';
const cfg = {
  replicationInstanceArn: 'arn:aws:dms:us-east-1:123456789012:rep:RI', sourceEndpointArn: 'arn:aws:dms:us-east-1:123456789012:endpoint:SRC',
  targetEndpointArn: 'arn:aws:dms:us-east-1:123456789012:endpoint:KAFKA', broker: 'b-1.msk:9092,b-2.msk:9092', pollMs: 0, maxWaitMs: 5_000,
};
const req = { tables: [{ database: 'app', table: 'users' }, { database: 'app', table: 'orders' }], topic: 'cdc.app', partitions: 12 };
const task = (Status: string, extra: Partial<ReplicationTask> = {}): ReplicationTask => ({ ReplicationTaskArn: ARN, ReplicationTaskIdentifier: 'x', Status, ...extra });
const fault = (name: string, message = name): Error => Object.assign(new Error(message), { name, $metadata: {} });

function source(): DmsCdcSource {
  return new DmsCdcSource(new DatabaseMigrationServiceClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }), cfg);
}

beforeEach(() => {
  dms.reset();
  dms.on(DescribeEndpointsCommand).resolves({ Endpoints: [{ EndpointArn: cfg.targetEndpointArn, EngineName: 'kafka', KafkaSettings: kafkaEndpointSettings(cfg.broker, req.topic) }] });
});

describe('generated DMS configuration', () => {
  it('selects and maps every table, keyed by primary key', () => {
    const m = JSON.parse(tableMappings(req.tables)) as { rules: Array<Record<string, unknown>> };
    expect(m.rules.filter((r) => r['rule-type'] === 'selection').map((r) => r['object-locator'])).toEqual([{ 'schema-name': 'app', 'table-name': 'users' }, { 'schema-name': 'app', 'table-name': 'orders' }]);
    expect(m.rules.filter((r) => r['rule-type'] === 'object-mapping').every((r) => r['rule-action'] === 'map-record-to-record' && (r['mapping-parameters'] as Record<string, string>)['partition-key-type'] === 'primary-key')).toBe(true);
    expect(new Set(m.rules.map((r) => r['rule-id'])).size).toBe(m.rules.length);
    expect(JSON.parse(taskSettings())).toMatchObject({ BeforeImageSettings: { EnableBeforeImage: true, FieldName: 'before-image', ColumnFilter: 'all' } });
    expect(kafkaEndpointSettings('b:9092', 't')).toMatchObject({ IncludeTransactionDetails: true, IncludeControlDetails: true, IncludeTableAlterOperations: true, IncludePartitionValue: true, MessageFormat: 'json' });
  });
  it('derives valid, stable task identifiers', () => {
    const id = taskIdentifier('app.users+app.orders--cdc.app__x');
    expect(id).toMatch(/^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$/);
    expect(id).toBe(taskIdentifier('app.users+app.orders--cdc.app__x'));
    expect(id.length).toBeLessThanOrEqual(255);
  });
});

describe('start: create or reuse, then start', () => {
  it('creates a full-load-and-cdc task when none exists, waits until ready, starts it', async () => {
    dms.on(DescribeReplicationTasksCommand).rejectsOnce(fault('ResourceNotFoundFault', 'No Tasks found matching provided filters'))
      .resolvesOnce({ ReplicationTasks: [task('creating')] }).resolves({ ReplicationTasks: [task('ready')] });
    dms.on(CreateReplicationTaskCommand).resolves({ ReplicationTask: task('creating') });
    dms.on(StartReplicationTaskCommand).resolves({ ReplicationTask: task('starting') });
    const out = await source().start(req);
    expect(out).toMatchObject({ cdcId: ARN, topic: 'cdc.app', partitions: 12, createdTask: true });
    const create = dms.commandCalls(CreateReplicationTaskCommand)[0].args[0].input;
    expect(create).toMatchObject({ MigrationType: 'full-load-and-cdc', ReplicationInstanceArn: cfg.replicationInstanceArn, SourceEndpointArn: cfg.sourceEndpointArn, TargetEndpointArn: cfg.targetEndpointArn, TableMappings: tableMappings(req.tables), ReplicationTaskSettings: taskSettings() });
    expect(dms.commandCalls(StartReplicationTaskCommand)[0].args[0].input).toEqual({ ReplicationTaskArn: ARN, StartReplicationTaskType: 'start-replication' });
    expect(dms.commandCalls(ModifyEndpointCommand)).toHaveLength(0);
  });

  it('cdc-only from a timestamp or a binlog position', async () => {
    dms.on(DescribeReplicationTasksCommand).rejectsOnce(fault('ResourceNotFoundFault')).resolves({ ReplicationTasks: [task('ready')] });
    dms.on(CreateReplicationTaskCommand).resolves({ ReplicationTask: task('ready') });
    dms.on(StartReplicationTaskCommand).resolves({});
    await source().start({ ...req, fullLoad: false, start: { kind: 'timestamp', at: '2026-01-02T03:04:05Z' } });
    expect(dms.commandCalls(CreateReplicationTaskCommand)[0].args[0].input).toMatchObject({ MigrationType: 'cdc', CdcStartTime: new Date('2026-01-02T03:04:05Z') });
    dms.reset();
    dms.on(DescribeEndpointsCommand).resolves({ Endpoints: [{ EndpointArn: cfg.targetEndpointArn, EngineName: 'kafka', KafkaSettings: kafkaEndpointSettings(cfg.broker, req.topic) }] });
    dms.on(DescribeReplicationTasksCommand).rejectsOnce(fault('ResourceNotFoundFault')).resolves({ ReplicationTasks: [task('ready')] });
    dms.on(CreateReplicationTaskCommand).resolves({ ReplicationTask: task('ready') });
    dms.on(StartReplicationTaskCommand).resolves({});
    await source().start({ ...req, fullLoad: false, start: { kind: 'position', position: { file: 'mysql-bin-changelog.000024', pos: 373 } } });
    expect(dms.commandCalls(CreateReplicationTaskCommand)[0].args[0].input).toMatchObject({ CdcStartPosition: 'mysql-bin-changelog.000024:373' });
  });

  it('reuses a running task without creating or starting anything', async () => {
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('running')] });
    expect(await source().start(req)).toMatchObject({ cdcId: ARN, createdTask: false });
    expect(dms.commandCalls(CreateReplicationTaskCommand)).toHaveLength(0);
    expect(dms.commandCalls(StartReplicationTaskCommand)).toHaveLength(0);
  });

  it('resumes a stopped task', async () => {
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('stopped', { StopReason: 'Stop Reason NORMAL' })] });
    dms.on(StartReplicationTaskCommand).resolves({});
    await source().start(req);
    expect(dms.commandCalls(StartReplicationTaskCommand)[0].args[0].input.StartReplicationTaskType).toBe('resume-processing');
  });

  it('reuses the winner after a creation race', async () => {
    dms.on(DescribeReplicationTasksCommand).rejectsOnce(fault('ResourceNotFoundFault')).resolves({ ReplicationTasks: [task('starting')] });
    dms.on(CreateReplicationTaskCommand).rejects(fault('ResourceAlreadyExistsFault', 'Task with identifier already exists'));
    expect(await source().start(req)).toMatchObject({ cdcId: ARN, createdTask: false });
    expect(dms.commandCalls(StartReplicationTaskCommand)).toHaveLength(0);
  });

  it('treats InvalidResourceStateFault on start as "already started"', async () => {
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('ready')] });
    dms.on(StartReplicationTaskCommand).rejects(fault('InvalidResourceStateFault'));
    await expect(source().start(req)).resolves.toMatchObject({ cdcId: ARN });
  });

  it('refuses a failed task with its failure message', async () => {
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('failed', { LastFailureMessage: 'Error 1236 reading binary log' })] });
    await expect(source().start(req)).rejects.toThrow(/status failed: Error 1236 reading binary log/);
  });

  it('fixes the Kafka endpoint settings when they differ', async () => {
    dms.on(DescribeEndpointsCommand).resolves({ Endpoints: [{ EndpointArn: cfg.targetEndpointArn, EngineName: 'kafka', KafkaSettings: { Broker: cfg.broker, Topic: 'other', IncludeTransactionDetails: false } }] });
    dms.on(ModifyEndpointCommand).resolves({});
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('running')] });
    await source().start(req);
    expect(dms.commandCalls(ModifyEndpointCommand)[0].args[0].input).toMatchObject({ EndpointArn: cfg.targetEndpointArn, KafkaSettings: kafkaEndpointSettings(cfg.broker, req.topic) });
  });

  it('refuses a target endpoint that is not Kafka', async () => {
    dms.on(DescribeEndpointsCommand).resolves({ Endpoints: [{ EndpointArn: cfg.targetEndpointArn, EngineName: 'kinesis' }] });
    await expect(source().start(req)).rejects.toThrow(/is kinesis, not kafka/);
  });
});

describe('describe', () => {
  it.each([
    ['creating', 'starting'], ['modifying', 'starting'], ['moving', 'starting'], ['testing', 'starting'], ['ready', 'starting'], ['starting', 'starting'],
    ['running', 'running'], ['stopping', 'stopping'], ['stopped', 'stopped'], ['failed', 'failed'], ['failed-move', 'failed'], ['deleting', 'failed'],
  ])('maps status %s to %s', (status, state) => {
    expect(cdcStateOf({ Status: status, StopReason: 'Stop Reason NORMAL' })).toBe(state);
  });

  it('reports a stop after a fatal error as failed, with the reason', async () => {
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('stopped', { StopReason: 'Stop Reason FATAL_ERROR', LastFailureMessage: 'Last Error Error 1236 reading binary log. Stop Reason FATAL_ERROR' })] });
    dms.on(DescribeTableStatisticsCommand).resolves({ TableStatistics: [] });
    expect(await source().describe(ARN)).toMatchObject({ state: 'failed', error: expect.stringContaining('1236') });
  });

  it('sums table statistics across pages and returns the recovery checkpoint', async () => {
    const checkpoint = 'checkpoint:V1#27#mysql-bin-changelog.157832:1975:-1:2002:677883278264080:mysql-bin-changelog.157832:1876#0#0#*#0#93';
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('running', { RecoveryCheckpoint: checkpoint })] });
    dms.on(DescribeTableStatisticsCommand)
      .resolvesOnce({ TableStatistics: [{ SchemaName: 'app', TableName: 'users', FullLoadRows: 100, Inserts: 5, Updates: 7, Deletes: 1, TableState: 'Table completed' }], Marker: 'm1' })
      .resolvesOnce({ TableStatistics: [{ SchemaName: 'app', TableName: 'orders', FullLoadRows: 50, Inserts: 2, Updates: 0, Deletes: 3 }] });
    const d = await source().describe(ARN);
    expect(d).toMatchObject({ state: 'running', publishedPosition: checkpoint, counts: { loads: 150, inserts: 7, updates: 7, deletes: 4 } });
    expect(d.perTable['app.orders']).toEqual({ loads: 50, inserts: 2, updates: 0, deletes: 3 });
    expect(dms.commandCalls(DescribeTableStatisticsCommand)[1].args[0].input.Marker).toBe('m1');
  });
});

describe('stop and resume', () => {
  it('stops a running task and waits until stopped', async () => {
    dms.on(DescribeReplicationTasksCommand).resolvesOnce({ ReplicationTasks: [task('running')] }).resolvesOnce({ ReplicationTasks: [task('stopping')] })
      .resolves({ ReplicationTasks: [task('stopped', { StopReason: 'Stop Reason NORMAL', RecoveryCheckpoint: 'cp' })] });
    dms.on(StopReplicationTaskCommand).resolves({ ReplicationTask: task('stopping') });
    expect(await source().stop(ARN)).toEqual({ state: 'stopped', finalPosition: 'cp' });
  });

  it('stopping an already stopped task succeeds without a call', async () => {
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('stopped')] });
    expect((await source().stop(ARN)).state).toBe('stopped');
    expect(dms.commandCalls(StopReplicationTaskCommand)).toHaveLength(0);
  });

  it('resume: resume-processing for stopped, start-replication for ready, refuse failed', async () => {
    dms.on(StartReplicationTaskCommand).resolves({});
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('stopped')] });
    await source().resume(ARN);
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('ready')] });
    await source().resume(ARN);
    expect(dms.commandCalls(StartReplicationTaskCommand).map((c) => c.args[0].input.StartReplicationTaskType)).toEqual(['resume-processing', 'start-replication']);
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('failed', { LastFailureMessage: 'boom' })] });
    await expect(source().resume(ARN)).rejects.toThrow(/boom/);
  });
});

describe('faults', () => {
  it.each([
    ['AccessDeniedFault', false], ['ResourceQuotaExceededFault', false], ['KMSKeyNotAccessibleFault', false], ['InvalidParameterValueException', false],
    ['StorageQuotaExceededFault', false], ['ThrottlingException', true], ['InternalFailure', true],
  ])('%s → DmsTaskError (retriable: %s)', async (name, retriable) => {
    dms.on(DescribeReplicationTasksCommand).rejects(fault('ResourceNotFoundFault'));
    dms.on(CreateReplicationTaskCommand).rejects(fault(name, `${name} happened`));
    const err = await source().start(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DmsTaskError);
    expect((err as DmsTaskError).retriable).toBe(retriable);
    expect((err as Error).message).toContain(name);
    expect((err as Error).name).toBe('DmsTaskError');
  });

  it('a task that never becomes ready times out with a retriable error', async () => {
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [task('creating')] });
    const s = new DmsCdcSource(new DatabaseMigrationServiceClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }), { ...cfg, maxWaitMs: 20 });
    const err = await s.start(req).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DmsTaskError);
    expect((err as DmsTaskError).retriable).toBe(true);
  });

  it('describe of an unknown task ARN', async () => {
    dms.on(DescribeReplicationTasksCommand).resolves({ ReplicationTasks: [] });
    await expect(source().describe(ARN)).rejects.toThrow(/no such replication task/);
  });
});
