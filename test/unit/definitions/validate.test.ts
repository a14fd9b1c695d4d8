import { describe, expect, it } from 'vitest';
import {
  type AnyDeclaration,
  entity,
  type FeatureViewInput,
  featureService,
  featureView,
  kafkaSource,
  type MonitorInput,
  monitor,
  pushSource,
} from '../../../shared/definitions/declare.ts';
import { checkRepo, resolveRepo } from '../../../shared/definitions/validate.ts';
import { isTributaryError } from '../../../shared/errors.ts';

const FILE = 'defs/a.ts';
const at = (d: AnyDeclaration, file = FILE) => ({ declaration: d, file });
const issuesOf = (...decls: AnyDeclaration[]) => checkRepo(decls.map((d) => at(d))).issues;

const driver = entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' });
const source = kafkaSource({ name: 'src', topic: 'stats' });
const push = pushSource({ name: 'push', batchSource: source });
const view = (over: Partial<FeatureViewInput> = {}) =>
  featureView({
    name: 'stats',
    entities: [driver],
    source,
    schema: { conv_rate: 'float64', trips: 'int64' },
    ttl: '1d',
    ...over,
  } as FeatureViewInput);
const theView = view();
const mon = (over: Partial<MonitorInput> = {}) =>
  monitor({
    name: 'model',
    predictionTopic: 'predictions',
    features: [theView],
    window: { rows: 100 },
    ...over,
  });

/** A valid repository plus the declarations under test, which replace base objects of the same kind and name. */
const withBase = (...decls: AnyDeclaration[]) =>
  issuesOf(
    ...[driver, source, push, theView].filter(
      (b) => !decls.some((d) => d !== b && d.kind === b.kind && d.name === b.name),
    ),
    ...decls,
  );

