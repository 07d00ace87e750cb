/**
 * End to end on the real stack with the real activities (in-process worker on a unique task queue, CDC hosted in the
 * worker, every control table in a private database): a small table migrates through every phase, rolls back from
 * DynamoDB-primary writes to shadow-writes, goes forward again and completes with verification passed.
 * (No application instances run here, so the flag barriers pass at once; live-load proofs are the demo's.)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { Worker } from '@temporalio/worker';
import { createDynamoClient } from '../../../src/infra/dynamodb';
import { createKafka } from '../../../src/infra/kafka';
import { createLogger } from '../../../src/infra/logger';
import { createMysqlPool } from '../../../src/infra/mysql';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { loadMigrationConfig } from '../../../src/cli/config';
import { approveSignal, rollbackUpdate, statusQuery, type MigrationStatus } from '../../../src/shared/messages';
import { migrationWorkflowId } from '../../../src/shared/task-queues';
import { buildActivities } from '../../../src/workers/activities';
import { workflowBundle } from '../../../src/workers/bundle';
import { tableMigrationWorkflow } from '../../../src/workflows';
import { uniqueName } from '../../support/ids';

jest.setTimeout(120_000);

describe('table migration end to end (real activities, real stack)', () => {
  it('migrates a table through every phase, rolls back from DynamoDB-primary writes and completes', async () => {
    const db = uniqueName('e2e').toLowerCase();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-e2e-'));
    const pool = createMysqlPool();
    await pool.query(`CREATE DATABASE \`${db}\``);
    await pool.query(`CREATE TABLE \`${db}\`.items (id BIGINT PRIMARY KEY, name VARCHAR(64), qty INT)`);
    await pool.query(`INSERT INTO \`${db}\`.items SELECT seq, CONCAT('n', seq), seq % 7 FROM seq_1_to_300`);
    fs.writeFileSync(path.join(dir, 'map.yaml'), `version: 1\ntargets:\n  ${db}_items:\n    billingMode: PAY_PER_REQUEST\ntables:\n  - source: ${db}.items\n    target: ${db}_items\n    partitionKey: { attribute: pk, template: "ITEM#{id}" }\n    nulls: omit\n`);
    fs.writeFileSync(path.join(dir, 'm.yaml'), `defaults:\n  soak: { readStep: 1s, shadowWrites: 1s, flipWrites: 1s }\n  gates: { reads: auto, readSteps: auto, shadowWrites: auto, flipWrites: auto, dynamoOnly: manual }\n  drainQuiet: 2s\n  slice: 15s\n  monitorInterval: 5s\n  cdc: { partitions: 2 }\ntables:\n  - source: ${db}.items\n    mapping: map.yaml\n    readLadder: [50, 100]\n`);
    const config = loadMigrationConfig(path.join(dir, 'm.yaml')).tables[0];
    const taskQueue = uniqueName('e2e-q');
    const logger = createLogger('e2e', new Writable({ write: (_c, _e, cb) => cb() }));
    const deps = buildActivities({ logger, settings: { cdcMetaDb: db, routingSchema: db, reportDir: path.join(dir, 'reports') } });
    const connection = await createWorkerConnection();
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities: deps.activities, maxHeartbeatThrottleInterval: '1 second' });
    const client = await createTemporalClient();
    const workflowId = migrationWorkflowId(db, 'items');
    try {
      await worker.runUntil(async () => {
        const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId, args: [{ config }] });
        const waitFor = async (pred: (s: MigrationStatus) => boolean, what: string) => {
          for (let i = 0; i < 600; i++) {
            const s = await handle.query(statusQuery);
            if (pred(s)) return s;
            if (s.awaiting?.problem) throw new Error(`${what}: blocked: ${s.awaiting.reason}`);
            await new Promise((r) => setTimeout(r, 200));
          }
          throw new Error(`timed out waiting for ${what}`);
        };
        let s = await waitFor((st) => st.awaiting?.gate === 'dynamo-only', 'dynamo-only gate');
        expect(s).toMatchObject({ writeMode: 'dynamo-primary', readPercent: 100, rowsCopied: 300, applyMode: 'shared' });
        expect(s.verification).toMatchObject({ passed: true, missing: 0, extra: 0, different: 0 });
        const rb = await handle.executeUpdate(rollbackUpdate, { args: [{ to: 'shadow-writes', by: 'e2e' }] });
        expect(rb).toMatchObject({ applied: true, writeMode: 'mysql-primary', readPercent: 100 });
        s = await waitFor((st) => st.awaiting?.gate === 'dynamo-only', 'dynamo-only gate again');
        await handle.signal(approveSignal, { gate: 'dynamo-only', by: 'e2e' });
        const out = await handle.result();
        expect(out.phase).toBe('complete');
        const end = await handle.query(statusQuery);
        expect(end.transitions.filter((t) => t.kind === 'phase').map((t) => t.to)).toEqual(expect.arrayContaining(['backfill', 'verify', 'read-cutover', 'flip-writes', 'shadow-writes', 'dynamo-only', 'drain-cdc', 'stop-cdc', 'complete']));
      });
    } finally {
      await client.workflow.getHandle(workflowId).terminate('cleanup').catch(() => undefined);
      await client.connection.close();
      await connection.close();
      await deps.close();
      const dynamo = createDynamoClient();
      await dynamo.send(new DeleteTableCommand({ TableName: `${db}_items` })).catch(() => undefined);
      dynamo.destroy();
      const admin = createKafka('e2e-cleanup').admin();
      await admin.connect();
      const topics = (await admin.listTopics()).filter((t) => t.includes(db));
      if (topics.length) await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.disconnect();
      await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await pool.end();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
