/**
 * Checks declarations and resolves them into a RepoSpec. Pure: no files, no I/O. Every problem
 * becomes one line `<file>: <kind> '<name>': field '<field>': <problem>`; all problems are
 * reported at once, in file and declaration order, in one TRIB_DEFINITION_INVALID error.
 */

import { AGGREGATION_FUNCTIONS, NUMERIC_FUNCTIONS } from '../aggregations/state.ts';
import { defaultResolution, MAX_TILES_PER_WINDOW } from '../aggregations/window.ts';
import { SECRET_ENV_PATTERN } from '../config.ts';
import { TributaryError } from '../errors.ts';
import { RESERVED_COLUMNS } from '../model/layout.ts';
import { PREDICTION_COLUMN } from '../profiles/types.ts';
import { DRIFT_METHODS } from '../stats/methods.ts';
import {
  type AnyDeclaration,
  DECLARATION,
  type DeclarationMeta,
  type FeatureReference,
  isDeclaration,
  isProjection,
} from './declare.ts';
import { describe, formatDuration, parseDuration } from './duration.ts';
import { MAX_PARTITIONS, MAX_REPLICATION_FACTOR } from './topics.ts';
import type {
  AggregationFunction,
  AggregationSpec,
  DriftMethod,
  EntitySpec,
  FeatureServiceEntry,
  FeatureServiceSpec,
  FeatureViewSpec,
  FieldSpec,
  KafkaSourceSpec,
  MonitorFeatureOverride,
  MonitorSpec,
  MonitorWindow,
  ObjectKind,
  PushSourceSpec,
  RepoSpec,
  RetrainPolicySpec,
  StreamFeatureViewSpec,
  ValueType,
  WebhookSpec,
} from './types.ts';

/** A declaration and the file it came from. */
export interface LocatedDeclaration {
  declaration: AnyDeclaration;
  file: string;
}

export const NAME_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
export const VALUE_TYPES: readonly ValueType[] = ['int64', 'float64', 'string', 'bool', 'timestamp'];

const TOPIC_PATTERN = /^[a-zA-Z0-9._-]{1,249}$/;
const JSON_FIELD_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

const KIND_LABEL: Record<ObjectKind, string> = {
  entity: 'entity',
  kafkaSource: 'Kafka source',
  pushSource: 'push source',
  featureView: 'feature view',
  streamFeatureView: 'stream feature view',
  featureService: 'feature service',
  monitor: 'monitor',
};

const COMMON_KEYS = ['name', 'description', 'tags', 'owner'];
const ALLOWED_KEYS: Record<ObjectKind, readonly string[]> = {
  entity: [...COMMON_KEYS, 'joinKey', 'valueType'],
  kafkaSource: [
    ...COMMON_KEYS,
    'topic',
    'timestampField',
    'createdField',
    'format',
    'partitions',
    'replicationFactor',
  ],
  pushSource: [...COMMON_KEYS, 'batchSource'],
  featureView: [...COMMON_KEYS, 'entities', 'source', 'schema', 'ttl', 'online', 'offline'],
  streamFeatureView: [...COMMON_KEYS, 'entities', 'source', 'schema', 'aggregations', 'online', 'offline'],
  featureService: [...COMMON_KEYS, 'features'],
  monitor: [
    ...COMMON_KEYS,
    'model',
    'predictionTopic',
    'features',
    'monitorPrediction',
    'window',
    'overrides',
    'datasetDriftThreshold',
    'retrain',
    'webhooks',
  ],
};

/** Where problems of one object are reported. */
class Reporter {
  constructor(
    private readonly issues: string[],
    readonly file: string,
    readonly kind: ObjectKind,
    readonly name: unknown,
  ) {}

  get label(): string {
    return typeof this.name === 'string' && this.name !== ''
      ? `${this.kind} '${this.name}'`
      : `${this.kind} <unnamed>`;
  }

  fail(field: string, problem: string): void {
    this.issues.push(`${this.file}: ${this.label}: field '${field}': ${problem}`);
  }
}

/** Why `value` is not a valid object name, or null. */
export function nameProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `expected a name, got ${describe(value)}`;
  if (!NAME_PATTERN.test(value)) {
    return `${JSON.stringify(value)} is not a lowercase identifier (${NAME_PATTERN.source})`;
  }
  return null;
}

/** Why `value` is not a valid column (feature or join key) name, or null. */
export function columnProblem(value: unknown): string | null {
  const problem = nameProblem(value);
  if (problem) return problem;
  const name = value as string;
  if (name.startsWith('_') || name.startsWith('trib_')) {
    return `'${name}' is reserved: names starting with '_' or 'trib_' belong to Tributary`;
  }
  if (RESERVED_COLUMNS.includes(name)) return `'${name}' is reserved`;
  return null;
}

