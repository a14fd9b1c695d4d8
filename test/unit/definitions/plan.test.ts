import { describe, expect, it } from 'vitest';
import { driverEntity, statsView } from '../../../fixtures/driver-spec.ts';
import type {
  EntitySpec,
  FeatureViewSpec,
  MonitorSpec,
  RepoSpec,
} from '../../../shared/definitions/types.ts';
import { canonicalJson, specHash } from '../../../shared/registry/hash.ts';
import { planChanges } from '../../../shared/registry/plan.ts';

const driver = driverEntity();
const stats = statsView('src');
const model: MonitorSpec = {
  kind: 'monitor',
  name: 'model',
  model: 'model',
  predictionTopic: 'preds',
  features: ['stats:conv_rate'],
  monitorPrediction: true,
  window: { rows: 100 },
  overrides: {},
  datasetDriftThreshold: 0.5,
  retrain: null,
  webhooks: [{ url: 'https://h.example', secret: 'old-secret' }],
};
const base: RepoSpec = {
  entities: [driver],
  kafkaSources: [
    {
      kind: 'kafkaSource',
      name: 'src',
      topic: 'stats',
      timestampField: 'event_timestamp',
      createdField: 'created',
      format: 'json',
    },
  ],
  pushSources: [],
  featureViews: [stats],
  featureServices: [{ kind: 'featureService', name: 'svc', features: [{ featureView: 'stats' }] }],
  monitors: [model],
};

const registered = (spec: RepoSpec, version = 1) => ({ version, hash: specHash(spec), spec });
const withView = (view: Partial<FeatureViewSpec>, spec = base): RepoSpec => ({
  ...spec,
  featureViews: [{ ...stats, ...view }],
});