describe('a valid repository', () => {
  it('resolves with defaults, sorted by name', () => {
    const spec = resolveRepo([
      at(driver),
      at(source),
      at(push),
      at(view({ name: 'zeta', source: push, ttl: undefined })),
      at(theView),
      at(
        featureService({
          name: 'svc',
          features: [theView.select(['trips']), 'zeta:conv_rate', 'stats:conv_rate'],
        }),
      ),
      at(
        mon({
          overrides: {
            conv_rate: { method: 'psi', threshold: 0.2 },
            'stats:trips': { method: 'ks' },
            prediction: {},
          },
          retrain: { consecutiveDriftedWindows: 2, cooldown: '1h' },
          webhooks: [{ url: 'https://hooks.example/x', secretEnv: 'DRIFT_HOOK_SECRET' }],
        }),
      ),
    ]);
    expect(spec.entities).toEqual([
      { kind: 'entity', name: 'driver', joinKey: 'driver_id', valueType: 'int64' },
    ]);
    expect(spec.kafkaSources).toEqual([
      {
        kind: 'kafkaSource',
        name: 'src',
        topic: 'stats',
        timestampField: 'event_timestamp',
        createdField: 'created',
        format: 'json',
      },
    ]);
    expect(spec.featureViews.map((v) => [v.name, v.ttlMs, v.source, v.online, v.offline])).toEqual([
      ['stats', 86_400_000, 'src', true, true],
      ['zeta', 0, 'push', true, true],
    ]);
    expect(spec.featureServices[0]?.features).toEqual([
      { featureView: 'stats', features: ['conv_rate', 'trips'] },
      { featureView: 'zeta', features: ['conv_rate'] },
    ]);
    const m = spec.monitors[0]!;
    expect(m.model).toBe('model');
    expect(m.features).toEqual(['stats:conv_rate', 'stats:trips']);
    expect(m.overrides).toEqual({
      conv_rate: { method: 'psi', threshold: 0.2 },
      trips: { method: 'ks' },
      prediction: {},
    });
    expect(m.retrain).toEqual({ consecutiveDriftedWindows: 2, cooldownMs: 3_600_000 });
    expect(m.window).toEqual({ rows: 100 });
    expect(m.datasetDriftThreshold).toBe(0.5);
    expect(m.monitorPrediction).toBe(true);
    // Only the variable's name is kept: the key itself is never part of a spec.
    expect(m.webhooks).toEqual([{ url: 'https://hooks.example/x', secretEnv: 'DRIFT_HOOK_SECRET' }]);
  });

  it('accepts a schema as a list, names or objects as references, and windows by time', () => {
    const v = featureView({
      name: 'listed',
      entities: ['driver'],
      source: 'src',
      schema: [
        { name: 'a', type: 'string', description: 'first' },
        { name: 'b', type: 'bool' },
      ],
      online: false,
    });
    const spec = resolveRepo([
      at(driver),
      at(source),
      at(v),
      at(
        monitor({
          name: 'm',
          model: 'other',
          predictionTopic: 'p',
          features: ['listed'],
          window: { duration: '15m' },
          monitorPrediction: false,
        }),
      ),
    ]);
    expect(spec.featureViews[0]?.schema).toEqual([
      { name: 'a', type: 'string', description: 'first' },
      { name: 'b', type: 'bool' },
    ]);
    expect(spec.featureViews[0]?.offline).toBe(true);
    expect(spec.monitors[0]?.window).toEqual({ durationMs: 900_000 });
    expect(spec.monitors[0]?.features).toEqual(['listed:a', 'listed:b']);
  });

  it('includes declarations referenced but not exported, and counts a repeated export once', () => {
    const inline = entity({ name: 'rider', valueType: 'string' });
    const v = view({ name: 'rides', entities: [inline] });
    const spec = resolveRepo([at(source), at(v), at(v)]);
    expect(spec.entities.map((e) => [e.name, e.joinKey])).toEqual([['rider', 'rider']]);
    expect(spec.featureViews).toHaveLength(1);
  });

  it('throws TRIB_DEFINITION_INVALID with every problem, one per line', () => {
    const bad = [
      at(entity({ name: 'Driver', valueType: 'int64' })),
      at(kafkaSource({ name: 's', topic: 'a b' })),
    ];
    let caught: unknown;
    try {
      resolveRepo(bad);
    } catch (error) {
      caught = error;
    }
    expect(isTributaryError(caught, 'TRIB_DEFINITION_INVALID')).toBe(true);
    expect((caught as Error).message).toBe(
      [
        `defs/a.ts: entity 'Driver': field 'name': "Driver" is not a lowercase identifier (^[a-z_][a-z0-9_]{0,62}$)`,
        `defs/a.ts: entity 'Driver': field 'joinKey': "Driver" is not a lowercase identifier (^[a-z_][a-z0-9_]{0,62}$)`,
        `defs/a.ts: kafkaSource 's': field 'topic': "a b" is not a valid Kafka topic name (letters, digits, '.', '_', '-'; at most 249)`,
      ].join('\n'),
    );
  });
});

type Case = [title: string, decls: () => AnyDeclaration[], message: string];
const bad = <T>(value: unknown) => value as T;

