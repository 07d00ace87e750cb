/**
 * kill -9 of a standalone ETL process (src/workers/etl.ts) in the middle of its batches, then a restart: the new
 * process waits for the dead one's partition leases to expire, re-applies the uncommitted events, and the table ends
 * exactly as the events say — nothing lost, nothing regressed. The restarted process stops gracefully on SIGTERM.
 */
import { groupLag } from '../../../src/pipeline/consumer/offsets';
import { isLive } from '../../../src/pipeline/item';
import { loadMappingFile } from '../../../src/pipeline/transform/mapping';
import { changeVersion } from '../../../src/pipeline/version';
import { keysNotAsExpected } from '../../faults/support/expected-items';
import { record } from '../../faults/support/record';
import { dms, produce, scanAll, waitFor } from './support';
import { startWorker, useEtlProcessBed } from './worker-process';

jest.setTimeout(90_000);

const bed = useEtlProcessBed('kill', 4);
const { topic, group, src, children } = bed;
const args = () => bed.args(['--lease-ms', '5000', '--lease-margin-ms', '2000', '--max-write-rate', '800', '--max-events-per-apply', '400', '--session-timeout', '7000']);

test('kill -9 mid-batch, restart: every item ends as the events say', async () => {
  const msgs: { key: string; value: string }[] = [];
  const expected = new Map<number, Record<string, string> | null>();
  for (let id = 1; id <= 4000; id++) {
    const row = { id: String(id), email_address: `u${id}@x.io`, balance: `${id}.25`, prefs: '{}' };
    msgs.push(dms('shop', src, 'insert', row, changeVersion(10_000 + id, 0)));
    expected.set(id, row);
  }
  for (let id = 1; id <= 4000; id += 2) {
    const row = { id: String(id), email_address: `v${id}@x.io`, balance: '1.00', prefs: '[1]' };
    msgs.push(dms('shop', src, 'update', row, changeVersion(20_000 + id, 0)));
    expected.set(id, row);
  }
  for (let id = 3; id <= 4000; id += 7) {
    msgs.push(dms('shop', src, 'delete', { id: String(id), email_address: '', balance: '0.00', prefs: '{}' }, changeVersion(30_000 + id, 0)));
    expected.set(id, null);
  }
  await produce(bed.producer, topic, msgs);

  const first = startWorker(args(), children);
  await waitFor('first worker mid-way', () => first.lines.some((l) => Number(l.events) >= 1500), 60_000);
  first.child.kill('SIGKILL');
  expect(await first.exited).toBeNull(); // killed by the signal, no graceful exit
  const lagAfterKill = (await groupLag(bed.admin, group, topic)).reduce((s, p) => s + p.lag, 0);
  expect(lagAfterKill).toBeGreaterThan(0);

  const [mapping] = loadMappingFile(bed.mappingFile);
  const notAsEvents = async () => keysNotAsExpected(mapping, await scanAll(bed.client, bed.table), expected, (id) => `USER#${id}`);
  const offAtKill = await notAsEvents();
  expect(offAtKill).toBeGreaterThan(0); // there is something to recover
  const tRestart = Date.now();
  const second = startWorker(args(), children);
  // time to recover (for docs/reliability.md): from the restart until the whole target is as the events say
  await waitFor('target equal to the events after the restart', async () => (await notAsEvents()) === 0, 70_000);
  const recoverMs = Date.now() - tRestart;
  await waitFor('restarted worker caught up', async () => (await groupLag(bed.admin, group, topic)).every((p) => p.lag === 0), 70_000);
  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
  expect(second.lines.at(-1)).toMatchObject({ msg: 'stopped', stoppedBy: 'aborted' });

  const items = new Map((await scanAll(bed.client, bed.table)).map((i) => [i.pk.S, i]));
  for (const [id, row] of expected) {
    const item = items.get(`USER#${id}`);
    if (row === null) expect(isLive(item)).toBe(false);
    else expect(mapping.toRow(item!)).toEqual(row);
  }
  const mismatches = await notAsEvents();
  expect(mismatches).toBe(0);
  record({
    fault: 'kill -9 of the ETL process mid-batch, restart',
    phase: 'stream ETL (standalone process, exclusive mode, 4 partitions)',
    recovered: true,
    recoverMs,
    writesAcked: msgs.length,
    writesLost: mismatches,
    mismatches,
    command: `npx jest test/integration/consumer/kill9.test.ts (${msgs.length} events for ${expected.size} keys; lag ${lagAfterKill} and ${offAtKill} keys not as the events say at the kill)`,
  });
});