function topicProblem(value: unknown): string | null {
  if (typeof value !== 'string') return `expected a Kafka topic name, got ${describe(value)}`;
  if (!TOPIC_PATTERN.test(value) || value === '.' || value === '..') {
    return `${JSON.stringify(value)} is not a valid Kafka topic name (letters, digits, '.', '_', '-'; at most 249)`;
  }
  if (value.startsWith('tributary.'))
    return `'${value}' is reserved: topics starting with 'tributary.' belong to Tributary`;
  if (value.endsWith('.dlq'))
    return `'${value}' is reserved: topics ending with '.dlq' are dead-letter topics`;
  return null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Intermediate form: a spec plus the raw references still to check against the whole repository. */
interface Resolved {
  item: LocatedDeclaration;
  order: number;
  report: Reporter;
  name: string | null;
}
interface ViewResolved extends Resolved {
  spec: FeatureViewSpec;
}
interface StreamViewResolved extends Resolved {
  spec: StreamFeatureViewSpec;
}
type FeatureRef = { view: string; features: string[] | null; field: string };

export interface CheckOptions {
  /** How to show the file of a declaration that no file exports (the loader makes paths relative). */
  fileOf?: (declaredAt: string) => string;
}

/** Checks declarations; returns the resolved repository and every problem found. */
export function checkRepo(
  items: readonly LocatedDeclaration[],
  options: CheckOptions = {},
): { spec: RepoSpec | null; issues: string[] } {
  const issues: string[] = [];
  const all = withReferenced(items, options.fileOf ?? ((file) => file));

  const entities: (Resolved & { spec: EntitySpec })[] = [];
  const kafkaSources: (Resolved & { spec: KafkaSourceSpec })[] = [];
  const pushSources: (Resolved & { spec: PushSourceSpec })[] = [];
  const views: ViewResolved[] = [];
  const streamViews: StreamViewResolved[] = [];
  const services: (Resolved & { spec: FeatureServiceSpec; refs: FeatureRef[] })[] = [];
  const monitors: (Resolved & { spec: MonitorSpec; refs: FeatureRef[]; overrideKeys: string[] })[] = [];

  all.forEach((item, order) => {
    const meta = item.declaration[DECLARATION] as DeclarationMeta;
    const input = meta.input;
    const report = new Reporter(issues, item.file, meta.kind, isRecord(input) ? input['name'] : undefined);
    if (!isRecord(input)) {
      issues.push(`${item.file}: ${meta.kind} <unnamed>: expected an object, got ${describe(input)}`);
      return;
    }
    for (const key of Object.keys(input)) {
      if (input[key] !== undefined && !ALLOWED_KEYS[meta.kind].includes(key)) {
        report.fail(key, `unknown field; expected one of ${ALLOWED_KEYS[meta.kind].join(', ')}`);
      }
    }
    const nameIssue = nameProblem(input['name']);
    if (nameIssue) report.fail('name', nameIssue);
    const base = { item, order, report, name: nameIssue ? null : (input['name'] as string) };
    const common = commonFields(input, report);
    switch (meta.kind) {
      case 'entity':
        entities.push({ ...base, spec: resolveEntity(input, report, common) });
        break;
      case 'kafkaSource':
        kafkaSources.push({ ...base, spec: resolveKafkaSource(input, report, common) });
        break;
      case 'pushSource':
        pushSources.push({ ...base, spec: resolvePushSource(input, report, common) });
        break;
      case 'featureView':
        views.push({ ...base, spec: resolveView(input, report, common) });
        break;
      case 'streamFeatureView':
        streamViews.push({ ...base, spec: resolveStreamView(input, report, common) });
        break;
      case 'featureService': {
        const refs = featureRefs(input['features'], report, 'features');
        services.push({
          ...base,
          spec: { kind: 'featureService', name: String(input['name']), features: [], ...common },
          refs,
        });
        break;
      }
      case 'monitor': {
        const { spec, overrideKeys } = resolveMonitor(input, report, common);
        monitors.push({
          ...base,
          spec,
          refs: featureRefs(input['features'], report, 'features'),
          overrideKeys,
        });
        break;
      }
    }
  });

  // Names: unique per namespace; Kafka and push sources share one, since a view names either;
  // plain and stream views share one, since a `view:feature` reference names either.
  for (const group of [
    entities,
    [...kafkaSources, ...pushSources].sort((a, b) => a.order - b.order),
    [...views, ...streamViews].sort((a, b) => a.order - b.order),
    services,
    monitors,
  ]) {
    const seen = new Map<string, Resolved>();
    for (const r of group as Resolved[]) {
      if (r.name === null) continue;
      const first = seen.get(r.name);
      if (first) {
        r.report.fail('name', `duplicate name: ${first.report.label} is also declared in ${first.item.file}`);
      } else seen.set(r.name, r);
    }
  }

  const entityByName = new Map(entities.map((e) => [e.spec.name, e.spec]));
  const kafkaByName = new Map(kafkaSources.map((s) => [s.spec.name, s.spec]));
  const pushByName = new Map(pushSources.map((s) => [s.spec.name, s.spec]));
  // The features each view offers, in order: a plain view's schema, a stream view's aggregations.
  const viewByName = new Map<string, string[]>([
    ...views.map((v) => [v.spec.name, v.spec.schema.map((f) => f.name)] as const),
    ...streamViews.map((v) => [v.spec.name, v.spec.aggregations.map((a) => a.name)] as const),
  ]);

  for (const p of pushSources) {
    const batch = p.spec.batchSource;
    if (batch === '') continue;
    if (pushByName.has(batch)) {
      p.report.fail(
        'batchSource',
        `'${batch}' is a push source; a push source's batchSource must be a Kafka source`,
      );
    } else if (!kafkaByName.has(batch)) p.report.fail('batchSource', `unknown Kafka source '${batch}'`);
  }

  for (const v of [...views, ...streamViews]) {
    const owners = new Map<string, string>();
    v.spec.entities.forEach((name, i) => {
      if (name === '') return;
      if (v.spec.entities.indexOf(name) !== i) {
        v.report.fail(`entities[${i}]`, `entity '${name}' is listed twice`);
        return;
      }
      const e = entityByName.get(name);
      if (!e) {
        v.report.fail(`entities[${i}]`, `unknown entity '${name}'`);
        return;
      }
      const other = owners.get(e.joinKey);
      if (other !== undefined) {
        v.report.fail(
          `entities[${i}]`,
          `join key '${e.joinKey}' of entity '${name}' is also the join key of entity '${other}'`,
        );
      }
      owners.set(e.joinKey, name);
    });
    if (v.spec.source !== '' && !kafkaByName.has(v.spec.source) && !pushByName.has(v.spec.source)) {
      v.report.fail('source', `unknown source '${v.spec.source}'`);
    }
    for (const field of v.spec.schema) {
      const owner = owners.get(field.name);
      if (owner !== undefined) {
        v.report.fail(`schema.${field.name}`, `collides with the join key of entity '${owner}'`);
      }
    }
    if (v.spec.kind === 'streamFeatureView') {
      v.spec.aggregations.forEach((a, i) => {
        const owner = owners.get(a.name);
        if (owner !== undefined) {
          v.report.fail(
            `aggregations[${i}].name`,
            `feature '${a.name}' collides with the join key of entity '${owner}'`,
          );
        }
      });
    }
  }

  for (const s of services) {
    s.spec.features = serviceEntries(s.refs, viewByName, s.report);
  }

  for (const m of monitors) {
    m.spec.features = monitorFeatures(m.refs, viewByName, m.report);
    const columns = new Map<string, string>();
    if (m.spec.monitorPrediction) columns.set(PREDICTION_COLUMN, 'the prediction');
    for (const ref of m.spec.features) {
      const column = ref.slice(ref.indexOf(':') + 1);
      const other = columns.get(column);
      if (other !== undefined) {
        m.report.fail(
          'features',
          `'${ref}' and ${other} share the column name '${column}' in prediction events`,
        );
      } else columns.set(column, `'${ref}'`);
    }
    const overrides: Record<string, MonitorFeatureOverride> = {};
    for (const key of m.overrideKeys) {
      const column = key.includes(':') ? key.slice(key.indexOf(':') + 1) : key;
      const known = key.includes(':') ? m.spec.features.includes(key) : columns.has(column);
      const value = m.spec.overrides[key];
      if (!known) m.report.fail(`overrides.${key}`, `'${key}' is not a monitored column`);
      else if (value) overrides[column] = value;
    }
    m.spec.overrides = overrides;
  }

  for (const m of monitors) {
    const clash = kafkaSources.find((s) => s.spec.topic === m.spec.predictionTopic);
    if (clash) {
      m.report.fail(
        'predictionTopic',
        `'${m.spec.predictionTopic}' is the topic of Kafka source '${clash.spec.name}'`,
      );
    }
  }

  if (issues.length > 0) return { spec: null, issues };
  const byName = <T extends { name: string }>(list: { spec: T }[]): T[] =>
    list.map((r) => r.spec).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const spec: RepoSpec = {
    entities: byName(entities),
    kafkaSources: byName(kafkaSources),
    pushSources: byName(pushSources),
    featureViews: byName(views),
    featureServices: byName(services),
    monitors: byName(monitors),
  };
  // Only when there are any: a repository without stream views keeps its former hash.
  if (streamViews.length > 0) spec.streamFeatureViews = byName(streamViews);
  return { issues, spec };
}

/** Checks declarations and resolves them; throws TRIB_DEFINITION_INVALID listing every problem. */
export function resolveRepo(items: readonly LocatedDeclaration[], options: CheckOptions = {}): RepoSpec {
  const { spec, issues } = checkRepo(items, options);
  if (!spec) {
    throw new TributaryError('TRIB_DEFINITION_INVALID', issues.join('\n'), { details: { issues } });
  }
  return spec;
}

// ---- per kind -----------------------------------------------------------------------------

type Common = { description?: string; tags?: Record<string, string>; owner?: string };

function commonFields(input: Record<string, unknown>, report: Reporter): Common {
  const common: Common = {};
  const { description, tags, owner } = input;
  if (description !== undefined) {
    if (typeof description === 'string') common.description = description;
    else report.fail('description', `expected a string, got ${describe(description)}`);
  }
  if (owner !== undefined) {
    if (typeof owner === 'string') common.owner = owner;
    else report.fail('owner', `expected a string, got ${describe(owner)}`);
  }
  if (tags !== undefined) {
    if (!isRecord(tags)) report.fail('tags', `expected an object of strings, got ${describe(tags)}`);
    else {
      const clean: Record<string, string> = {};
      for (const key of Object.keys(tags).sort()) {
        const value = tags[key];
        if (typeof value === 'string') clean[key] = value;
        else report.fail(`tags.${key}`, `expected a string, got ${describe(value)}`);
      }
      common.tags = clean;
    }
  }
  return common;
}

function valueType(value: unknown, report: Reporter, field: string): ValueType {
  if (typeof value === 'string' && (VALUE_TYPES as readonly string[]).includes(value))
    return value as ValueType;
  report.fail(field, `expected one of ${VALUE_TYPES.join(', ')}, got ${describe(value)}`);
  return 'string';
}

function resolveEntity(input: Record<string, unknown>, report: Reporter, common: Common): EntitySpec {
  const joinKey = input['joinKey'] ?? input['name'];
  const problem = columnProblem(joinKey);
  if (problem) report.fail('joinKey', problem);
  return {
    kind: 'entity',
    name: String(input['name']),
    joinKey: String(joinKey),
    valueType: valueType(input['valueType'], report, 'valueType'),
    ...common,
  };
}

function resolveKafkaSource(
  input: Record<string, unknown>,
  report: Reporter,
  common: Common,
): KafkaSourceSpec {
  const topicIssue = topicProblem(input['topic']);
  if (topicIssue) report.fail('topic', topicIssue);
  const timestampField = input['timestampField'] ?? 'event_timestamp';
  const createdField = input['createdField'] ?? 'created';
  for (const [field, value] of [
    ['timestampField', timestampField],
    ['createdField', createdField],
  ] as const) {
    if (typeof value !== 'string' || !JSON_FIELD_PATTERN.test(value)) {
      report.fail(field, `expected a field name (${JSON_FIELD_PATTERN.source}), got ${describe(value)}`);
    }
  }
  if (timestampField === createdField) {
    report.fail('createdField', `must differ from timestampField '${String(timestampField)}'`);
  }
  const format = input['format'] ?? 'json';
  if (format !== 'json') report.fail('format', `expected 'json', got ${describe(format)}`);
  const spec: KafkaSourceSpec = {
    kind: 'kafkaSource',
    name: String(input['name']),
    topic: String(input['topic']),
    timestampField: String(timestampField),
    createdField: String(createdField),
    format: 'json',
    ...common,
  };
  const partitions = boundedInteger(report, input, 'partitions', MAX_PARTITIONS);
  if (partitions !== undefined) spec.partitions = partitions;
  const replicationFactor = boundedInteger(report, input, 'replicationFactor', MAX_REPLICATION_FACTOR);
  if (replicationFactor !== undefined) spec.replicationFactor = replicationFactor;
  return spec;
}

/**
 * An optional integer field from 1 to `max`; undefined when absent or refused (after reporting).
 * Only a value given is stored: an absent one leaves the spec, and its registry hash, as it was.
 */
function boundedInteger(
  report: Reporter,
  input: Record<string, unknown>,
  field: string,
  max: number,
): number | undefined {
  const value = input[field];
  if (value === undefined) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= max) return value;
  report.fail(field, `expected an integer from 1 to ${max}, got ${describe(value)}`);
  return undefined;
}

