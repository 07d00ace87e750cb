/** The checker CLI's inputs: a validated JSON config and log arguments (files or directories of *.jsonl). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { expandLogArgs, loadCheckerConfig } from '../../../src/checker/main';
import { demoCheckedTables } from '../../../scripts/demo/workload';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cutover-checker-cfg-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

it('accepts the demo checker config as the demo writes it, and names the file and field of a bad one', () => {
  const good = path.join(dir, 'good.json');
  fs.writeFileSync(good, JSON.stringify({ tables: demoCheckedTables('cutover_demo') }));
  expect(loadCheckerConfig(good)).toEqual(demoCheckedTables('cutover_demo'));
  const bad = path.join(dir, 'bad.json');
  fs.writeFileSync(bad, JSON.stringify({ tables: [{ table: 'users', tokenColumn: 'rev', dynamo: { tableName: 't', key: [], tokenAttribute: 'rev' } }] }));
  expect(() => loadCheckerConfig(bad)).toThrow(/bad\.json: tables\.0\.dynamo\.key/);
});

it('expands directories to their operation logs', () => {
  const logs = path.join(dir, 'logs');
  fs.mkdirSync(logs);
  for (const f of ['b.jsonl', 'a.jsonl', 'notes.txt']) fs.writeFileSync(path.join(logs, f), '');
  expect(expandLogArgs([logs]).map((f) => path.basename(f))).toEqual(['a.jsonl', 'b.jsonl']);
});
