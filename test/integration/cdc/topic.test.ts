/** The CDC topic on the real broker: created with the partitions and infinite retention, checked when it exists. */
import { ensureTopic } from '../../../src/pipeline/cdc/topic';
import { ConfigError } from '../../../src/shared/errors';
import { createKafka } from '../../../src/infra/kafka';
import { uniqueName } from '../../support/ids';

describe('ensureTopic', () => {
  const kafka = createKafka(uniqueName('cdc_topic_test'));
  const admin = kafka.admin();
  const topics = [uniqueName('cdc_topic'), uniqueName('cdc_topic_few'), uniqueName('cdc_topic_ret')];
  beforeAll(() => admin.connect());
  afterAll(async () => {
    const existing = await admin.listTopics();
    await admin.deleteTopics({ topics: topics.filter((t) => existing.includes(t)) });
    await admin.disconnect();
  });

  it('creates the topic with the partition count and retention.ms=-1, then reuses it', async () => {
    expect(await ensureTopic(admin, { topic: topics[0], partitions: 3 })).toEqual({ created: true, partitions: 3 });
    const cfg = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topics[0], configNames: ['retention.ms'] }] });
    expect(cfg.resources[0].configEntries[0].configValue).toBe('-1');
    expect(await ensureTopic(admin, { topic: topics[0], partitions: 3 })).toEqual({ created: false, partitions: 3 });
  });

  it('refuses an existing topic with fewer partitions or a finite retention, naming it', async () => {
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: topics[1], numPartitions: 1 }, { topic: topics[2], numPartitions: 4, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] });
    await expect(ensureTopic(admin, { topic: topics[1], partitions: 2 })).rejects.toThrow(new RegExp(`${topics[1]}.*1 partitions, fewer than the configured 2`));
    const err = await ensureTopic(admin, { topic: topics[2], partitions: 4 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/retention.ms=3600000/);
    await expect(ensureTopic(admin, { topic: topics[0], partitions: 0 })).rejects.toBeInstanceOf(ConfigError);
  });
});