/** The name a reference points at; '' (after reporting) when it is not a usable reference. */
function referenceName(
  value: unknown,
  kinds: readonly ObjectKind[],
  report: Reporter,
  field: string,
  expectedText?: string,
): string {
  const expected =
    expectedText ??
    kinds.map((k) => `${/^[aeiou]/i.test(KIND_LABEL[k]) ? 'an' : 'a'} ${KIND_LABEL[k]}`).join(' or ');
  if (isDeclaration(value)) {
    if (!kinds.includes(value.kind)) {
      report.fail(field, `expected ${expected}, got ${value.kind} '${String(value.name)}'`);
      return '';
    }
    return typeof value.name === 'string' ? value.name : '';
  }
  if (typeof value === 'string' && value !== '') return value;
  report.fail(field, `expected ${expected} or its name, got ${describe(value)}`);
  return '';
}

function resolvePushSource(input: Record<string, unknown>, report: Reporter, common: Common): PushSourceSpec {
  return {
    kind: 'pushSource',
    name: String(input['name']),
    batchSource: referenceName(input['batchSource'], ['kafkaSource'], report, 'batchSource'),
    ...common,
  };
}

function resolveSchema(value: unknown, report: Reporter): FieldSpec[] {
  const fields: FieldSpec[] = [];
  const add = (name: unknown, field: string, type: unknown, description: unknown) => {
    const problem = columnProblem(name);
    if (problem) {
      report.fail(field, problem);
      return;
    }
    const spec: FieldSpec = { name: name as string, type: valueType(type, report, field) };
    if (description !== undefined) {
      if (typeof description === 'string') spec.description = description;
      else report.fail(`${field}.description`, `expected a string, got ${describe(description)}`);
    }
    if (fields.some((f) => f.name === spec.name)) report.fail(field, `duplicate feature '${spec.name}'`);
    else fields.push(spec);
  };
  if (Array.isArray(value)) {
    value.forEach((entry: unknown, i) => {
      if (!isRecord(entry)) {
        report.fail(`schema[${i}]`, `expected { name, type }, got ${describe(entry)}`);
        return;
      }
      const field =
        typeof entry['name'] === 'string' && entry['name'] !== ''
          ? `schema.${entry['name']}`
          : `schema[${i}]`;
      add(entry['name'], field, entry['type'], entry['description']);
    });
  } else if (isRecord(value)) {
    for (const [name, entry] of Object.entries(value)) {
      if (isRecord(entry)) add(name, `schema.${name}`, entry['type'], entry['description']);
      else add(name, `schema.${name}`, entry, undefined);
    }
  } else {
    report.fail('schema', `expected { feature: type } or [{ name, type }], got ${describe(value)}`);
    return fields;
  }
  if (fields.length === 0 && (Array.isArray(value) ? value.length === 0 : Object.keys(value).length === 0)) {
    report.fail('schema', 'must declare at least one feature');
  }
  return fields;
}