const cases: Case[] = [
  // ---- any object
  [
    'input is not an object',
    () => [entity(bad(null))],
    `defs/a.ts: entity <unnamed>: expected an object, got null`,
  ],
  [
    'unknown field',
    () => [entity(bad({ name: 'e', valueType: 'int64', joinkey: 'x' }))],
    `defs/a.ts: entity 'e': field 'joinkey': unknown field; expected one of name, description, tags, owner, joinKey, valueType`,
  ],
  [
    'name not a string',
    () => [kafkaSource(bad({ name: 3, topic: 't' }))],
    `defs/a.ts: kafkaSource <unnamed>: field 'name': expected a name, got 3`,
  ],
  [
    'name not a lowercase identifier',
    () => [kafkaSource({ name: 'my-source', topic: 't' })],
    `defs/a.ts: kafkaSource 'my-source': field 'name': "my-source" is not a lowercase identifier (^[a-z_][a-z0-9_]{0,62}$)`,
  ],
  [
    'name too long',
    () => [kafkaSource({ name: 'a'.repeat(64), topic: 't' })],
    `defs/a.ts: kafkaSource '${'a'.repeat(64)}': field 'name': "${'a'.repeat(64)}" is not a lowercase identifier (^[a-z_][a-z0-9_]{0,62}$)`,
  ],
  [
    'description not a string',
    () => [kafkaSource(bad({ name: 's', topic: 't', description: 1 }))],
    `defs/a.ts: kafkaSource 's': field 'description': expected a string, got 1`,
  ],
  [
    'owner not a string',
    () => [kafkaSource(bad({ name: 's', topic: 't', owner: false }))],
    `defs/a.ts: kafkaSource 's': field 'owner': expected a string, got false`,
  ],
  [
    'tags not an object',
    () => [kafkaSource(bad({ name: 's', topic: 't', tags: ['a'] }))],
    `defs/a.ts: kafkaSource 's': field 'tags': expected an object of strings, got an array`,
  ],
  [
    'tag not a string',
    () => [kafkaSource(bad({ name: 's', topic: 't', tags: { team: 1 } }))],
    `defs/a.ts: kafkaSource 's': field 'tags.team': expected a string, got 1`,
  ],
  [
    'duplicate name',
    () => [kafkaSource({ name: 's', topic: 't' }), kafkaSource({ name: 's', topic: 'u' })],
    `defs/a.ts: kafkaSource 's': field 'name': duplicate name: kafkaSource 's' is also declared in defs/a.ts`,
  ],
  [
    'a push source and a Kafka source share a name',
    () => [kafkaSource({ name: 's', topic: 't' }), pushSource({ name: 's', batchSource: source })],
    `defs/a.ts: pushSource 's': field 'name': duplicate name: kafkaSource 's' is also declared in defs/a.ts`,
  ],
  // ---- entity
  [
    'bad value type',
    () => [entity(bad({ name: 'e', valueType: 'int' }))],
    `defs/a.ts: entity 'e': field 'valueType': expected one of int64, float64, string, bool, timestamp, got "int"`,
  ],
  [
    'reserved join key',
    () => [entity({ name: 'e', joinKey: 'event_timestamp', valueType: 'int64' })],
    `defs/a.ts: entity 'e': field 'joinKey': 'event_timestamp' is reserved`,
  ],
  [
    'reserved join key created',
    () => [entity({ name: 'created', valueType: 'int64' })],
    `defs/a.ts: entity 'created': field 'joinKey': 'created' is reserved`,
  ],
  [
    'join key with a reserved prefix',
    () => [entity({ name: 'e', joinKey: 'trib_id', valueType: 'int64' })],
    `defs/a.ts: entity 'e': field 'joinKey': 'trib_id' is reserved: names starting with '_' or 'trib_' belong to Tributary`,
  ],
  [
    'SQL-unsafe join key',
    () => [entity({ name: 'e', joinKey: 'id"; drop table x; --', valueType: 'int64' })],
    `defs/a.ts: entity 'e': field 'joinKey': "id\\"; drop table x; --" is not a lowercase identifier (^[a-z_][a-z0-9_]{0,62}$)`,
  ],
  // ---- Kafka source
  [
    'reserved topic',
    () => [kafkaSource({ name: 's', topic: 'tributary.drift' })],
    `defs/a.ts: kafkaSource 's': field 'topic': 'tributary.drift' is reserved: topics starting with 'tributary.' belong to Tributary`,
  ],
  [
    'dead-letter topic',
    () => [kafkaSource({ name: 's', topic: 'stats.dlq' })],
    `defs/a.ts: kafkaSource 's': field 'topic': 'stats.dlq' is reserved: topics ending with '.dlq' are dead-letter topics`,
  ],
  [
    'topic not a string',
    () => [kafkaSource(bad({ name: 's' }))],
    `defs/a.ts: kafkaSource 's': field 'topic': expected a Kafka topic name, got nothing`,
  ],
  [
    'bad timestamp field',
    () => [kafkaSource({ name: 's', topic: 't', timestampField: 'event time' })],
    `defs/a.ts: kafkaSource 's': field 'timestampField': expected a field name (^[A-Za-z_][A-Za-z0-9_]{0,62}$), got "event time"`,
  ],
  [
    'created field equals timestamp field',
    () => [kafkaSource({ name: 's', topic: 't', timestampField: 'ts', createdField: 'ts' })],
    `defs/a.ts: kafkaSource 's': field 'createdField': must differ from timestampField 'ts'`,
  ],
  [
    'format other than json',
    () => [kafkaSource(bad({ name: 's', topic: 't', format: 'avro' }))],
    `defs/a.ts: kafkaSource 's': field 'format': expected 'json', got "avro"`,
  ],
  [
    'bad partitions',
    () => [kafkaSource({ name: 's', topic: 't', partitions: 0 })],
    `defs/a.ts: kafkaSource 's': field 'partitions': expected an integer from 1 to 10000, got 0`,
  ],
  // ---- push source
  [
    'unknown batch source',
    () => [pushSource({ name: 'p', batchSource: 'nope' })],
    `defs/a.ts: pushSource 'p': field 'batchSource': unknown Kafka source 'nope'`,
  ],
  [
    'batch source is a push source',
    () => [push, pushSource({ name: 'p2', batchSource: 'push' })],
    `defs/a.ts: pushSource 'p2': field 'batchSource': 'push' is a push source; a push source's batchSource must be a Kafka source`,
  ],
  [
    'batch source of the wrong kind',
    () => [pushSource({ name: 'p', batchSource: bad(driver) })],
    `defs/a.ts: pushSource 'p': field 'batchSource': expected a Kafka source, got entity 'driver'`,
  ],
  [
    'batch source neither declaration nor name',
    () => [pushSource({ name: 'p', batchSource: bad(42) })],
    `defs/a.ts: pushSource 'p': field 'batchSource': expected a Kafka source or its name, got 42`,
  ],
  // ---- feature view
  [
    'entities not a list',
    () => [view({ entities: bad('driver') })],
    `defs/a.ts: featureView 'stats': field 'entities': expected a list of entities, got "driver"`,
  ],
  [
    'no entities',
    () => [view({ entities: [] })],
    `defs/a.ts: featureView 'stats': field 'entities': must list at least one entity`,
  ],
  [
    'unknown entity',
    () => [view({ entities: ['rider'] })],
    `defs/a.ts: featureView 'stats': field 'entities[0]': unknown entity 'rider'`,
  ],
  [
    'entity listed twice',
    () => [view({ entities: [driver, 'driver'] })],
    `defs/a.ts: featureView 'stats': field 'entities[1]': entity 'driver' is listed twice`,
  ],
  [
    'two entities with one join key',
    () => [
      entity({ name: 'car', joinKey: 'driver_id', valueType: 'int64' }),
      view({ entities: [driver, 'car'] }),
    ],
    `defs/a.ts: featureView 'stats': field 'entities[1]': join key 'driver_id' of entity 'car' is also the join key of entity 'driver'`,
  ],
  [
    'entity of the wrong kind',
    () => [view({ entities: [bad(source)] })],
    `defs/a.ts: featureView 'stats': field 'entities[0]': expected an entity, got kafkaSource 'src'`,
  ],
  [
    'unknown source',
    () => [view({ source: 'nope' })],
    `defs/a.ts: featureView 'stats': field 'source': unknown source 'nope'`,
  ],
  [
    'source of the wrong kind',
    () => [view({ source: bad(driver) })],
    `defs/a.ts: featureView 'stats': field 'source': expected a Kafka source or a push source, got entity 'driver'`,
  ],
  [
    'bad ttl string',
    () => [view({ ttl: bad('1 day') })],
    `defs/a.ts: featureView 'stats': field 'ttl': expected a duration like '1d', '12h', '30m', '45s', '250ms' or milliseconds as a number, got "1 day"`,
  ],
  [
    'negative ttl',
    () => [view({ ttl: -5 })],
    `defs/a.ts: featureView 'stats': field 'ttl': must not be negative, got -5`,
  ],
  [
    'fractional ttl',
    () => [view({ ttl: 1.5 })],
    `defs/a.ts: featureView 'stats': field 'ttl': expected a duration like '1d', '12h', '30m', '45s', '250ms' or milliseconds as a number, got 1.5`,
  ],
  [
    'ttl of the wrong type',
    () => [view({ ttl: bad(true) })],
    `defs/a.ts: featureView 'stats': field 'ttl': expected a duration like '1d', '12h', '30m', '45s', '250ms' or milliseconds as a number, got true`,
  ],
  [
    'online not a boolean',
    () => [view({ online: bad('yes') })],
    `defs/a.ts: featureView 'stats': field 'online': expected true or false, got "yes"`,
  ],
  [
    'neither online nor offline',
    () => [view({ online: false, offline: false })],
    `defs/a.ts: featureView 'stats': field 'online': a view must be online, offline or both`,
  ],
  [
    'schema not an object',
    () => [view({ schema: bad('conv_rate') })],
    `defs/a.ts: featureView 'stats': field 'schema': expected { feature: type } or [{ name, type }], got "conv_rate"`,
  ],
  [
    'empty schema',
    () => [view({ schema: {} })],
    `defs/a.ts: featureView 'stats': field 'schema': must declare at least one feature`,
  ],
  [
    'schema entry not an object',
    () => [view({ schema: bad(['conv_rate']) })],
    `defs/a.ts: featureView 'stats': field 'schema[0]': expected { name, type }, got "conv_rate"`,
  ],
  [
    'bad feature type',
    () => [view({ schema: bad({ conv_rate: 'double' }) })],
    `defs/a.ts: featureView 'stats': field 'schema.conv_rate': expected one of int64, float64, string, bool, timestamp, got "double"`,
  ],
  [
    'reserved feature name',
    () => [view({ schema: { event_timestamp: 'timestamp' } })],
    `defs/a.ts: featureView 'stats': field 'schema.event_timestamp': 'event_timestamp' is reserved`,
  ],
  [
    'feature with the _ prefix',
    () => [view({ schema: { _offset: 'int64' } })],
    `defs/a.ts: featureView 'stats': field 'schema._offset': '_offset' is reserved: names starting with '_' or 'trib_' belong to Tributary`,
  ],
  [
    'SQL-unsafe feature name',
    () => [view({ schema: { 'Conv Rate': 'float64' } })],
    `defs/a.ts: featureView 'stats': field 'schema.Conv Rate': "Conv Rate" is not a lowercase identifier (^[a-z_][a-z0-9_]{0,62}$)`,
  ],
  [
    'duplicate feature',
    () => [
      view({
        schema: [
          { name: 'a', type: 'int64' },
          { name: 'a', type: 'string' },
        ],
      }),
    ],
    `defs/a.ts: featureView 'stats': field 'schema.a': duplicate feature 'a'`,
  ],
  [
    'feature description not a string',
    () => [view({ schema: bad({ a: { type: 'int64', description: 1 } }) })],
    `defs/a.ts: featureView 'stats': field 'schema.a.description': expected a string, got 1`,
  ],
  [
    'feature collides with a join key',
    () => [view({ schema: { driver_id: 'int64', conv_rate: 'float64' } })],
    `defs/a.ts: featureView 'stats': field 'schema.driver_id': collides with the join key of entity 'driver'`,
  ],
  // ---- feature service
  [
    'service features not a list',
    () => [featureService(bad({ name: 'svc', features: 'stats' }))],
    `defs/a.ts: featureService 'svc': field 'features': expected a list of feature views or features, got "stats"`,
  ],
  [
    'service with no features',
    () => [featureService({ name: 'svc', features: [] })],
    `defs/a.ts: featureService 'svc': field 'features': must list at least one feature view or feature`,
  ],
  [
    'service names an unknown view',
    () => [featureService({ name: 'svc', features: ['nope'] })],
    `defs/a.ts: featureService 'svc': field 'features[0]': unknown feature view 'nope'`,
  ],
  [
    'service names an unknown feature',
    () => [featureService({ name: 'svc', features: ['stats:speed'] })],
    `defs/a.ts: featureService 'svc': field 'features[0]': feature view 'stats' has no feature 'speed'`,
  ],
  [
    'service selects an unknown feature',
    () => [featureService({ name: 'svc', features: [theView.select([bad<never>('speed')])] })],
    `defs/a.ts: featureService 'svc': field 'features[0]': feature view 'stats' has no feature 'speed'`,
  ],
  [
    'service selects nothing',
    () => [featureService({ name: 'svc', features: [theView.select([])] })],
    `defs/a.ts: featureService 'svc': field 'features[0]': selects no features`,
  ],
  [
    'malformed feature reference',
    () => [featureService({ name: 'svc', features: ['stats:a:b'] })],
    `defs/a.ts: featureService 'svc': field 'features[0]': expected 'view' or 'view:feature', got "stats:a:b"`,
  ],
  [
    'feature list not of names',
    () => [featureService({ name: 'svc', features: [{ featureView: 'stats', features: bad('conv_rate') }] })],
    `defs/a.ts: featureService 'svc': field 'features[0]': expected a list of feature names, got "conv_rate"`,
  ],
  [
    'reference of the wrong kind',
    () => [featureService({ name: 'svc', features: [bad(driver)] })],
    `defs/a.ts: featureService 'svc': field 'features[0]': expected a feature view, got entity 'driver'`,
  ],
  [
    'reference of the wrong shape',
    () => [featureService({ name: 'svc', features: [bad(7)] })],
    `defs/a.ts: featureService 'svc': field 'features[0]': expected a feature view, view.select([...]), 'view' or 'view:feature', got 7`,
  ],
  // ---- monitor
  [
    'monitor names an unknown feature',
    () => [mon({ features: ['stats:speed'] })],
    `defs/a.ts: monitor 'model': field 'features[0]': feature view 'stats' has no feature 'speed'`,
  ],
  [
    'monitor with no features',
    () => [mon({ features: [] })],
    `defs/a.ts: monitor 'model': field 'features': must list at least one feature view or feature`,
  ],
  [
    'bad model name',
    () => [mon({ model: ' ' })],
    `defs/a.ts: monitor 'model': field 'model': expected a model name (1 to 255 characters), got " "`,
  ],
  [
    'bad prediction topic',
    () => [mon({ predictionTopic: 'preds!' })],
    `defs/a.ts: monitor 'model': field 'predictionTopic': "preds!" is not a valid Kafka topic name (letters, digits, '.', '_', '-'; at most 249)`,
  ],
  [
    'prediction topic of a source',
    () => [mon({ predictionTopic: 'stats' })],
    `defs/a.ts: monitor 'model': field 'predictionTopic': 'stats' is the topic of Kafka source 'src'`,
  ],
  [
    'monitorPrediction not a boolean',
    () => [mon({ monitorPrediction: bad(1) })],
    `defs/a.ts: monitor 'model': field 'monitorPrediction': expected true or false, got 1`,
  ],
  [
    'window missing',
    () => [mon({ window: bad(undefined) })],
    `defs/a.ts: monitor 'model': field 'window': expected { rows: N } or { duration: '1h' }, got nothing`,
  ],
  [
    'window with both',
    () => [mon({ window: bad({ rows: 10, duration: '1h' }) })],
    `defs/a.ts: monitor 'model': field 'window': give either 'rows' or 'duration', not both`,
  ],
  [
    'window with neither',
    () => [mon({ window: bad({}) })],
    `defs/a.ts: monitor 'model': field 'window': expected { rows: N } or { duration: '1h' }, got an object without either`,
  ],
  [
    'window rows not positive',
    () => [mon({ window: { rows: 0 } })],
    `defs/a.ts: monitor 'model': field 'window.rows': expected a positive integer, got 0`,
  ],
  [
    'window duration bad',
    () => [mon({ window: { duration: bad('soon') } })],
    `defs/a.ts: monitor 'model': field 'window.duration': expected a duration like '1d', '12h', '30m', '45s', '250ms' or milliseconds as a number, got "soon"`,
  ],
  [
    'window duration zero',
    () => [mon({ window: { duration: 0 } })],
    `defs/a.ts: monitor 'model': field 'window.duration': must be longer than 0`,
  ],
  [
    'overrides not an object',
    () => [mon({ overrides: bad([]) })],
    `defs/a.ts: monitor 'model': field 'overrides': expected { column: { method, threshold } }, got an array`,
  ],
  [
    'override not an object',
    () => [mon({ overrides: bad({ conv_rate: 'psi' }) })],
    `defs/a.ts: monitor 'model': field 'overrides.conv_rate': expected { method?, threshold? }, got "psi"`,
  ],
  [
    'override for an unmonitored column',
    () => [mon({ overrides: { speed: { method: 'psi' } } })],
    `defs/a.ts: monitor 'model': field 'overrides.speed': 'speed' is not a monitored column`,
  ],
  [
    'override for an unmonitored qualified feature',
    () => [mon({ features: ['stats:trips'], overrides: { 'stats:conv_rate': { method: 'psi' } } })],
    `defs/a.ts: monitor 'model': field 'overrides.stats:conv_rate': 'stats:conv_rate' is not a monitored column`,
  ],
  [
    'override for the prediction when it is not monitored',
    () => [mon({ monitorPrediction: false, overrides: { prediction: { threshold: 0.1 } } })],
    `defs/a.ts: monitor 'model': field 'overrides.prediction': 'prediction' is not a monitored column`,
  ],
  [
    'override with an unknown method',
    () => [mon({ overrides: { conv_rate: { method: bad('kl') } } })],
    `defs/a.ts: monitor 'model': field 'overrides.conv_rate.method': expected one of ks, wasserstein, psi, jensenshannon, hellinger, chisquare, z, got "kl"`,
  ],
  [
    'override with a bad threshold',
    () => [mon({ overrides: { conv_rate: { threshold: -1 } } })],
    `defs/a.ts: monitor 'model': field 'overrides.conv_rate.threshold': expected a positive number, got -1`,
  ],
  [
    'override with an unknown field',
    () => [mon({ overrides: { conv_rate: bad({ limit: 1 }) } })],
    `defs/a.ts: monitor 'model': field 'overrides.conv_rate.limit': unknown field; expected method or threshold`,
  ],
  [
    'dataset threshold out of range',
    () => [mon({ datasetDriftThreshold: 1.5 })],
    `defs/a.ts: monitor 'model': field 'datasetDriftThreshold': expected a share in (0, 1], got 1.5`,
  ],
  [
    'retrain not an object',
    () => [mon({ retrain: bad(2) })],
    `defs/a.ts: monitor 'model': field 'retrain': expected { consecutiveDriftedWindows, cooldown } or null, got 2`,
  ],
  [
    'retrain window count not positive',
    () => [mon({ retrain: { consecutiveDriftedWindows: 0 } })],
    `defs/a.ts: monitor 'model': field 'retrain.consecutiveDriftedWindows': expected a positive integer, got 0`,
  ],
  [
    'retrain cooldown bad',
    () => [mon({ retrain: { consecutiveDriftedWindows: 2, cooldown: -1 } })],
    `defs/a.ts: monitor 'model': field 'retrain.cooldown': must not be negative, got -1`,
  ],
  [
    'retrain with an unknown field',
    () => [mon({ retrain: bad({ consecutiveDriftedWindows: 2, after: 3 }) })],
    `defs/a.ts: monitor 'model': field 'retrain.after': unknown field; expected consecutiveDriftedWindows or cooldown`,
  ],
  [
    'webhooks not a list',
    () => [mon({ webhooks: bad({ url: 'https://x' }) })],
    `defs/a.ts: monitor 'model': field 'webhooks': expected a list of { url, secretEnv? }, got an object`,
  ],
  [
    'webhook not an object',
    () => [mon({ webhooks: bad(['https://x']) })],
    `defs/a.ts: monitor 'model': field 'webhooks[0]': expected { url, secretEnv? }, got "https://x"`,
  ],
  [
    'webhook url not http',
    () => [mon({ webhooks: [{ url: 'ftp://x' }] })],
    `defs/a.ts: monitor 'model': field 'webhooks[0].url': expected an http(s) URL, got "ftp://x"`,
  ],
  [
    'webhook url unparseable',
    () => [mon({ webhooks: [{ url: 'not a url' }] })],
    `defs/a.ts: monitor 'model': field 'webhooks[0].url': expected an http(s) URL, got "not a url"`,
  ],
  [
    'a literal webhook secret (it would be stored in the registry)',
    () => [mon({ webhooks: [bad({ url: 'https://x', secret: 'hunter2' })] })],
    `defs/a.ts: monitor 'model': field 'webhooks[0].secret': a literal secret would be stored in the registry: put the key in an environment variable of the monitor and name it, e.g. secretEnv: 'DRIFT_HOOK_SECRET'`,
  ],
  [
    'webhook secretEnv empty',
    () => [mon({ webhooks: [{ url: 'https://x', secretEnv: '' }] })],
    `defs/a.ts: monitor 'model': field 'webhooks[0].secretEnv': expected the name of an environment variable (letters, digits, _), got ""`,
  ],
  [
    'webhook secretEnv not a variable name',
    () => [mon({ webhooks: [{ url: 'https://x', secretEnv: 'MY-SECRET=1' }] })],
    `defs/a.ts: monitor 'model': field 'webhooks[0].secretEnv': expected the name of an environment variable (letters, digits, _), got "MY-SECRET=1"`,
  ],
  [
    'webhook unknown field',
    () => [mon({ webhooks: [bad({ url: 'https://x', token: 't' })] })],
    `defs/a.ts: monitor 'model': field 'webhooks[0].token': unknown field; expected url or secretEnv`,
  ],
  [
    'monitored columns that collide',
    () => [view({ name: 'other' }), mon({ features: ['stats:conv_rate', 'other:conv_rate'] })],
    `defs/a.ts: monitor 'model': field 'features': 'other:conv_rate' and 'stats:conv_rate' share the column name 'conv_rate' in prediction events`,
  ],
  [
    'a feature named like the prediction',
    () => [view({ name: 'p', schema: { prediction: 'float64' } }), mon({ features: ['p'] })],
    `defs/a.ts: monitor 'model': field 'features': 'p:prediction' and the prediction share the column name 'prediction' in prediction events`,
  ],
];

