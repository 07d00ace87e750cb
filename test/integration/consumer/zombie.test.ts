/**
 * A zombie consumer: the exclusive-mode worker holding the partitions is frozen (SIGSTOP) in the middle of its
 * batches, a second worker takes over once the first's session and leases expire, newer changes arrive and are
 * applied, then the frozen worker resumes (SIGCONT) where it stopped — inside a batch, about to write older versions
 * blind. Its lease window has closed, so it writes nothing; the table ends exactly as the events say.
 */
import { groupLag } from '../../../src/pipeline/consumer/offsets';
import { isLive } from '../../../src/pipeline/item';
import { loadMappingFile } from '../../../src/pipeline/transform/mapping';
import { changeVersion } from '../../../src/pipeline/version';
import { keysNotAsExpected } from '../../faults/support/expected-items';
import { record } from '../../faults/support/record';
import { dms, produce, scanAll, waitFor } from './support';
import { startWorker, useEtlProcessBed } from './worker-process';

jest.setTimeout(100_000);

const bed = useEtlProcessBed('zombie', 2);
const { topic, group, src, children } = bed;
const args = () => bed.args(['--lease-ms', '4000', '--lease-margin-ms', '1500', '--max-write-rate', '400', '--max-events-per-apply', '300', '--session-timeout', '6000']);

test('a frozen exclusive writer that resumes after a takeover writes nothing stale', async () => {
  const expected = new Map<number, Record<string, string>>();
  const round = (seq: number) =>
    Array.from({ length: 3000 }, (_, i) => {
      const id = i + 1;
      const row = { id: String(id), email_address: `r${seq}-${id}@x.io`, balance: `${seq}.00`, prefs: '{}' };
      expected.set(id, row);
      return dms('shop', src, seq === 1 ? 'insert' : 'update', row, changeVersion(seq * 100_000 + id, 0));
    });
  let produced = 0;
  const send = async (msgs: { key: string; value: string }[]) => {
    await produce(bed.producer, topic, msgs);
    produced += msgs.length;
  };
  await send(round(1));

  const zombie = startWorker(args(), children);
  await waitFor('first worker mid-way', () => zombie.lines.some((l) => Number(l.events) >= 600), 60_000);
  zombie.child.kill('SIGSTOP'); // frozen inside a rate-limited batch, with round-1 items still to write

  await send(round(2)); // newer versions of every key
  const [mapping] = loadMappingFile(bed.mappingFile);
  const notAsEvents = async () => keysNotAsExpected(mapping, await scanAll(bed.client, bed.table), expected, (id) => `USER#${id}`);
  const tSuccessor = Date.now();
  const successor = startWorker(args(), children);
  await waitFor('successor caught up', async () => (await groupLag(bed.admin, group, topic)).every((p) => p.lag === 0), 80_000);
  const takeoverMs = Date.now() - tSuccessor; // successor start → every offset committed (after the durable writes)

  const zombieFenced = () => /lease of .* lost|not renewed/.test(zombie.log.join(''));
  const tCont = Date.now();
  zombie.child.kill('SIGCONT'); // the zombie wakes up mid-batch, with round-1 writes pending
  // time to recover (for docs/reliability.md): from SIGCONT until the zombie has noticed it lost its partitions and
  // the target is verified equal to the events; measured within the 4 s the zombie is left running, not asserted
  let recoverMs: number | undefined;
  while (Date.now() - tCont < 4_000) {
    if (recoverMs === undefined && zombieFenced() && (await notAsEvents()) === 0) recoverMs = Date.now() - tCont;
    await new Promise((r) => setTimeout(r, 200));
  }
  zombie.child.kill('SIGTERM');
  successor.child.kill('SIGTERM');
  await Promise.all([zombie.exited, successor.exited]);

  // the zombie noticed it had lost the partitions (window closed or lease taken over) instead of writing
  expect(zombie.log.join('')).toMatch(/lease of .* lost|not renewed/);

  const items = new Map((await scanAll(bed.client, bed.table)).map((i) => [i.pk.S, i]));
  let stale = 0;
  for (const [id, row] of expected) {
    const item = items.get(`USER#${id}`);
    expect(isLive(item)).toBe(true);
    if (JSON.stringify(mapping.toRow(item!)) !== JSON.stringify(row)) stale++;
  }
  expect(stale).toBe(0);
  const mismatches = await notAsEvents();
  expect(mismatches).toBe(0);
  const tVerified = Date.now() - tCont;
  record({
    fault: 'SIGSTOP of an ETL member mid-batch (zombie), takeover, SIGCONT',
    phase: 'stream ETL (standalone processes, exclusive mode, 2 partitions)',
    recovered: true,
    // without a fenced-and-equal observation inside the 4 s window: the final check (after both processes exited)
    recoverMs: recoverMs ?? tVerified,
    outcome: `successor caught up ${takeoverMs} ms after its start (the zombie frozen); ${recoverMs === undefined ? `fenced-and-equal not seen within 4 s of SIGCONT; final check ${tVerified} ms after it` : `zombie fenced and target equal ${recoverMs} ms after SIGCONT`}`,
    writesAcked: produced,
    writesLost: mismatches,
    mismatches,
    command: `npx jest test/integration/consumer/zombie.test.ts (${produced} events for ${expected.size} keys)`,
  });
});
