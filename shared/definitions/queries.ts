/** Small lookups over a resolved repository that several services need. */
import type { FeatureViewSpec, KafkaSourceSpec, RepoSpec } from './types.ts';
import { DRIFT_TOPIC, RETRAIN_TOPIC } from './validate.ts';

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

/** Every topic the repository needs: sources and their dead-letter topics, drift, retrain, predictions. */
export function requiredTopics(repo: RepoSpec): { topic: string; partitions?: number }[] {
  const topics = new Map<string, number | undefined>();
  for (const source of repo.kafkaSources) {
    topics.set(source.topic, source.partitions);
    topics.set(`${source.topic}.dlq`, undefined);
  }
  topics.set(DRIFT_TOPIC, undefined);
  topics.set(RETRAIN_TOPIC, undefined);
  for (const m of repo.monitors) if (!topics.has(m.predictionTopic)) topics.set(m.predictionTopic, undefined);
  return [...topics].map(([topic, partitions]) =>
    partitions === undefined ? { topic } : { topic, partitions },
  );
}
