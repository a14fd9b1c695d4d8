/**
 * What `apply` would change: a pure diff between the registry's current repository and a
 * new one, which changes break readers or stored data, and what happens to offline tables.
 */

import { formatDuration } from '../definitions/duration.ts';
import { kafkaSourceOfView, requiredTopics } from '../definitions/queries.ts';
import type {
  AggregationSpec,
  FeatureViewSpec,
  ObjectKind,
  ObjectSpec,
  RepoSpec,
  StreamFeatureViewSpec,
} from '../definitions/types.ts';
import { canonicalJson, specHash } from './hash.ts';

export type ChangeAction = 'add' | 'change' | 'remove';

/** One changed property of an object, by path (`schema.conv_rate.type`, `ttlMs`, `window.rows`). */
export interface FieldChange {
  path: string;
  /** Absent when the property is new. Webhook secrets show as `'(redacted)'`. */
  from?: unknown;
  /** Absent when the property is gone. */
  to?: unknown;
}

export interface ObjectChange {
  kind: ObjectKind;
  name: string;
  action: ChangeAction;
  /** For `change`: what changed. Empty for `add` and `remove`. */
  fields: FieldChange[];
  /** Why this change breaks readers or stored data; empty when it does not. */
  breaking: string[];
}

/** What `apply` does to a view's offline table. */
export interface TableAction {
  view: string;
  /** `create`: new table; `alter`: add columns; `recreate`: archive then create; `archive`: rename aside. */
  action: 'create' | 'alter' | 'recreate' | 'archive';
  reason: string;
}

export interface Plan {
  /** The registry version the plan starts from; null for an empty registry. */
  from: { version: number; hash: string } | null;
  /** The hash of the repository being planned. */
  hash: string;
  /** Changed objects, by kind (entities first, monitors last) then name. */
  changes: ObjectChange[];
  /** True when the repository equals the registry's current version. */
  unchanged: boolean;
  /** True when any change breaks readers or stored data: `apply` then needs `allowBreaking`. */
  breaking: boolean;
  tables: TableAction[];
  /** Topics the new repository needs that the current one did not (apply creates any that are missing). */
  newTopics: string[];
}

export const KIND_ORDER: readonly ObjectKind[] = [
  'entity',
  'kafkaSource',
  'pushSource',
  'featureView',
  'streamFeatureView',
  'featureService',
  'monitor',
];

const LISTS: Record<ObjectKind, keyof RepoSpec> = {
  entity: 'entities',
  kafkaSource: 'kafkaSources',
  pushSource: 'pushSources',
  featureView: 'featureViews',
  streamFeatureView: 'streamFeatureViews',
  featureService: 'featureServices',
  monitor: 'monitors',
};

/** The empty repository: what an empty registry holds. */
export const EMPTY_REPO: RepoSpec = Object.freeze({
  entities: [],
  kafkaSources: [],
  pushSources: [],
  featureViews: [],
  featureServices: [],
  monitors: [],
}) as RepoSpec;

/** The objects of one kind (an absent list, as `streamFeatureViews` may be, is empty). */
function listOf(repo: RepoSpec, kind: ObjectKind): ObjectSpec[] {
  return (repo[LISTS[kind]] as ObjectSpec[] | undefined) ?? [];
}

/** Every object of a repository, in kind order. */
export function objectsOf(repo: RepoSpec): ObjectSpec[] {
  return KIND_ORDER.flatMap((kind) => listOf(repo, kind));
}

/** Plans the change from `current` (null: empty registry) to `next`. */
export function planChanges(
  current: { version: number; hash: string; spec: RepoSpec } | null,
  next: RepoSpec,
): Plan {
  const before = current?.spec ?? EMPTY_REPO;
  const hash = specHash(next);
  const changes: ObjectChange[] = [];
  const tables: TableAction[] = [];

  for (const kind of KIND_ORDER) {
    const olds = new Map(listOf(before, kind).map((o) => [o.name, o]));
    const news = new Map(listOf(next, kind).map((o) => [o.name, o]));
    const names = [...new Set([...olds.keys(), ...news.keys()])].sort();
    for (const name of names) {
      const old = olds.get(name);
      const now = news.get(name);
      if (!old && now) {
        changes.push({ kind, name, action: 'add', fields: [], breaking: [] });
        if ((now.kind === 'featureView' || now.kind === 'streamFeatureView') && now.offline)
          tables.push({ view: name, action: 'create', reason: 'new view' });
      } else if (old && !now) {
        const breaking =
          old.kind === 'featureView'
            ? ['the view is removed: readers of its features fail; its offline table is archived']
            : old.kind === 'streamFeatureView'
              ? ['the view is removed: readers of its features fail; its table of events is archived']
              : [];
        changes.push({ kind, name, action: 'remove', fields: [], breaking });
        if (old.kind === 'featureView' || old.kind === 'streamFeatureView')
          tables.push({ view: name, action: 'archive', reason: 'view removed' });
      } else if (old && now) {
        const fields = diffObject(old, now);
        let breaking: string[] = [];
        if (old.kind === 'featureView' && now.kind === 'featureView') {
          const view = viewChanges(before, old, next, now);
          breaking = view.breaking;
          fields.push(...view.fields);
          if (view.table) tables.push(view.table);
        }
        if (old.kind === 'streamFeatureView' && now.kind === 'streamFeatureView') {
          const view = streamViewChanges(before, old, next, now);
          breaking = view.breaking;
          fields.push(...view.fields);
          // Its raw events no longer fit the table: set aside, a new one is made (as for plain views).
          const stale = view.fields.some(
            (f) => f.path === 'joinKeys' || (f.path.startsWith('schema.') && f.path.endsWith('.type')),
          );
          if (stale && now.offline)
            tables.push({ view: name, action: 'recreate', reason: 'its events no longer fit the table' });
        }
        if (fields.length > 0 || breaking.length > 0)
          changes.push({ kind, name, action: 'change', fields, breaking });
      }
    }
  }

  const oldTopics = new Set(current ? requiredTopics(before).map((t) => t.topic) : []);
  return {
    from: current ? { version: current.version, hash: current.hash } : null,
    hash,
    changes,
    unchanged: current !== null && current.hash === hash,
    breaking: changes.some((c) => c.breaking.length > 0),
    tables,
    newTopics: requiredTopics(next)
      .map((t) => t.topic)
      .filter((t) => !oldTopics.has(t)),
  };
}