function resolveView(input: Record<string, unknown>, report: Reporter, common: Common): FeatureViewSpec {
  const entities: string[] = [];
  const rawEntities = input['entities'];
  if (!Array.isArray(rawEntities)) {
    report.fail('entities', `expected a list of entities, got ${describe(rawEntities)}`);
  } else {
    if (rawEntities.length === 0) report.fail('entities', 'must list at least one entity');
    rawEntities.forEach((e: unknown, i) => {
      entities.push(referenceName(e, ['entity'], report, `entities[${i}]`));
    });
  }
  const source = referenceName(input['source'], ['kafkaSource', 'pushSource'], report, 'source');
  let ttlMs = 0;
  if (input['ttl'] !== undefined) {
    const ttl = parseDuration(input['ttl']);
    if ('error' in ttl) report.fail('ttl', ttl.error);
    else ttlMs = ttl.ms;
  }
  const flag = (key: 'online' | 'offline'): boolean => {
    const value = input[key];
    if (value === undefined) return true;
    if (typeof value === 'boolean') return value;
    report.fail(key, `expected true or false, got ${describe(value)}`);
    return true;
  };
  const online = flag('online');
  const offline = flag('offline');
  if (!online && !offline) report.fail('online', 'a view must be online, offline or both');
  return {
    kind: 'featureView',
    name: String(input['name']),
    entities,
    source,
    schema: resolveSchema(input['schema'], report),
    ttlMs,
    online,
    offline,
    ...common,
  };
}

