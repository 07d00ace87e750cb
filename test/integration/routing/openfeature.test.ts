/**
 * OpenFeature both ways: the provider serves the flag store's state to any OpenFeature client, and a MigratingTable
 * can take its modes from an OpenFeature client (here the SDK's in-memory provider), never mistaking an evaluation
 * error for a flag state.
 */
import { InMemoryProvider, OpenFeature } from '@openfeature/server-sdk';
import { FlagError } from '../../../src/routing/errors';
import { CutoverFlagProvider, OpenFeatureFlagSource, flagKeyOf } from '../../../src/routing/openfeature';
import { createFixture, type Fixture } from './support/fixture';
import { uniqueName } from '../../support/ids';

let fx: Fixture;
beforeAll(async () => {
  fx = await createFixture('rt_of', ['CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10) NOT NULL)'], { t: { partitionKey: { attribute: 'pk', template: '{id}' }, nulls: 'omit' } });
});
afterAll(async () => {
  await OpenFeature.close();
  await fx?.close();
});

it('CutoverFlagProvider serves the stored flags by key and field', async () => {
  const tableId = `${fx.db}.t`;
  await fx.flagStore.update(tableId, { writeMode: 'mysql-primary', readPercent: 20 });
  const domain = uniqueName('of');
  await OpenFeature.setProviderAndWait(domain, new CutoverFlagProvider(fx.flagStore));
  const client = OpenFeature.getClient(domain);
  expect(await client.getStringValue(`${flagKeyOf(tableId)}.writeMode`, 'x')).toBe('mysql-primary');
  expect(await client.getNumberValue(`${flagKeyOf(tableId)}.readPercent`, -1)).toBe(20);
  const doc = await client.getObjectDetails(flagKeyOf(tableId), {});
  expect(doc.value).toEqual({ version: 1, readPercent: 20, writeMode: 'mysql-primary', shadowReadFraction: 0 });
  expect(doc.variant).toBe('v1');
  const bad = await client.getStringDetails('cutover.nope', 'dflt');
  expect(bad.errorCode).toBe('FLAG_NOT_FOUND');
});

it('OpenFeatureFlagSource drives a MigratingTable and refuses an evaluation error', async () => {
  const tableId = `${fx.db}.t`;
  const domain = uniqueName('of');
  const provider = new InMemoryProvider({
    [flagKeyOf(tableId)]: { variants: { v7: { version: 7, readPercent: 100, writeMode: 'dynamo-primary', shadowReadFraction: 0 } }, defaultVariant: 'v7', disabled: false },
  });
  await OpenFeature.setProviderAndWait(domain, provider);
  const source = new OpenFeatureFlagSource(OpenFeature.getClient(domain));
  const t = await fx.open('t', { flagSource: source });
  expect(t.flags).toMatchObject({ version: 7, writeMode: 'dynamo-primary' });
  await t.put({ id: 1, v: 'x' });
  expect(await t.get({ id: 1 })).toEqual({ id: 1, v: 'x' });
  // The instance heartbeats to the flag store with the version it took from OpenFeature.
  await expect(fx.flagStore.awaitBarrier(tableId, 7, { timeoutMs: 2000 })).resolves.toHaveLength(1);
  await t.close();
  await expect(source.get(`${fx.db}.missing`)).rejects.toBeInstanceOf(FlagError);
});
