/** The checker stays independent of the code under test: no import reaches pipeline, routing, workflows or activities. */
import * as fs from 'node:fs';
import * as path from 'node:path';

const DIR = path.join(__dirname, '../../../src/checker');
const FORBIDDEN = /from '(\.\.\/)+(pipeline|routing|workflows|activities|workers)(\/|')/;

it('imports nothing from src/pipeline, src/routing, src/workflows, src/activities or src/workers', () => {
  const files = fs.readdirSync(DIR).filter((f) => f.endsWith('.ts'));
  expect(files.length).toBeGreaterThan(5);
  const offending = files.flatMap((f) => fs.readFileSync(path.join(DIR, f), 'utf8').split('\n').filter((l) => FORBIDDEN.test(l)).map((l) => `${f}: ${l.trim()}`));
  expect(offending).toEqual([]);
});