const AGGREGATION_KEYS = ['column', 'function', 'window', 'resolution', 'name'];

/** The feature type of an aggregation: counts are int64, sums and moments float64, the rest the column's. */
function aggregationType(fn: AggregationFunction, column: ValueType): ValueType {
  if (fn === 'count') return 'int64';
  if (fn === 'sum' || fn === 'mean' || fn === 'stddev') return 'float64';
  return column;
}

function resolveAggregations(value: unknown, schema: FieldSpec[], report: Reporter): AggregationSpec[] {
  if (!Array.isArray(value)) {
    report.fail('aggregations', `expected a list of { column, function, window }, got ${describe(value)}`);
    return [];
  }
  if (value.length === 0) report.fail('aggregations', 'must declare at least one aggregation');
  const out: AggregationSpec[] = [];
  const names = new Map<string, number>();
  value.forEach((entry: unknown, i) => {
    const at = `aggregations[${i}]`;
    if (!isRecord(entry)) {
      report.fail(at, `expected { column, function, window, resolution?, name? }, got ${describe(entry)}`);
      return;
    }
    let ok = true;
    const fail = (field: string, problem: string) => {
      report.fail(`${at}.${field}`, problem);
      ok = false;
    };
    for (const key of Object.keys(entry)) {
      if (entry[key] !== undefined && !AGGREGATION_KEYS.includes(key)) {
        fail(key, `unknown field; expected one of ${AGGREGATION_KEYS.join(', ')}`);
      }
    }
    const column = entry['column'];
    const field = typeof column === 'string' ? schema.find((f) => f.name === column) : undefined;
    if (!field) {
      fail(
        'column',
        typeof column === 'string'
          ? `unknown column '${column}'; the schema declares ${schema.map((f) => f.name).join(', ') || 'none'}`
          : `expected a column of the schema, got ${describe(column)}`,
      );
    }
    const fn = entry['function'];
    const known = typeof fn === 'string' && (AGGREGATION_FUNCTIONS as readonly string[]).includes(fn);
    if (!known) {
      fail(
        'function',
        `unknown function ${describe(fn)}; expected one of ${AGGREGATION_FUNCTIONS.join(', ')}`,
      );
    } else if (
      field &&
      NUMERIC_FUNCTIONS.includes(fn as AggregationFunction) &&
      field.type !== 'int64' &&
      field.type !== 'float64'
    ) {
      fail('function', `'${fn}' needs a numeric column (int64 or float64); '${field.name}' is ${field.type}`);
    }
    let windowMs = 0;
    const window = parseDuration(entry['window']);
    if ('error' in window) fail('window', window.error);
    else if (window.ms === 0) fail('window', 'must be longer than 0');
    else windowMs = window.ms;
    let resolutionMs = 0;
    if (entry['resolution'] !== undefined) {
      const resolution = parseDuration(entry['resolution']);
      if ('error' in resolution) fail('resolution', resolution.error);
      else if (resolution.ms === 0) fail('resolution', 'must be longer than 0');
      else if (windowMs > 0) {
        resolutionMs = resolution.ms;
        if (windowMs % resolutionMs !== 0) {
          fail(
            'window',
            `${String(formatDuration(windowMs))} is not a multiple of the resolution ${String(formatDuration(resolutionMs))}`,
          );
        } else if (windowMs / resolutionMs > MAX_TILES_PER_WINDOW) {
          fail(
            'resolution',
            `${String(formatDuration(resolutionMs))} cuts the window into ${windowMs / resolutionMs} tiles; at most ${MAX_TILES_PER_WINDOW} are allowed`,
          );
        }
      }
    } else if (windowMs > 0) {
      const r = defaultResolution(windowMs);
      if (r === null) {
        fail(
          'resolution',
          `no default resolution divides the window ${String(formatDuration(windowMs))} into at most ${MAX_TILES_PER_WINDOW} tiles; give one`,
        );
      } else resolutionMs = r;
    }
    let name: string;
    if (entry['name'] !== undefined) {
      const problem = columnProblem(entry['name']);
      if (problem) fail('name', problem);
      name = String(entry['name']);
    } else {
      // The window as declared: '1h' stays '1h'; a number of milliseconds is written as a duration.
      const raw = entry['window'];
      const text =
        typeof raw === 'string' ? raw.trim() : typeof raw === 'number' ? String(formatDuration(raw)) : '';
      name = `${String(column)}_${String(fn)}_${text}`;
      if (ok) {
        const problem = columnProblem(name);
        if (problem) fail('name', `the default name ${problem}; give a name`);
      }
    }
    if (ok) {
      const first = names.get(name);
      if (first !== undefined) {
        report.fail(`${at}.name`, `duplicate feature name '${name}': aggregations[${first}] has it too`);
        ok = false;
      } else names.set(name, i);
    }
    if (!ok || !field) return;
    out.push({
      column: field.name,
      function: fn as AggregationFunction,
      windowMs,
      resolutionMs,
      name,
      type: aggregationType(fn as AggregationFunction, field.type),
    });
  });
  return out;
}

