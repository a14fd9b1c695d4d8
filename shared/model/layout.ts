import type {
  AggregationSpec,
  EntitySpec,
  FeatureViewSpec,
  StreamFeatureViewSpec,
  ValueType,
} from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';

/** One typed column of a feature view as the stores lay it out. */
export interface ColumnLayout {
  name: string;
  type: ValueType;
}

/**
 * What a store adapter needs to know about a feature view: a view lists entity names, but
 * the stores need the join key columns and their types, so callers resolve them once with
 * `viewLayout` and hand the result to the adapters.
 */
export interface ViewLayout {
  /** The feature view's name. */
  name: string;
  /** Join keys of the view's entities, in the view's entity order (the order of `FeatureRow.keys`). */
  joinKeys: readonly ColumnLayout[];
  /** Features in the view's schema order (the order of `FeatureRow.values`). */
  features: readonly ColumnLayout[];
  /** Milliseconds; 0 means no ttl. */
  ttlMs: number;
  /**
   * A stream feature view's aggregations (docs/aggregations.md). Then `features` are the source
   * columns the aggregations read (what `FeatureRow.values` carry and the offline table holds,
   * as raw events), and the online store keeps tiles and answers a record whose values are the
   * aggregated features, in this order.
   */
  aggregations?: readonly AggregationSpec[];
}

/**
 * A string join key may take this many UTF-8 bytes (the decoder refuses longer ones): join keys
 * are columns of the offline table's B-tree index, whose entries must fit in a third of a page.
 */
export const MAX_JOIN_KEY_BYTES = 512;

/**
 * Columns every offline table has besides join keys and features (and entity rows carry
 * `event_timestamp`): a row's times and origin. Features and join keys may not use them; the
 * definitions' validation and `viewLayout` both check against this one list.
 */
export const RESERVED_COLUMNS: readonly string[] = [
  'event_timestamp',
  'created',
  '_partition',
  '_offset',
  '_ingested_at',
];

/**
 * Resolves a view's entity names to join keys; throws TRIB_DEFINITION_INVALID on an unknown entity
 * or a column clash. A stream view's layout carries its aggregations and no ttl.
 */
export function viewLayout(
  view: FeatureViewSpec | StreamFeatureViewSpec,
  entities: readonly EntitySpec[],
): ViewLayout {
  const byName = new Map(entities.map((e) => [e.name, e]));
  const joinKeys = view.entities.map((name): ColumnLayout => {
    const entity = byName.get(name);
    if (!entity) {
      throw new TributaryError(
        'TRIB_DEFINITION_INVALID',
        `feature view '${view.name}' uses unknown entity '${name}'`,
        { details: { object: view.name, field: 'entities' } },
      );
    }
    return { name: entity.joinKey, type: entity.valueType };
  });
  const features = view.schema.map((f): ColumnLayout => ({ name: f.name, type: f.type }));
  const seen = new Set<string>(RESERVED_COLUMNS);
  for (const column of [...joinKeys, ...features]) {
    if (seen.has(column.name)) {
      throw new TributaryError(
        'TRIB_DEFINITION_INVALID',
        `feature view '${view.name}' has column '${column.name}' twice or uses a reserved name (${RESERVED_COLUMNS.join(', ')})`,
        { details: { object: view.name, field: 'schema' } },
      );
    }
    seen.add(column.name);
  }
  if (view.kind === 'streamFeatureView') {
    return { name: view.name, joinKeys, features, ttlMs: 0, aggregations: view.aggregations };
  }
  return { name: view.name, joinKeys, features, ttlMs: view.ttlMs };
}