describe('planChanges', () => {
  it('adds everything to an empty registry, with tables and topics', () => {
    const plan = planChanges(null, base);
    expect(plan.from).toBeNull();
    expect(plan.unchanged).toBe(false);
    expect(plan.breaking).toBe(false);
    expect(plan.changes.map((c) => `${c.action} ${c.kind} ${c.name}`)).toEqual([
      'add entity driver',
      'add kafkaSource src',
      'add featureView stats',
      'add featureService svc',
      'add monitor model',
    ]);
    expect(plan.tables).toEqual([{ view: 'stats', action: 'create', reason: 'new view' }]);
    expect(plan.newTopics).toEqual(['stats', 'stats.dlq', 'tributary.drift', 'tributary.retrain', 'preds']);
  });

  it('finds nothing to do for the same repository', () => {
    const plan = planChanges(registered(base, 7), structuredClone(base));
    expect(plan).toMatchObject({ unchanged: true, breaking: false, changes: [], tables: [], newTopics: [] });
    expect(plan.from).toEqual({ version: 7, hash: specHash(base) });
  });

  it('hashes independently of key order', () => {
    const reordered = JSON.parse(canonicalJson(base)) as RepoSpec;
    expect(specHash(reordered)).toBe(specHash(base));
    expect(planChanges(registered(base), reordered).unchanged).toBe(true);
  });

  it('treats a new feature as a safe change that alters the table', () => {
    const plan = planChanges(
      registered(base),
      withView({ schema: [...stats.schema, { name: 'acc_rate', type: 'float64' }] }),
    );
    expect(plan.breaking).toBe(false);
    expect(plan.changes).toEqual([
      {
        kind: 'featureView',
        name: 'stats',
        action: 'change',
        fields: [{ path: 'schema.acc_rate', to: 'float64' }],
        breaking: [],
      },
    ]);
    expect(plan.tables).toEqual([{ view: 'stats', action: 'alter', reason: 'new features' }]);
  });

  it('treats ttl, flags and descriptions as safe changes', () => {
    const plan = planChanges(
      registered(base),
      withView({ ttlMs: 3_600_000, online: false, description: 'hourly' }),
    );
    expect(plan.breaking).toBe(false);
    expect(plan.changes[0]?.fields).toEqual([
      { path: 'description', to: 'hourly' },
      { path: 'online', from: true, to: false },
      { path: 'ttlMs', from: 86_400_000, to: 3_600_000 },
    ]);
    expect(plan.tables).toEqual([]);
  });

  it('breaks on a changed feature type and recreates the table', () => {
    const plan = planChanges(
      registered(base),
      withView({ schema: [stats.schema[0]!, { name: 'trips', type: 'float64' }] }),
    );
    expect(plan.breaking).toBe(true);
    const reason = "feature 'trips' changes type from int64 to float64: stored values no longer match";
    expect(plan.changes).toEqual([
      {
        kind: 'featureView',
        name: 'stats',
        action: 'change',
        fields: [{ path: 'schema.trips.type', from: 'int64', to: 'float64' }],
        breaking: [reason],
      },
    ]);
    expect(plan.tables).toEqual([{ view: 'stats', action: 'recreate', reason }]);
  });

  it('breaks on a removed feature but keeps the table', () => {
    const plan = planChanges(registered(base), withView({ schema: [stats.schema[0]!] }));
    expect(plan.changes[0]?.breaking).toEqual(["feature 'trips' is removed: readers requesting it fail"]);
    expect(plan.changes[0]?.fields).toEqual([{ path: 'schema.trips', from: 'int64' }]);
    expect(plan.tables).toEqual([]);
  });

  it('breaks on a removed view and archives its table', () => {
    const next: RepoSpec = { ...base, featureViews: [], featureServices: [], monitors: [] };
    const plan = planChanges(registered(base), next);
    expect(plan.breaking).toBe(true);
    expect(plan.changes.map((c) => [c.action, c.kind, c.name, c.breaking.length])).toEqual([
      ['remove', 'featureView', 'stats', 1],
      ['remove', 'featureService', 'svc', 0],
      ['remove', 'monitor', 'model', 0],
    ]);
    expect(plan.tables).toEqual([{ view: 'stats', action: 'archive', reason: 'view removed' }]);
  });

  it('breaks when an entity’s join key type changes under a view', () => {
    const next: RepoSpec = { ...base, entities: [{ ...driver, valueType: 'string' }] };
    const plan = planChanges(registered(base), next);
    expect(plan.changes.map((c) => [c.kind, c.name, c.breaking])).toEqual([
      ['entity', 'driver', []],
      [
        'featureView',
        'stats',
        ['join keys change from (driver_id int64) to (driver_id string): stored rows no longer match'],
      ],
    ]);
    expect(plan.tables.map((t) => [t.view, t.action])).toEqual([['stats', 'recreate']]);
  });

  it('breaks when a view’s entities change', () => {
    const rider: EntitySpec = { kind: 'entity', name: 'rider', joinKey: 'rider_id', valueType: 'int64' };
    const next = withView({ entities: ['driver', 'rider'] }, { ...base, entities: [driver, rider] });
    const plan = planChanges(registered(base), next);
    const view = plan.changes.find((c) => c.kind === 'featureView');
    expect(view?.breaking).toEqual([
      'join keys change from (driver_id int64) to (driver_id int64, rider_id int64): stored rows no longer match',
    ]);
    expect(view?.fields).toContainEqual({ path: 'entities', from: ['driver'], to: ['driver', 'rider'] });
  });

  it('creates the table of a view that becomes offline', () => {
    const before = withView({ offline: false });
    const plan = planChanges(registered(before), base);
    expect(plan.tables).toEqual([{ view: 'stats', action: 'create', reason: 'view becomes offline' }]);
    expect(plan.breaking).toBe(false);
  });

  it('lists only topics the old repository did not need', () => {
    const next: RepoSpec = { ...base, monitors: [{ ...model, predictionTopic: 'preds2' }] };
    expect(planChanges(registered(base), next).newTopics).toEqual(['preds2']);
  });

  it('never shows webhook secrets', () => {
    const next: RepoSpec = {
      ...base,
      monitors: [{ ...model, webhooks: [{ url: 'https://h.example', secret: 'new-secret' }] }],
    };
    const plan = planChanges(registered(base), next);
    expect(JSON.stringify(plan)).not.toMatch(/old-secret|new-secret/);
    expect(plan.changes[0]?.fields).toEqual([
      {
        path: 'webhooks',
        from: [{ url: 'https://h.example', secret: '(redacted)' }],
        to: [{ url: 'https://h.example', secret: '(redacted)' }],
      },
    ]);
  });

  it('shows a migration from a stored secret to secretEnv without the old key', () => {
    const next: RepoSpec = {
      ...base,
      monitors: [{ ...model, webhooks: [{ url: 'https://h.example', secretEnv: 'HOOK_SECRET' }] }],
    };
    const plan = planChanges(registered(base), next);
    expect(JSON.stringify(plan)).not.toMatch(/old-secret/);
    // The variable's name is no secret: the plan says which one the monitor will read.
    expect(plan.changes[0]?.fields).toEqual([
      {
        path: 'webhooks',
        from: [{ url: 'https://h.example', secret: '(redacted)' }],
        to: [{ url: 'https://h.example', secretEnv: 'HOOK_SECRET' }],
      },
    ]);
  });

  it('reports schema reordering', () => {
    const plan = planChanges(registered(base), withView({ schema: [stats.schema[1]!, stats.schema[0]!] }));
    expect(plan.changes[0]?.fields).toEqual([
      { path: 'schema (order)', from: ['conv_rate', 'trips'], to: ['trips', 'conv_rate'] },
    ]);
    expect(plan.breaking).toBe(false);
  });
});