function resolveStreamView(
  input: Record<string, unknown>,
  report: Reporter,
  common: Common,
): StreamFeatureViewSpec {
  // Entities, source, schema and the online/offline flags read as a plain view's do.
  const view = resolveView({ ...input, ttl: undefined }, report, common);
  return {
    kind: 'streamFeatureView',
    name: view.name,
    entities: view.entities,
    source: view.source,
    schema: view.schema,
    aggregations: resolveAggregations(input['aggregations'], view.schema, report),
    online: view.online,
    offline: view.offline,
    ...common,
  };
}

/** What a feature reference may name: a plain or a stream feature view. */
const VIEW_KINDS: readonly ObjectKind[] = ['featureView', 'streamFeatureView'];

/** Reads feature references; views stay names, checked against the repository later. */
function featureRefs(value: unknown, report: Reporter, field: string): FeatureRef[] {
  if (!Array.isArray(value)) {
    report.fail(field, `expected a list of feature views or features, got ${describe(value)}`);
    return [];
  }
  if (value.length === 0) report.fail(field, 'must list at least one feature view or feature');
  const refs: FeatureRef[] = [];
  value.forEach((entry: FeatureReference | unknown, i) => {
    const at = `${field}[${i}]`;
    const names = (list: unknown): string[] | null => {
      if (list === undefined) return null;
      if (!Array.isArray(list) || list.some((f) => typeof f !== 'string')) {
        report.fail(at, `expected a list of feature names, got ${describe(list)}`);
        return null;
      }
      return list as string[];
    };
    if (isProjection(entry)) {
      const view = referenceName(entry.featureView, VIEW_KINDS, report, at, 'a feature view');
      if (view) refs.push({ view, features: names(entry.features), field: at });
    } else if (isDeclaration(entry)) {
      const view = referenceName(entry, VIEW_KINDS, report, at, 'a feature view');
      if (view) refs.push({ view, features: null, field: at });
    } else if (typeof entry === 'string') {
      const colon = entry.indexOf(':');
      if (colon < 0) refs.push({ view: entry, features: null, field: at });
      else if (colon === 0 || colon === entry.length - 1 || entry.indexOf(':', colon + 1) >= 0) {
        report.fail(at, `expected 'view' or 'view:feature', got ${JSON.stringify(entry)}`);
      } else refs.push({ view: entry.slice(0, colon), features: [entry.slice(colon + 1)], field: at });
    } else if (isRecord(entry) && 'featureView' in entry) {
      const view = referenceName(
        entry['featureView'],
        VIEW_KINDS,
        report,
        `${at}.featureView`,
        'a feature view',
      );
      if (view) refs.push({ view, features: names(entry['features']), field: at });
    } else {
      report.fail(
        at,
        `expected a feature view, view.select([...]), 'view' or 'view:feature', got ${describe(entry)}`,
      );
    }
  });
  return refs;
}

/** Checks references against the views; returns the view's feature names or null when unknown. */
function checkRef(ref: FeatureRef, views: Map<string, string[]>, report: Reporter): string[] | null {
  const names = views.get(ref.view);
  if (!names) {
    report.fail(ref.field, `unknown feature view '${ref.view}'`);
    return null;
  }
  if (ref.features !== null && ref.features.length === 0) {
    report.fail(ref.field, 'selects no features');
    return null;
  }
  let ok = true;
  for (const feature of ref.features ?? []) {
    if (!names.includes(feature)) {
      report.fail(ref.field, `feature view '${ref.view}' has no feature '${feature}'`);
      ok = false;
    }
  }
  return ok ? names : null;
}

