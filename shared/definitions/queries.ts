/** Small lookups over a resolved repository that several services need. */

import { DRIFT_TOPIC, RETRAIN_TOPIC } from '../monitoring/events.ts';
import { DEFAULT_PARTITIONS, SINGLE_PARTITION } from './topics.ts';
import type { FeatureViewSpec, KafkaSourceSpec, RepoSpec } from './types.ts';

/** The Kafka source a view materializes from: its own, or its push source's batch source. */
export function kafkaSourceOfView(repo: RepoSpec, view: FeatureViewSpec): KafkaSourceSpec | undefined {
  const direct = repo.kafkaSources.find((s) => s.name === view.source);
  if (direct) return direct;
  const push = repo.pushSources.find((s) => s.name === view.source);
  return push && repo.kafkaSources.find((s) => s.name === push.batchSource);
}

/** The views each topic feeds, for the materializer. */
export function viewsByTopic(repo: RepoSpec): Map<string, FeatureViewSpec[]> {
  const out = new Map<string, FeatureViewSpec[]>();
  for (const view of repo.featureViews) {
    const source = kafkaSourceOfView(repo, view);
    if (!source) continue;
    out.set(source.topic, [...(out.get(source.topic) ?? []), view]);
  }
  return out;
}

/** The views a push source feeds: those whose source is the push source itself. */
export function viewsOfPushSource(repo: RepoSpec, pushSourceName: string): FeatureViewSpec[] {
  return repo.featureViews.filter((v) => v.source === pushSourceName);
}

/** Join key names and types of a view, in entity order. */
export function joinKeysOf(
  repo: RepoSpec,
  view: FeatureViewSpec,
): { name: string; type: string; entity: string }[] {
  return view.entities.map((name) => {
    const e = repo.entities.find((x) => x.name === name);
    return { name: e?.joinKey ?? name, type: e?.valueType ?? 'string', entity: name };
  });
}

/** A topic the repository needs, with the partitions and replicas `apply` gives it. */
export interface RequiredTopic {
  topic: string;
  partitions: number;
  /** Absent: the stream adapter's default, min(3, brokers in the cluster). */
  replicationFactor?: number;
  /** What the topic carries; only a source's partitions and replicas can be declared. */
  role: 'source' | 'deadLetters' | 'drift' | 'retrain' | 'predictions';
  /** What needs it, for messages: `kafkaSource 'trips'`, `dead letters of kafkaSource 'trips'`. */
  usedBy: string;
  /** True when `partitions` was declared, false when it is a default. */
  declared: boolean;
}

/**
 * Every topic the repository needs: sources and their dead-letter topics, drift, retrain,
 * predictions. A source's topic has its declared partitions (default DEFAULT_PARTITIONS);
 * dead-letter, drift, retrain and prediction topics have one (SINGLE_PARTITION says why), a
 * dead-letter topic its source's replication factor.
 */
export function requiredTopics(repo: RepoSpec): RequiredTopic[] {
  const topics = new Map<string, RequiredTopic>();
  const add = (t: RequiredTopic) => {
    if (!topics.has(t.topic)) topics.set(t.topic, t);
  };
  const rf = (replicationFactor: number | undefined) =>
    replicationFactor === undefined ? {} : { replicationFactor };
  for (const source of repo.kafkaSources) {
    add({
      topic: source.topic,
      partitions: source.partitions ?? DEFAULT_PARTITIONS,
      ...rf(source.replicationFactor),
      role: 'source',
      usedBy: `kafkaSource '${source.name}'`,
      declared: source.partitions !== undefined,
    });
    add({
      topic: `${source.topic}.dlq`,
      partitions: SINGLE_PARTITION,
      ...rf(source.replicationFactor),
      role: 'deadLetters',
      usedBy: `dead letters of kafkaSource '${source.name}'`,
      declared: false,
    });
  }
  add({
    topic: DRIFT_TOPIC,
    partitions: SINGLE_PARTITION,
    role: 'drift',
    usedBy: 'drift events',
    declared: false,
  });
  add({
    topic: RETRAIN_TOPIC,
    partitions: SINGLE_PARTITION,
    role: 'retrain',
    usedBy: 'retraining requests',
    declared: false,
  });
  for (const m of repo.monitors) {
    add({
      topic: m.predictionTopic,
      partitions: SINGLE_PARTITION,
      role: 'predictions',
      usedBy: `predictions of monitor '${m.name}'`,
      declared: false,
    });
  }
  return [...topics.values()];
}
