/**
 * No row data in workflow history, on the real stack: the real table-migration workflow runs on a real worker whose
 * preflight activity fails three times on a row holding a marker string, each time the way a real part fails:
 *  1. an ApplicationFailure with the marker unquoted in its message, in its details and in its cause chain, retriable;
 *  2. a mysql2 error quoting the row's key (ER_DUP_ENTRY from a real INSERT), retriable;
 *  3. the real mapping's TransformError for a value that is not a DATETIME (non-retryable: the workflow stops).
 * The last failure is in ActivityTaskFailed and the one before as the started event's lastFailure (attempt 1 leaves
 * no trace in history; the unit test test/unit/activities/failure.test.ts covers its shape). The whole history, payloads decoded, must not contain the marker, yet must name the table and column.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Worker } from '@temporalio/worker';
import { createMigrationActivities } from '../../../src/activities/migration';
import { loadMigrationConfig } from '../../../src/cli/config';
import { createLogger } from '../../../src/infra/logger';
import { createMysqlPool } from '../../../src/infra/mysql';
import { createTemporalClient, createWorkerConnection } from '../../../src/infra/temporal';
import { compileMapping } from '../../../src/pipeline/transform/mapping';
import type { MigrationActivities } from '../../../src/shared/activity-contract';
import { migrationWorkflowId } from '../../../src/shared/task-queues';
import { workflowBundle } from '../../../src/workers/bundle';
import { tableMigrationWorkflow } from '../../../src/workflows';
import { uniqueName } from '../../support/ids';

jest.setTimeout(90_000);

describe('workflow history holds no row data', () => {
  it('an activity failing on a row with a marker leaves no marker in the history, and names table and column', async () => {
    const marker = uniqueName('ROWMARK');
    const db = uniqueName('sechist').toLowerCase();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-sechist-'));
    const pool = createMysqlPool();
    await pool.query(`CREATE DATABASE \`${db}\``);
    await pool.query(`CREATE TABLE \`${db}\`.people (id VARCHAR(64) PRIMARY KEY, born VARCHAR(64))`);
    await pool.query(`INSERT INTO \`${db}\`.people VALUES (?, ?)`, [marker, `${marker}-born`]);
    fs.writeFileSync(path.join(dir, 'map.yaml'), `version: 1\ntables:\n  - source: ${db}.people\n    target: ${db}_people\n    partitionKey: { attribute: pk, template: "P#{id}" }\n    columns: { born: { type: datetime } }\n`);
    fs.writeFileSync(path.join(dir, 'm.yaml'), `tables:\n  - source: ${db}.people\n    mapping: map.yaml\n`);
    const config = loadMigrationConfig(path.join(dir, 'm.yaml')).tables[0];

    const preflight: MigrationActivities['preflight'] = async () => {
      const attempt = Context.current().info.attempt;
      const [rows] = await pool.query(`SELECT id, born FROM \`${db}\`.people`);
      const row = (rows as { id: string; born: string }[])[0];
      if (attempt === 2) await pool.query(`INSERT INTO \`${db}\`.people VALUES (?, ?)`, [row.id, row.born]); // duplicate key
      if (attempt === 1) throw ApplicationFailure.create({ type: 'RowFailure', message: `row ${row.id} failed`, details: [row], cause: new Error(`because of ${row.born}`) });
      const m = compileMapping({ source: `${db}.people`, target: `${db}_people`, partitionKey: { attribute: 'pk', template: 'P#{id}' }, columns: { born: { type: 'datetime' } }, nulls: 'omit' }, [
        { name: 'id', dataType: 'varchar', primaryKeyOrdinal: 1 },
        { name: 'born', dataType: 'varchar' },
      ]);
      m.toItem(row);
      throw new Error('unreachable: the mapping accepted a non-DATETIME value');
    };
    const logger = createLogger('sechist', new Writable({ write: (_c, _e, cb) => cb() }));
    const activities = createMigrationActivities({ parts: { preflight }, logger });
    const taskQueue = uniqueName('sechist-q');
    const connection = await createWorkerConnection();
    const worker = await Worker.create({ connection, taskQueue, workflowBundle: await workflowBundle(), activities });
    const client = await createTemporalClient();
    const workflowId = `${migrationWorkflowId(db, 'people')}:${uniqueName('h')}`;
    try {
      const history = await worker.runUntil(async () => {
        const handle = await client.workflow.start(tableMigrationWorkflow, { taskQueue, workflowId, args: [{ config }] });
        for (let i = 0; i < 300; i++) {
          const h = await handle.fetchHistory();
          if (h.events?.some((e) => e.activityTaskFailedEventAttributes)) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        await new Promise((r) => setTimeout(r, 1000)); // let the workflow record how it handled the failure
        await handle.terminate('security test done');
        return handle.fetchHistory();
      });
      const decode = (k: string, v: unknown): unknown =>
        k === 'data' && typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v;
      const text = JSON.stringify(history, decode);
      const failures = (history.events ?? []).flatMap((e) => [e.activityTaskFailedEventAttributes?.failure, e.activityTaskStartedEventAttributes?.lastFailure]).filter(Boolean);
      const described = failures.map((f) => `${f?.applicationFailureInfo?.type}: ${f?.message}`);
      expect(described).toEqual(expect.arrayContaining([expect.stringMatching(/^TransformError: .*people\.born: not a DATETIME value/), expect.stringMatching(/^Error: message withheld .*\[ER_DUP_ENTRY\]/)]));
      expect(text).toContain(`${db}.people`);
      expect(text).not.toContain(marker);
    } finally {
      await client.workflow.getHandle(workflowId).terminate('cleanup').catch(() => undefined);
      await pool.query(`DROP DATABASE IF EXISTS \`${db}\``);
      await pool.end();
      await connection.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
