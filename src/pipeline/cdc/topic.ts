/**
 * The CDC topic: created with the configured partition count and infinite retention (retention.ms = -1) so the ETL
 * can replay the whole migration from offset 0, or checked when it exists.
 *
 * Invariants: an existing topic with fewer partitions than configured, or with a finite retention, is refused
 * (ConfigError naming the topic); more partitions are never added silently (that would move keys between
 * partitions and break per-key order for events already written).
 */
import type { Admin } from 'kafkajs';
import { ConfigError } from '../../shared/errors';

export interface TopicSpec {
  readonly topic: string;
  readonly partitions: number;
  /** Replication factor for new topics (1 on a single local broker). */
  readonly replicationFactor?: number;
}

/** Creates the topic if absent; returns whether this call created it. Throws ConfigError on a mismatch. */
export async function ensureTopic(admin: Admin, spec: TopicSpec): Promise<{ created: boolean; partitions: number }> {
  if (!Number.isInteger(spec.partitions) || spec.partitions < 1) throw new ConfigError(`partitions must be a positive integer, got ${spec.partitions}`, undefined, spec.topic, 'partitions');
  const exists = (await admin.listTopics()).includes(spec.topic);
  const created = !exists && await admin.createTopics({
    waitForLeaders: true,
    topics: [{
      topic: spec.topic,
      numPartitions: spec.partitions,
      replicationFactor: spec.replicationFactor ?? 1,
      configEntries: [{ name: 'retention.ms', value: '-1' }, { name: 'cleanup.policy', value: 'delete' }],
    }],
  });
  const meta = await admin.fetchTopicMetadata({ topics: [spec.topic] });
  const partitions = meta.topics[0]?.partitions.length ?? 0;
  if (partitions < spec.partitions) {
    throw new ConfigError(`topic exists with ${partitions} partitions, fewer than the configured ${spec.partitions}`, undefined, spec.topic, 'partitions');
  }
  if (!created) {
    const cfg = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: spec.topic, configNames: ['retention.ms'] }] });
    const retention = cfg.resources[0]?.configEntries.find((e) => e.configName === 'retention.ms')?.configValue;
    if (retention !== undefined && retention !== '-1') {
      throw new ConfigError(`topic exists with retention.ms=${retention}; CDC needs -1 so the migration can be replayed`, undefined, spec.topic, 'retention.ms');
    }
  }
  return { created, partitions };
}
