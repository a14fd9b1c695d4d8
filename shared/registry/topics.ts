/**
 * What `plan` and `apply` say and do about the repository's topics: which are missing (apply
 * creates them), and which exist with another partition count or replication factor than the
 * repository asks for. Depends on the stream port only.
 */
import { type RequiredTopic, requiredTopics } from '../definitions/queries.ts';
import type { RepoSpec } from '../definitions/types.ts';
import type { StreamAdmin, TopicDescription } from '../stream/port.ts';

/** An existing topic that differs from what the repository asks for. */
export interface TopicDifference {
  topic: string;
  usedBy: string;
  field: 'partitions' | 'replicationFactor';
  /** What the repository asks for (declared, or the default). */
  wanted: number;
  /** What the cluster has. */
  actual: number;
  /** True when `wanted` was declared; false when it is Tributary's default. */
  declared: boolean;
  /**
   * `add-partitions`: apply grows the topic (only with `--add-partitions`, fewer partitions
   * than wanted); `keep`: apply leaves it as it is and says so.
   */
  action: 'add-partitions' | 'keep';
  /** One sentence for the operator. */
  note: string;
}

export interface TopicPlan {
  /** Topics that do not exist: apply creates them with these partitions and replicas. */
  create: RequiredTopic[];
  /** Existing topics that differ from the repository. */
  differ: TopicDifference[];
}

export interface TopicOptions {
  /** Grow topics with fewer partitions than wanted (`apply --add-partitions`). */
  addPartitions?: boolean;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Compares the repository's topics with the cluster. A partition count is only ever raised on
 * request: Kafka picks a key's partition by hashing it modulo the count, so growing a topic
 * moves keys to other partitions, and a consumer may read a key's new events before its old
 * ones still waiting in the old partition. Kafka cannot remove partitions at all, and changing
 * a replication factor is a partition reassignment, an operator's job (kafka-reassign-partitions).
 */
export function compareTopics(
  wanted: RequiredTopic[],
  existing: TopicDescription[],
  options: TopicOptions = {},
): TopicPlan {
  const have = new Map(existing.map((t) => [t.topic, t]));
  const create: RequiredTopic[] = [];
  const differ: TopicDifference[] = [];
  for (const want of wanted) {
    const actual = have.get(want.topic);
    if (!actual) {
      create.push(want);
      continue;
    }
    if (actual.partitions !== want.partitions) {
      const source = want.declared ? 'declared' : 'the default';
      const base = `${want.topic} (${want.usedBy}) has ${plural(actual.partitions, 'partition')}, ${source} ${want.partitions}`;
      const grow = actual.partitions < want.partitions;
      const action = grow && options.addPartitions ? 'add-partitions' : 'keep';
      const note =
        action === 'add-partitions'
          ? `${base}: adding ${want.partitions - actual.partitions} (keys move to other partitions: a key's next events may be read before its earlier ones)`
          : grow
            ? `${base}: left as it is; 'tributary apply --add-partitions' grows it, moving keys to other partitions`
            : `${base}: left as it is; Kafka cannot remove partitions${want.role === 'source' ? ` (declare ${actual.partitions} to match, or recreate the topic)` : ''}`;
      differ.push({
        topic: want.topic,
        usedBy: want.usedBy,
        field: 'partitions',
        wanted: want.partitions,
        actual: actual.partitions,
        declared: want.declared,
        action,
        note,
      });
    }
    // Only a declared replication factor is compared: the default depends on the cluster's size.
    if (want.replicationFactor !== undefined && actual.replicationFactor !== want.replicationFactor) {
      differ.push({
        topic: want.topic,
        usedBy: want.usedBy,
        field: 'replicationFactor',
        wanted: want.replicationFactor,
        actual: actual.replicationFactor,
        declared: true,
        action: 'keep',
        note: `${want.topic} (${want.usedBy}) has replication factor ${actual.replicationFactor}, declared ${want.replicationFactor}: left as it is; changing it is a partition reassignment (kafka-reassign-partitions)`,
      });
    }
  }
  return { create, differ };
}

/** Plans the repository's topics against the cluster; reads only. */
export async function planTopics(
  spec: RepoSpec,
  admin: Pick<StreamAdmin, 'describeTopics'>,
  options: TopicOptions = {},
): Promise<TopicPlan> {
  const wanted = requiredTopics(spec);
  return compareTopics(wanted, await admin.describeTopics(wanted.map((t) => t.topic)), options);
}

/** What `applyTopics` did. */
export interface TopicsApplied {
  plan: TopicPlan;
  created: string[];
  /** Topics grown to their wanted partition count. */
  grown: { topic: string; from: number; to: number }[];
}

/**
 * Creates the missing topics and, when the plan says so, grows those with too few partitions;
 * says one line per step and per difference left alone.
 */
export async function applyTopics(
  spec: RepoSpec,
  admin: Pick<StreamAdmin, 'describeTopics' | 'ensureTopics' | 'addPartitions'>,
  options: TopicOptions & { say?: (line: string) => void } = {},
): Promise<TopicsApplied> {
  const say = options.say ?? (() => undefined);
  const plan = await planTopics(spec, admin, options);
  // ensureTopics creates only what is still missing: a topic another apply made meanwhile is kept.
  const created = await admin.ensureTopics(
    plan.create.map(({ topic, partitions, replicationFactor }) =>
      replicationFactor === undefined ? { topic, partitions } : { topic, partitions, replicationFactor },
    ),
  );
  for (const topic of created) {
    const want = plan.create.find((t) => t.topic === topic);
    say(`created topic ${topic}${want ? ` (${plural(want.partitions, 'partition')})` : ''}`);
  }
  const grown: TopicsApplied['grown'] = [];
  for (const d of plan.differ) {
    if (d.action === 'add-partitions') {
      await admin.addPartitions(d.topic, d.wanted);
      grown.push({ topic: d.topic, from: d.actual, to: d.wanted });
    }
    say(`${d.action === 'keep' ? 'warning: ' : ''}${d.note}`);
  }
  return { plan, created, grown };
}

/** The topic plan as lines, for `plan`. */
export function formatTopicPlan(plan: TopicPlan): string[] {
  if (plan.create.length === 0 && plan.differ.length === 0) return ['Topics: all exist as declared.'];
  const lines = ['Topics:'];
  for (const t of plan.create) {
    const rf = t.replicationFactor === undefined ? '' : `, replication factor ${t.replicationFactor}`;
    lines.push(`  + ${t.topic}: ${plural(t.partitions, 'partition')}${rf} (${t.usedBy})`);
  }
  for (const d of plan.differ) lines.push(`  ! ${d.note}`);
  return lines;
}
