/** The point-in-time query of a historical retrieval (see historical.ts for the strategy). */
import { PG_TYPES, quoteIdent } from '../../../postgres/index.ts';
import type { RetrievalPlan } from '../../../retrieval/plan.ts';

/**
 * Builds the point-in-time query: `(rn, features in plan order)` for every row of
 * `pg_temp.trib_entities`, in probe order. `loadedInProbeOrder`: the rows were copied in key
 * order (`sortedByKey`), and a scan of the fresh temp table meets them in that order, so Postgres
 * need not sort them (only speed depends on it; the answer is put in order by `rn`). `month`:
 * every row's window, for every view with a ttl, lies in this UTC month (`byWindowMonth`).
 * Exported for the benchmark and for EXPLAIN in tests.
 */
export function pointInTimeSql(
  plan: RetrievalPlan,
  schema: string,
  existing: ReadonlySet<string>,
  loadedInProbeOrder = false,
  month: [from: number, to: number] | null = null,
): string {
  const keyColumn = new Map(plan.joinKeys.map((k, i) => [k.name, `k${i}`]));
  const select: string[] = [];
  const joins: string[] = [];
  plan.views.forEach((view, v) => {
    const alias = `v${v}`;
    const columns = view.features.map((f, i) => `d.${quoteIdent(f.name)}::${PG_TYPES[f.type]} AS f${i}`);
    view.features.forEach((_, i) => {
      select.push(`${alias}.f${i}`);
    });
    if (!existing.has(view.layout.name)) {
      // No table yet means no rows yet: every entity row gets nulls.
      const nulls = view.features.map((f, i) => `NULL::${PG_TYPES[f.type]} AS f${i}`);
      joins.push(`LEFT JOIN LATERAL (SELECT ${nulls.join(', ')}) ${alias} ON false`);
      return;
    }
    const conditions = view.layout.joinKeys.map(
      (k) => `d.${quoteIdent(k.name)} = e.${keyColumn.get(k.name)}`,
    );
    conditions.push('d.event_timestamp <= e.ts');
    if (view.layout.ttlMs > 0) {
      // Milliseconds, not days: a day-valued interval would follow DST in the session's zone.
      conditions.push(`d.event_timestamp > e.ts - interval '${Math.trunc(view.layout.ttlMs)} milliseconds'`);
      if (month !== null) {
        // Implied by the window for these rows; as constants they let the planner keep one partition.
        const [from, to] = month.map((us) => new Date(us / 1000).toISOString());
        conditions.push(
          `d.event_timestamp >= '${from}'::timestamptz AND d.event_timestamp < '${to}'::timestamptz`,
        );
      }
    }
    joins.push(
      `LEFT JOIN LATERAL (SELECT ${columns.join(', ')} FROM ${quoteIdent(schema)}.${quoteIdent(view.layout.name)} d` +
        ` WHERE ${conditions.join(' AND ')}` +
        ` ORDER BY d.event_timestamp DESC, d.created DESC NULLS LAST LIMIT 1) ${alias} ON true`,
    );
  });
  // Probing in key order keeps consecutive probes on the same index pages.
  const probeOrder = (plan.views[0]?.layout.joinKeys ?? []).map((k) => keyColumn.get(k.name)).concat('ts');
  const entityRows = loadedInProbeOrder
    ? 'pg_temp.trib_entities'
    : `(SELECT * FROM pg_temp.trib_entities ORDER BY ${probeOrder.join(', ')})`;
  return `SELECT ${['e.rn', ...select].join(', ')} FROM ${entityRows} e ${joins.join(' ')}`;
}