/** Property-level differences, except a view's schema, which `viewChanges` compares by field. */
function diffObject(old: ObjectSpec, now: ObjectSpec): FieldChange[] {
  const out: FieldChange[] = [];
  const skip =
    old.kind === 'featureView'
      ? new Set(['schema'])
      : old.kind === 'streamFeatureView'
        ? new Set(['schema', 'aggregations'])
        : new Set<string>();
  walk(old, now, '', out, skip);
  return out;
}

function isPlain(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function walk(a: unknown, b: unknown, path: string, out: FieldChange[], skip: Set<string>): void {
  if (isPlain(a) && isPlain(b)) {
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const sub = path === '' ? key : `${path}.${key}`;
      if (skip.has(sub)) continue;
      walk(a[key], b[key], sub, out, skip);
    }
    return;
  }
  if (canonicalJson(a) === canonicalJson(b)) return;
  const change: FieldChange = { path };
  if (a !== undefined) change.from = redact(a, path);
  if (b !== undefined) change.to = redact(b, path);
  out.push(change);
}

/** Webhook secrets never appear in plans. */
function redact(value: unknown, path: string): unknown {
  if (path.endsWith('secret')) return '(redacted)';
  if (Array.isArray(value)) return value.map((v) => redact(v, path));
  if (isPlain(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === 'secret' ? '(redacted)' : redact(v, path);
    return out;
  }
  return value;
}

function joinKeys(repo: RepoSpec, view: Pick<FeatureViewSpec, 'entities'>): string[] {
  return view.entities.map((name) => {
    const e = repo.entities.find((x) => x.name === name);
    return e ? `${e.joinKey} ${e.valueType}` : `${name} ?`;
  });
}

/** Schema and join-key changes of a view: what breaks, and what its table needs. */
function viewChanges(
  before: RepoSpec,
  old: FeatureViewSpec,
  next: RepoSpec,
  now: FeatureViewSpec,
): { fields: FieldChange[]; breaking: string[]; table: TableAction | null } {
  const fields: FieldChange[] = [];
  const breaking: string[] = [];
  let storage: string | null = null;
  let added = false;

  const oldKeys = joinKeys(before, old);
  const newKeys = joinKeys(next, now);
  if (canonicalJson(oldKeys) !== canonicalJson(newKeys)) {
    fields.push({ path: 'joinKeys', from: oldKeys, to: newKeys });
    const reason = `join keys change from (${oldKeys.join(', ')}) to (${newKeys.join(', ')}): stored rows no longer match`;
    breaking.push(reason);
    storage = reason;
  } else if (canonicalJson(old.entities) !== canonicalJson(now.entities)) {
    breaking.push(`entities change from [${old.entities.join(', ')}] to [${now.entities.join(', ')}]`);
  }

  const oldFields = new Map(old.schema.map((f) => [f.name, f]));
  const newFields = new Map(now.schema.map((f) => [f.name, f]));
  for (const f of old.schema) {
    const g = newFields.get(f.name);
    if (!g) {
      fields.push({ path: `schema.${f.name}`, from: f.type });
      breaking.push(`feature '${f.name}' is removed: readers requesting it fail`);
      continue;
    }
    if (f.type !== g.type) {
      fields.push({ path: `schema.${f.name}.type`, from: f.type, to: g.type });
      const reason = `feature '${f.name}' changes type from ${f.type} to ${g.type}: stored values no longer match`;
      breaking.push(reason);
      storage ??= reason;
    }
    if (f.description !== g.description) {
      const change: FieldChange = { path: `schema.${f.name}.description` };
      if (f.description !== undefined) change.from = f.description;
      if (g.description !== undefined) change.to = g.description;
      fields.push(change);
    }
  }
  for (const g of now.schema) {
    if (!oldFields.has(g.name)) {
      fields.push({ path: `schema.${g.name}`, to: g.type });
      added = true;
    }
  }
  const common = (list: FeatureViewSpec['schema'], other: Map<string, unknown>) =>
    list.filter((f) => other.has(f.name)).map((f) => f.name);
  const oldOrder = common(old.schema, newFields);
  const newOrder = common(now.schema, oldFields);
  if (canonicalJson(oldOrder) !== canonicalJson(newOrder)) {
    fields.push({ path: 'schema (order)', from: oldOrder, to: newOrder });
  }
  if (
    kafkaSourceOfView(before, old)?.topic !== kafkaSourceOfView(next, now)?.topic &&
    old.source === now.source
  ) {
    fields.push({
      path: 'source (topic)',
      from: kafkaSourceOfView(before, old)?.topic,
      to: kafkaSourceOfView(next, now)?.topic,
    });
  }

  let table: TableAction | null = null;
  if (now.offline) {
    if (storage !== null && old.offline) table = { view: now.name, action: 'recreate', reason: storage };
    else if (!old.offline) table = { view: now.name, action: 'create', reason: 'view becomes offline' };
    else if (added) table = { view: now.name, action: 'alter', reason: 'new features' };
  }
  return { fields, breaking, table };
}

/** An aggregation as plans show it: `sum(fare) over 1h in 1m tiles`. */
function describeAggregation(a: AggregationSpec): string {
  return `${a.function}(${a.column}) over ${String(formatDuration(a.windowMs))} in ${String(formatDuration(a.resolutionMs))} tiles`;
}

/**
 * What changes in a stream view, and what breaks. Its features are its aggregations: one
 * removed, or one whose column, function, window or resolution changes, breaks readers and
 * the tiles already computed for it; one added does not. Source columns compare as a plain
 * view's schema does. (Offline storage of stream views, the raw events, is not planned here yet.)
 */
function streamViewChanges(
  before: RepoSpec,
  old: StreamFeatureViewSpec,
  next: RepoSpec,
  now: StreamFeatureViewSpec,
): { fields: FieldChange[]; breaking: string[] } {
  const fields: FieldChange[] = [];
  const breaking: string[] = [];
  const oldKeys = joinKeys(before, old);
  const newKeys = joinKeys(next, now);
  if (canonicalJson(oldKeys) !== canonicalJson(newKeys)) {
    fields.push({ path: 'joinKeys', from: oldKeys, to: newKeys });
    breaking.push(
      `join keys change from (${oldKeys.join(', ')}) to (${newKeys.join(', ')}): stored aggregates no longer match`,
    );
  } else if (canonicalJson(old.entities) !== canonicalJson(now.entities)) {
    breaking.push(`entities change from [${old.entities.join(', ')}] to [${now.entities.join(', ')}]`);
  }

  const newColumns = new Map(now.schema.map((f) => [f.name, f]));
  for (const f of old.schema) {
    const g = newColumns.get(f.name);
    if (!g) {
      fields.push({ path: `schema.${f.name}`, from: f.type });
      breaking.push(`source column '${f.name}' is removed: stored events no longer match`);
    } else if (f.type !== g.type) {
      fields.push({ path: `schema.${f.name}.type`, from: f.type, to: g.type });
      breaking.push(
        `source column '${f.name}' changes type from ${f.type} to ${g.type}: stored events no longer match`,
      );
    } else if (f.description !== g.description) {
      const change: FieldChange = { path: `schema.${f.name}.description` };
      if (f.description !== undefined) change.from = f.description;
      if (g.description !== undefined) change.to = g.description;
      fields.push(change);
    }
  }
  const oldColumns = new Set(old.schema.map((f) => f.name));
  for (const g of now.schema) {
    if (!oldColumns.has(g.name)) fields.push({ path: `schema.${g.name}`, to: g.type });
  }

  const newAggregations = new Map(now.aggregations.map((a) => [a.name, a]));
  for (const a of old.aggregations) {
    const b = newAggregations.get(a.name);
    if (!b) {
      fields.push({ path: `aggregations.${a.name}`, from: describeAggregation(a) });
      breaking.push(`feature '${a.name}' is removed: readers requesting it fail`);
    } else if (describeAggregation(a) !== describeAggregation(b) || a.type !== b.type) {
      fields.push({
        path: `aggregations.${a.name}`,
        from: describeAggregation(a),
        to: describeAggregation(b),
      });
      breaking.push(
        `feature '${a.name}' changes from ${describeAggregation(a)} to ${describeAggregation(b)}: its stored aggregates no longer match`,
      );
    }
  }
  const oldNames = new Set(old.aggregations.map((a) => a.name));
  for (const b of now.aggregations) {
    if (!oldNames.has(b.name)) fields.push({ path: `aggregations.${b.name}`, to: describeAggregation(b) });
  }
  return { fields, breaking };
}
