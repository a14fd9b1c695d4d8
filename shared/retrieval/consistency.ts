/**
 * Online/offline consistency of a stream feature view (Chronon's consistency metric, but exact):
 * the same entities' aggregated features read from the online store at an instant `t` and
 * computed by historical retrieval as of that same `t`, compared value by value. Store-independent:
 * it reads through the online port and a `HistoricalFeatureSource`.
 */
import type { RepoSpec, StreamFeatureViewSpec } from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';
import { viewLayout } from '../model/layout.ts';
import type { FeatureRow } from '../model/row.ts';
import type { OnlineStore } from '../stores/online/port.ts';
import { entitiesFromColumns } from './entities.ts';
import { type HistoricalFeatureSource, historicalBatches } from './historical.ts';
import { planRetrieval } from './plan.ts';

type Value = bigint | number | string | boolean | null;

/** One feature of one entity whose online and offline values differ. */
export interface Mismatch {
  /** Join key values by name, as text. */
  entity: Record<string, string>;
  feature: string;
  online: Value;
  offline: Value;
}

export interface ConsistencyResult {
  /** The instant compared at, epoch ms. */
  at: number;
  entities: number;
  /** Values compared: entities × features. */
  compared: number;
  mismatches: Mismatch[];
}

/** The stream view `name` of `repo`, served both online and offline; coded errors otherwise. */
export function streamViewOf(repo: RepoSpec, name: string): StreamFeatureViewSpec {
  const view = repo.streamFeatureViews?.find((v) => v.name === name);
  if (!view) {
    const plain = repo.featureViews.some((v) => v.name === name);
    throw new TributaryError(
      plain ? 'TRIB_BAD_REQUEST' : 'TRIB_UNKNOWN_FEATURE_VIEW',
      plain
        ? `feature view '${name}' is a plain view: consistency compares stream feature views' aggregates`
        : `no stream feature view named '${name}'`,
      { details: { feature_view: name } },
    );
  }
  if (!view.online || !view.offline) {
    throw new TributaryError(
      'TRIB_BAD_REQUEST',
      `stream feature view '${name}' is not both online and offline: there is nothing to compare`,
      { details: { feature_view: name } },
    );
  }
  return view;
}

/** Equal as features: the same bits, taking −0 as +0 (the aggregations do too). */
function same(a: Value, b: Value): boolean {
  return a === b || Object.is(a, b);
}

/** Compares `keys`' aggregated features of `viewName` online and offline at `at`. */
export async function compareAt(
  deps: { repo: RepoSpec; online: OnlineStore; historical: HistoricalFeatureSource },
  viewName: string,
  keys: readonly FeatureRow['keys'][],
  at: number,
): Promise<ConsistencyResult> {
  const view = streamViewOf(deps.repo, viewName);
  const layout = viewLayout(view, deps.repo.entities);
  const result: ConsistencyResult = { at, entities: keys.length, compared: 0, mismatches: [] };
  if (keys.length === 0) return result;
  const plan = planRetrieval(
    deps.repo,
    { features: view.aggregations.map((a) => `${view.name}:${a.name}`), fullFeatureNames: true },
    'offline',
  );
  const [records] = await deps.online.read([{ view: layout, keys: [...keys] }], { at });
  const columns: Record<string, unknown[]> = { event_timestamp: keys.map(() => at) };
  layout.joinKeys.forEach((k, i) => {
    columns[k.name] = keys.map((row) => row[i]);
  });
  const offline: Value[][] = keys.map(() => []);
  const entities = entitiesFromColumns(columns, plan.joinKeys);
  let row = 0;
  for await (const batch of historicalBatches(deps.historical, plan, entities)) {
    const vectors = plan.features.map((f) => batch.getChild(f.outputName)!);
    for (let i = 0; i < batch.numRows; i++, row++) {
      offline[row] = vectors.map((vector) => (vector.get(i) ?? null) as Value);
    }
  }
  keys.forEach((entity, e) => {
    const record = records![e] ?? null;
    view.aggregations.forEach((a, k) => {
      // An entity without online state reads as its empty window: 0 for count and sum.
      const online: Value = record === null ? emptyValue(a.function) : record.values[k]!;
      const stored = offline[e]![k] ?? null;
      result.compared++;
      if (!same(online, stored)) {
        result.mismatches.push({
          entity: Object.fromEntries(layout.joinKeys.map((key, i) => [key.name, String(entity[i])])),
          feature: `${view.name}:${a.name}`,
          online,
          offline: stored,
        });
      }
    });
  });
  return result;
}

function emptyValue(fn: StreamFeatureViewSpec['aggregations'][number]['function']): Value {
  if (fn === 'count') return 0n;
  return fn === 'sum' ? 0 : null;
}