/** One entry per view, in first-mention order; a whole-view mention wins over selections. */
function serviceEntries(
  refs: FeatureRef[],
  views: Map<string, string[]>,
  report: Reporter,
): FeatureServiceEntry[] {
  const entries = new Map<string, Set<string> | null>();
  for (const ref of refs) {
    const names = checkRef(ref, views, report);
    if (!names) continue;
    const current = entries.get(ref.view);
    if (ref.features === null || current === null) entries.set(ref.view, null);
    else entries.set(ref.view, new Set([...(current ?? []), ...ref.features]));
  }
  return [...entries].map(([view, selected]) => {
    if (selected === null) return { featureView: view };
    // Keep the view's column order so the service's output is stable.
    const order = views.get(view)!;
    return { featureView: view, features: order.filter((f) => selected.has(f)) };
  });
}

function monitorFeatures(refs: FeatureRef[], views: Map<string, string[]>, report: Reporter): string[] {
  const out: string[] = [];
  for (const ref of refs) {
    const names = checkRef(ref, views, report);
    if (!names) continue;
    for (const feature of ref.features ?? names) {
      const full = `${ref.view}:${feature}`;
      if (!out.includes(full)) out.push(full);
    }
  }
  return out;
}

function resolveMonitor(
  input: Record<string, unknown>,
  report: Reporter,
  common: Common,
): { spec: MonitorSpec; overrideKeys: string[] } {
  const model = input['model'] ?? input['name'];
  if (typeof model !== 'string' || model.trim() === '' || model.length > 255) {
    report.fail('model', `expected a model name (1 to 255 characters), got ${describe(model)}`);
  }
  const topicIssue = topicProblem(input['predictionTopic']);
  if (topicIssue) report.fail('predictionTopic', topicIssue);

  const monitorPrediction = input['monitorPrediction'] ?? true;
  if (typeof monitorPrediction !== 'boolean') {
    report.fail('monitorPrediction', `expected true or false, got ${describe(monitorPrediction)}`);
  }

  let window: MonitorWindow = { rows: 1 };
  const rawWindow = input['window'];
  if (!isRecord(rawWindow)) {
    report.fail('window', `expected { rows: N } or { duration: '1h' }, got ${describe(rawWindow)}`);
  } else if ('rows' in rawWindow && 'duration' in rawWindow) {
    report.fail('window', "give either 'rows' or 'duration', not both");
  } else if ('rows' in rawWindow) {
    const rows = rawWindow['rows'];
    if (typeof rows !== 'number' || !Number.isInteger(rows) || rows < 1) {
      report.fail('window.rows', `expected a positive integer, got ${describe(rows)}`);
    } else window = { rows };
  } else if ('duration' in rawWindow) {
    const duration = parseDuration(rawWindow['duration']);
    if ('error' in duration) report.fail('window.duration', duration.error);
    else if (duration.ms === 0) report.fail('window.duration', 'must be longer than 0');
    else window = { durationMs: duration.ms };
  } else {
    report.fail('window', `expected { rows: N } or { duration: '1h' }, got an object without either`);
  }

  const overrides: Record<string, MonitorFeatureOverride> = {};
  const overrideKeys: string[] = [];
  const rawOverrides = input['overrides'];
  if (rawOverrides !== undefined) {
    if (!isRecord(rawOverrides))
      report.fail('overrides', `expected { column: { method, threshold } }, got ${describe(rawOverrides)}`);
    else {
      for (const [key, value] of Object.entries(rawOverrides)) {
        const field = `overrides.${key}`;
        if (!isRecord(value)) {
          report.fail(field, `expected { method?, threshold? }, got ${describe(value)}`);
          continue;
        }
        const override: MonitorFeatureOverride = {};
        for (const k of Object.keys(value)) {
          if (k !== 'method' && k !== 'threshold' && value[k] !== undefined) {
            report.fail(`${field}.${k}`, 'unknown field; expected method or threshold');
          }
        }
        if (value['method'] !== undefined) {
          if (!(DRIFT_METHODS as readonly unknown[]).includes(value['method'])) {
            report.fail(
              `${field}.method`,
              `expected one of ${DRIFT_METHODS.join(', ')}, got ${describe(value['method'])}`,
            );
          } else override.method = value['method'] as DriftMethod;
        }
        if (value['threshold'] !== undefined) {
          const t = value['threshold'];
          if (typeof t !== 'number' || !Number.isFinite(t) || t <= 0) {
            report.fail(`${field}.threshold`, `expected a positive number, got ${describe(t)}`);
          } else override.threshold = t;
        }
        overrides[key] = override;
        overrideKeys.push(key);
      }
    }
  }

  const datasetDriftThreshold = input['datasetDriftThreshold'] ?? 0.5;
  if (
    typeof datasetDriftThreshold !== 'number' ||
    !Number.isFinite(datasetDriftThreshold) ||
    datasetDriftThreshold <= 0 ||
    datasetDriftThreshold > 1
  ) {
    report.fail(
      'datasetDriftThreshold',
      `expected a share in (0, 1], got ${describe(datasetDriftThreshold)}`,
    );
  }

  let retrain: RetrainPolicySpec | null = null;
  const rawRetrain = input['retrain'];
  if (rawRetrain !== undefined && rawRetrain !== null) {
    if (!isRecord(rawRetrain)) {
      report.fail(
        'retrain',
        `expected { consecutiveDriftedWindows, cooldown } or null, got ${describe(rawRetrain)}`,
      );
    } else {
      const n = rawRetrain['consecutiveDriftedWindows'];
      let cooldownMs = 0;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) {
        report.fail('retrain.consecutiveDriftedWindows', `expected a positive integer, got ${describe(n)}`);
      }
      if (rawRetrain['cooldown'] !== undefined) {
        const cooldown = parseDuration(rawRetrain['cooldown']);
        if ('error' in cooldown) report.fail('retrain.cooldown', cooldown.error);
        else cooldownMs = cooldown.ms;
      }
      for (const k of Object.keys(rawRetrain)) {
        if (k !== 'consecutiveDriftedWindows' && k !== 'cooldown' && rawRetrain[k] !== undefined) {
          report.fail(`retrain.${k}`, 'unknown field; expected consecutiveDriftedWindows or cooldown');
        }
      }
      retrain = { consecutiveDriftedWindows: Number(n), cooldownMs };
    }
  }

  const webhooks: WebhookSpec[] = [];
  const rawWebhooks = input['webhooks'] ?? [];
  if (!Array.isArray(rawWebhooks))
    report.fail('webhooks', `expected a list of { url, secretEnv? }, got ${describe(rawWebhooks)}`);
  else {
    rawWebhooks.forEach((hook: unknown, i) => {
      const field = `webhooks[${i}]`;
      if (!isRecord(hook)) {
        report.fail(field, `expected { url, secretEnv? }, got ${describe(hook)}`);
        return;
      }
      const url = hook['url'];
      let ok = typeof url === 'string';
      if (ok) {
        try {
          ok = ['http:', 'https:'].includes(new URL(url as string).protocol);
        } catch {
          ok = false;
        }
      }
      if (!ok) report.fail(`${field}.url`, `expected an http(s) URL, got ${describe(url)}`);
      // A key given in the declaration would be stored in the registry in plain text (and
      // printed by plans); only the name of the variable that holds it is accepted.
      if (hook['secret'] !== undefined) {
        report.fail(
          `${field}.secret`,
          "a literal secret would be stored in the registry: put the key in an environment variable of the monitor and name it, e.g. secretEnv: 'DRIFT_HOOK_SECRET'",
        );
      }
      const secretEnv = hook['secretEnv'];
      if (secretEnv !== undefined && (typeof secretEnv !== 'string' || !SECRET_ENV_PATTERN.test(secretEnv))) {
        report.fail(
          `${field}.secretEnv`,
          `expected the name of an environment variable (letters, digits, _), got ${describe(secretEnv)}`,
        );
      }
      for (const k of Object.keys(hook)) {
        if (k !== 'url' && k !== 'secret' && k !== 'secretEnv' && hook[k] !== undefined) {
          report.fail(`${field}.${k}`, 'unknown field; expected url or secretEnv');
        }
      }
      webhooks.push(typeof secretEnv === 'string' ? { url: String(url), secretEnv } : { url: String(url) });
    });
  }

  return {
    overrideKeys,
    spec: {
      kind: 'monitor',
      name: String(input['name']),
      model: String(model),
      predictionTopic: String(input['predictionTopic']),
      features: [],
      monitorPrediction: monitorPrediction === true,
      window,
      overrides,
      datasetDriftThreshold: Number(datasetDriftThreshold),
      retrain,
      webhooks,
      ...common,
    },
  };
}

