/**
 * The verify and repair activities find the ETL group for the recheck's applied-through probe
 * (src/activities/parts/verify.ts `groupOf`): the group the workflow names is taken once it has committed offsets on
 * the topic, without listing the cluster's groups; an input without a group (a workflow started before the field
 * existed) falls back to the one group of the cluster that committed on the topic, and to none when there are several.
 * Real Kafka.
 */
import { groupOf } from '../../../src/activities/parts/verify';
import { loadStackEnv } from '../../../src/infra/env';
import { createKafka } from '../../../src/infra/kafka';
import { uniqueName } from '../../support/ids';

loadStackEnv();
const kafka = createKafka('probe-group-test');
const admin = kafka.admin();
const topic = uniqueName('probe_group');

beforeAll(async () => {
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 2 }] });
});
afterAll(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

const commit = (groupId: string) => admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '0' }, { partition: 1, offset: '0' }] });

test('the named group is used once it committed on the topic; without a name, only a single committing group is found', async () => {
  const etl = uniqueName('etl');
  const other = uniqueName('other');
  expect(await groupOf(admin, topic, etl)).toBeUndefined(); // nothing committed yet: no probe
  expect(await groupOf(admin, topic)).toBeUndefined();
  await commit(etl);
  expect(await groupOf(admin, topic, etl)).toBe(etl);
  expect(await groupOf(admin, topic)).toBe(etl);
  await commit(other);
  expect(await groupOf(admin, topic, etl)).toBe(etl); // named: unaffected by other groups on the topic
  expect(await groupOf(admin, topic)).toBeUndefined(); // listing: ambiguous, no probe
  const listed = jest.spyOn(admin, 'listGroups');
  await groupOf(admin, topic, etl);
  expect(listed).not.toHaveBeenCalled();
  listed.mockRestore();
});
