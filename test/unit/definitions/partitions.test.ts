import { describe, expect, it } from 'vitest';
import {
  type AnyDeclaration,
  entity,
  featureView,
  type KafkaSourceInput,
  kafkaSource,
  monitor,
} from '../../../shared/definitions/declare.ts';
import { requiredTopics } from '../../../shared/definitions/queries.ts';
import { DEFAULT_PARTITIONS } from '../../../shared/definitions/topics.ts';
import { checkRepo, resolveRepo } from '../../../shared/definitions/validate.ts';
import { canonicalJson } from '../../../shared/registry/hash.ts';
import { compareTopics } from '../../../shared/registry/topics.ts';

const FILE = 'defs/sources.ts';
const specOf = (...decls: AnyDeclaration[]) =>
  resolveRepo(decls.map((declaration) => ({ declaration, file: FILE })));
const issuesOf = (...decls: AnyDeclaration[]) =>
  checkRepo(decls.map((declaration) => ({ declaration, file: FILE }))).issues;
const source = (over: Partial<KafkaSourceInput>) =>
  kafkaSource({ name: 'trips', topic: 'trips', ...over } as KafkaSourceInput);

describe('kafkaSource partitions and replicationFactor', () => {
  it.each([
    ['zero', 'partitions', 0],
    ['negative', 'partitions', -3],
    ['fractional', 'partitions', 2.5],
    ['above the bound', 'partitions', 10_001],
    ['a string', 'partitions', '6'],
    ['not finite', 'partitions', Number.POSITIVE_INFINITY],
  ])('refuses %s partitions, naming file, object and field', (_, field, value) => {
    expect(issuesOf(source({ [field]: value } as never))).toEqual([
      `${FILE}: kafkaSource 'trips': field 'partitions': expected an integer from 1 to 10000, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
    ]);
  });

  it.each([
    ['zero', 0],
    ['negative', -1],
    ['fractional', 1.5],
    ['above the bound', 11],
    ['null', null],
  ])('refuses a %s replicationFactor, naming file, object and field', (_, value) => {
    expect(issuesOf(source({ replicationFactor: value } as never))).toEqual([
      `${FILE}: kafkaSource 'trips': field 'replicationFactor': expected an integer from 1 to 10, got ${String(value)}`,
    ]);
  });

  it('stores declared values and both bounds', () => {
    expect(specOf(source({ partitions: 1, replicationFactor: 1 })).kafkaSources[0]).toMatchObject({
      partitions: 1,
      replicationFactor: 1,
    });
    expect(specOf(source({ partitions: 10_000, replicationFactor: 10 })).kafkaSources[0]).toMatchObject({
      partitions: 10_000,
      replicationFactor: 10,
    });
  });

  it('leaves both out of the spec when not declared, so registry hashes stay as they were', () => {
    const spec = specOf(source({}));
    const [stored] = spec.kafkaSources;
    expect(stored && 'partitions' in stored).toBe(false);
    expect(stored && 'replicationFactor' in stored).toBe(false);
    // The canonical JSON the registry hashes, exactly as a source without these fields had it.
    expect(canonicalJson(stored)).toBe(
      '{"createdField":"created","format":"json","kind":"kafkaSource","name":"trips","timestampField":"event_timestamp","topic":"trips"}',
    );
  });
});

describe('requiredTopics: partitions and replicas apply gives each topic', () => {
  const driver = entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' });
  const stats = source({ name: 'stats', topic: 'stats' });
  const trips = source({ partitions: 12, replicationFactor: 2 });
  const view = featureView({ name: 'v', entities: [driver], source: stats, schema: { x: 'float64' } });
  const mon = monitor({ name: 'model', predictionTopic: 'preds', features: [view], window: { rows: 10 } });

  it('a source gets its declaration or 6; dead letters, drift, retrain and predictions 1', () => {
    expect(DEFAULT_PARTITIONS).toBe(6);
    expect(requiredTopics(specOf(driver, stats, trips, view, mon))).toEqual([
      { topic: 'stats', partitions: 6, role: 'source', usedBy: "kafkaSource 'stats'", declared: false },
      {
        topic: 'stats.dlq',
        partitions: 1,
        role: 'deadLetters',
        usedBy: "dead letters of kafkaSource 'stats'",
        declared: false,
      },
      {
        topic: 'trips',
        partitions: 12,
        replicationFactor: 2,
        role: 'source',
        usedBy: "kafkaSource 'trips'",
        declared: true,
      },
      {
        topic: 'trips.dlq',
        partitions: 1,
        replicationFactor: 2,
        role: 'deadLetters',
        usedBy: "dead letters of kafkaSource 'trips'",
        declared: false,
      },
      { topic: 'tributary.drift', partitions: 1, role: 'drift', usedBy: 'drift events', declared: false },
      {
        topic: 'tributary.retrain',
        partitions: 1,
        role: 'retrain',
        usedBy: 'retraining requests',
        declared: false,
      },
      {
        topic: 'preds',
        partitions: 1,
        role: 'predictions',
        usedBy: "predictions of monitor 'model'",
        declared: false,
      },
    ]);
  });

  it('two monitors of one prediction topic need it once (named after the first, by name)', () => {
    const other = monitor({ name: 'm2', predictionTopic: 'preds', features: [view], window: { rows: 10 } });
    const topics = requiredTopics(specOf(driver, stats, view, mon, other));
    expect(topics.filter((t) => t.topic === 'preds')).toEqual([
      {
        topic: 'preds',
        partitions: 1,
        role: 'predictions',
        usedBy: "predictions of monitor 'm2'",
        declared: false,
      },
    ]);
  });
});

describe('compareTopics: what plan and apply say about existing topics', () => {
  const src = {
    topic: 'trips',
    partitions: 6,
    role: 'source',
    usedBy: "kafkaSource 'trips'",
    declared: true,
  } as const;
  const preds = {
    topic: 'preds',
    partitions: 1,
    role: 'predictions',
    usedBy: "predictions of monitor 'm'",
    declared: false,
  } as const;

  it('creates the missing, keeps equal ones quiet', () => {
    expect(compareTopics([src, preds], [{ topic: 'preds', partitions: 1, replicationFactor: 1 }])).toEqual({
      create: [src],
      differ: [],
    });
  });

  it('grows a topic with too few partitions only when asked', () => {
    const existing = [{ topic: 'trips', partitions: 2, replicationFactor: 1 }];
    expect(compareTopics([src], existing).differ).toMatchObject([{ action: 'keep', wanted: 6, actual: 2 }]);
    expect(compareTopics([src], existing, { addPartitions: true }).differ).toMatchObject([
      { action: 'add-partitions', note: expect.stringContaining('adding 4') },
    ]);
  });

  it('never shrinks; only a source is told to declare the count it has', () => {
    const existing = [
      { topic: 'trips', partitions: 8, replicationFactor: 1 },
      { topic: 'preds', partitions: 4, replicationFactor: 1 },
    ];
    const { differ } = compareTopics([src, preds], existing, { addPartitions: true });
    expect(differ.map((d) => [d.action, d.note])).toEqual([
      [
        'keep',
        "trips (kafkaSource 'trips') has 8 partitions, declared 6: left as it is; Kafka cannot remove partitions (declare 8 to match, or recreate the topic)",
      ],
      [
        'keep',
        "preds (predictions of monitor 'm') has 4 partitions, the default 1: left as it is; Kafka cannot remove partitions",
      ],
    ]);
  });

  it('reports a declared replication factor that differs, never a default one', () => {
    const existing = [{ topic: 'trips', partitions: 6, replicationFactor: 1 }];
    expect(compareTopics([src], existing).differ).toEqual([]);
    expect(compareTopics([{ ...src, replicationFactor: 3 }], existing).differ).toMatchObject([
      { field: 'replicationFactor', wanted: 3, actual: 1, action: 'keep' },
    ]);
  });
});