/**
 * Adds declarations that exported ones reference but no file exports (an entity declared
 * inline in a view, say), attributed to the file that made them; drops repeated exports.
 */
function withReferenced(
  items: readonly LocatedDeclaration[],
  fileOf: (declaredAt: string) => string,
): LocatedDeclaration[] {
  const seen = new Set<AnyDeclaration>();
  const out: LocatedDeclaration[] = [];
  for (const item of items) {
    if (seen.has(item.declaration)) continue;
    seen.add(item.declaration);
    out.push(item);
  }
  const visit = (declaration: AnyDeclaration, file: string) => {
    const input = declaration[DECLARATION].input;
    if (!isRecord(input)) return;
    const refs: unknown[] = [input['source'], input['batchSource']];
    for (const key of ['entities', 'features']) {
      const list = input[key];
      if (Array.isArray(list)) refs.push(...list);
    }
    for (const ref of refs) {
      const target = isProjection(ref)
        ? ref.featureView
        : isRecord(ref) && !isDeclaration(ref)
          ? ref['featureView']
          : ref;
      if (!isDeclaration(target) || seen.has(target)) continue;
      seen.add(target);
      const declaredAt = target[DECLARATION].declaredAt;
      const at = declaredAt === undefined ? file : fileOf(declaredAt);
      out.push({ declaration: target, file: at });
      visit(target, at);
    }
  };
  for (const item of [...out]) visit(item.declaration, item.file);
  return out;
}