describe('every validation error names the file, the object and the field', () => {
  it.each(cases)('%s', (_title, decls, message) => {
    expect(withBase(...decls())).toEqual([message]);
  });
});

describe('typing', () => {
  it('lets TypeScript catch unknown features, value types and misspelled fields', () => {
    const typed = featureView({
      name: 'typed',
      entities: [driver],
      source,
      schema: { a: 'int64', b: 'string' },
    });
    // @ts-expect-error 'c' is not a feature of the view
    typed.select(['c']);
    // @ts-expect-error 'double' is not a value type
    entity({ name: 'x', valueType: 'double' });
    // @ts-expect-error misspelled field
    kafkaSource({ name: 's', topic: 't', partition: 3 });
    expect(typed.select(['a']).features).toEqual(['a']);
  });
});

describe('attribution', () => {
  it('names the file of each object, and of the first declaration for a duplicate', () => {
    const issues = checkRepo([
      at(driver, 'defs/one.ts'),
      at(entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' }), 'defs/two.ts'),
    ]).issues;
    expect(issues).toEqual([
      `defs/two.ts: entity 'driver': field 'name': duplicate name: entity 'driver' is also declared in defs/one.ts`,
    ]);
  });

  it('reports an unexported declaration under the file that made it', () => {
    const inline = entity({ name: 'Rider', valueType: 'string' });
    const { issues } = checkRepo([at(source), at(view({ entities: [inline] }))], {
      fileOf: () => 'defs/made-here.ts',
    });
    expect(issues[0]).toMatch(/^defs\/made-here\.ts: entity 'Rider': field 'name'/);
  });
});
