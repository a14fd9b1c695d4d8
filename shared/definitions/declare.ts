/**
 * The declaration API users write feature repositories with. Each function only records its
 * input, marked so the loader recognises it among a file's exports; `validate.ts` checks and
 * resolves everything at load time, where an error can name the file, the object and the field.
 */
import { fileURLToPath } from 'node:url';
import type {
  AggregationFunction,
  DriftMethod,
  Duration,
  FieldSpec,
  ObjectKind,
  ValueType,
} from './types.ts';

/**
 * Marks declaration values. `Symbol.for` so a declaration made by another copy of this module
 * (a repository loaded in its own tsx namespace) is still recognised.
 */
export const DECLARATION: unique symbol = Symbol.for('tributary.declaration') as never;
/** Marks `view.select([...])` results: part of a declaration, never one on its own. */
export const PROJECTION: unique symbol = Symbol.for('tributary.projection') as never;

export interface DeclarationMeta<K extends ObjectKind = ObjectKind, I = unknown> {
  kind: K;
  input: I;
  /** The file whose code called the declaration function, when the stack tells. */
  declaredAt: string | undefined;
}

interface CommonInput {
  name: string;
  description?: string;
  tags?: Record<string, string>;
  owner?: string;
}

export interface Declaration<K extends ObjectKind = ObjectKind, I = unknown> {
  readonly [DECLARATION]: DeclarationMeta<K, I>;
  readonly kind: K;
  readonly name: string;
}

// ---- entity ---------------------------------------------------------------------------

export interface EntityInput extends CommonInput {
  /** The column that identifies the entity in events and lookups; defaults to the entity's name. */
  joinKey?: string;
  valueType: ValueType;
}
export type EntityDeclaration = Declaration<'entity', EntityInput>;

/** Declares an entity: what a feature view's rows are keyed by (`entity({ name: 'driver', joinKey: 'driver_id', valueType: 'int64' })`). */
export function entity(input: EntityInput): EntityDeclaration {
  return declaration('entity', input);
}

// ---- sources ----------------------------------------------------------------------------

export interface KafkaSourceInput extends CommonInput {
  topic: string;
  /** Field holding the event time (ISO-8601 or epoch ms); default `event_timestamp`. */
  timestampField?: string;
  /** Field holding the creation time that breaks ties; default `created`. */
  createdField?: string;
  format?: 'json';
  /**
   * Partitions of the topic, 1 to 10000; default 6. Consumers of a group share a topic by
   * partition, so this bounds how many materializers work at once. `apply` creates the topic
   * with it; an existing topic with another count is reported by `plan` and `apply` and left as
   * it is unless `apply --add-partitions` grows it (see docs/definitions.md).
   */
  partitions?: number;
  /** Copies of each partition, 1 to 10; default min(3, brokers in the cluster). */
  replicationFactor?: number;
}
export type KafkaSourceDeclaration = Declaration<'kafkaSource', KafkaSourceInput>;

/** Declares a Kafka topic of JSON events that feature views materialize from. */
export function kafkaSource(input: KafkaSourceInput): KafkaSourceDeclaration {
  return declaration('kafkaSource', input);
}

export interface PushSourceInput extends CommonInput {
  /** The Kafka source whose topic pushed rows go through, so offline and online stay consistent. */
  batchSource: KafkaSourceDeclaration | string;
}
export type PushSourceDeclaration = Declaration<'pushSource', PushSourceInput>;

/** Declares a push source: rows posted to `POST /push` under this name, written through its batch source's topic. */
export function pushSource(input: PushSourceInput): PushSourceDeclaration {
  return declaration('pushSource', input);
}

// ---- feature view -------------------------------------------------------------------------

export type FieldInput = ValueType | { type: ValueType; description?: string };
export type SchemaInput = Readonly<Record<string, FieldInput>> | readonly FieldSpec[];

/** The feature names of a schema input, so `select` and services can be checked by TypeScript. */
export type FeatureNamesOf<S> = S extends readonly { name: infer N extends string }[]
  ? N
  : S extends Readonly<Record<string, FieldInput>>
    ? keyof S & string
    : string;

export interface FeatureViewInput<S extends SchemaInput = SchemaInput> extends CommonInput {
  /** Entities (declarations or names), in join-key order. */
  entities: readonly (EntityDeclaration | string)[];
  /** A Kafka source or a push source (declaration or name). */
  source: KafkaSourceDeclaration | PushSourceDeclaration | string;
  /** `{ conv_rate: 'float64' }` or `[{ name: 'conv_rate', type: 'float64' }]`, in column order. */
  schema: S;
  /** How long a value stays valid; omit or 0 for no ttl. */
  ttl?: Duration;
  /** Materialize into the online store (latest values); default true. */
  online?: boolean;
  /** Materialize into the offline store (full history); default true. */
  offline?: boolean;
}

/** Some features of one view, for a feature service or a monitor: `driverStats.select(['conv_rate'])`. */
export interface FeatureViewProjection<F extends string = string> {
  readonly [PROJECTION]: true;
  readonly featureView: FeatureViewDeclaration<F> | StreamFeatureViewDeclaration<F>;
  readonly features: readonly F[];
}

export interface FeatureViewDeclaration<F extends string = string>
  extends Declaration<'featureView', FeatureViewInput> {
  /** Selects some of the view's features. */
  select<K extends F>(features: readonly K[]): FeatureViewProjection<F>;
}

/** Declares a feature view: typed features of some entities, materialized from one source. */
export function featureView<const S extends SchemaInput>(
  input: FeatureViewInput<S>,
): FeatureViewDeclaration<FeatureNamesOf<S>> {
  return declaration('featureView', input as FeatureViewInput, (view) => {
    Object.defineProperty(view, 'select', {
      enumerable: false,
      value: (features: readonly string[]) =>
        Object.freeze({ [PROJECTION]: true, featureView: view, features: [...features] }),
    });
  }) as FeatureViewDeclaration<FeatureNamesOf<S>>;
}

// ---- stream feature view ------------------------------------------------------------------

/** One aggregated feature: `{ column: 'fare', function: 'sum', window: '1h', resolution: '1m' }`. */
export interface AggregationInput {
  /** The source column (a key of the view's schema) aggregated. */
  column: string;
  function: AggregationFunction;
  /** How far back from the read instant the window reaches. */
  window: Duration;
  /** Tile size: the step the window's tail moves in; must divide the window. Default: see docs/aggregations.md. */
  resolution?: Duration;
  /** The feature name; default `<column>_<function>_<window>` (`fare_sum_1h`). */
  name?: string;
}

/** The feature names of aggregation inputs, so `select` is checked by TypeScript where it can be. */
export type AggregationNamesOf<A> = A extends readonly (infer E)[]
  ? E extends { name: infer N extends string }
    ? N
    : E extends {
          column: infer C extends string;
          function: infer F extends string;
          window: infer W extends string;
        }
      ? `${C}_${F}_${W}`
      : string
  : string;

export interface StreamFeatureViewInput<
  S extends SchemaInput = SchemaInput,
  A extends readonly AggregationInput[] = readonly AggregationInput[],
> extends CommonInput {
  /** Entities (declarations or names), in join-key order. */
  entities: readonly (EntityDeclaration | string)[];
  /** A Kafka source, or a push source whose batch source is one (declaration or name). */
  source: KafkaSourceDeclaration | PushSourceDeclaration | string;
  /** The source columns the aggregations read: `{ fare: 'float64', rating: 'int64' }`. */
  schema: S;
  /** The features: aggregations of the source columns over sliding windows. */
  aggregations: A;
  /** Serve the aggregates online; default true. */
  online?: boolean;
  /** Keep the raw events offline, for historical retrieval; default true. */
  offline?: boolean;
}

export interface StreamFeatureViewDeclaration<F extends string = string>
  extends Declaration<'streamFeatureView', StreamFeatureViewInput> {
  /** Selects some of the view's aggregated features. */
  select<K extends F>(features: readonly K[]): FeatureViewProjection<F>;
}

/**
 * Declares a stream feature view: features computed from a source's events by windowed
 * aggregations (`count`, `sum`, `mean`, `min`, `max`, `stddev`, `last`); see docs/aggregations.md.
 */
export function streamFeatureView<const S extends SchemaInput, const A extends readonly AggregationInput[]>(
  input: StreamFeatureViewInput<S, A>,
): StreamFeatureViewDeclaration<AggregationNamesOf<A>> {
  return declaration('streamFeatureView', input as unknown as StreamFeatureViewInput, (view) => {
    Object.defineProperty(view, 'select', {
      enumerable: false,
      value: (features: readonly string[]) =>
        Object.freeze({ [PROJECTION]: true, featureView: view, features: [...features] }),
    });
  }) as StreamFeatureViewDeclaration<AggregationNamesOf<A>>;
}

// ---- feature service ----------------------------------------------------------------------

/** A whole view, some of its features, `'view'` or `'view:feature'`. */
export type FeatureReference =
  | FeatureViewDeclaration<string>
  | StreamFeatureViewDeclaration<string>
  | FeatureViewProjection<string>
  | string
  | {
      featureView: FeatureViewDeclaration<string> | StreamFeatureViewDeclaration<string> | string;
      features?: readonly string[];
    };

export interface FeatureServiceInput extends CommonInput {
  features: readonly FeatureReference[];
}
export type FeatureServiceDeclaration = Declaration<'featureService', FeatureServiceInput>;

/** Declares a feature service: a named set of features that models read together. */
export function featureService(input: FeatureServiceInput): FeatureServiceDeclaration {
  return declaration('featureService', input);
}

// ---- monitor ------------------------------------------------------------------------------

export interface MonitorInput extends CommonInput {
  /** The model name prediction events carry; defaults to the monitor's name. */
  model?: string;
  predictionTopic: string;
  /** Monitored features: views, projections, `'view'` or `'view:feature'`. */
  features: readonly FeatureReference[];
  /** Whether the prediction itself is monitored; default true. */
  monitorPrediction?: boolean;
  /** A window closes after so many predictions, or after so much event time. */
  window: { rows: number } | { duration: Duration };
  /** Per column (bare feature name, `'view:feature'` or `'prediction'`): method and threshold. */
  overrides?: Record<string, { method?: DriftMethod; threshold?: number }>;
  /** Share of drifted columns at or above which the dataset counts as drifted; default 0.5. */
  datasetDriftThreshold?: number;
  /** When to request retraining; omit or null for never. */
  retrain?: { consecutiveDriftedWindows: number; cooldown?: Duration } | null;
  /**
   * Where drift events and retraining requests are POSTed. `secretEnv` names the environment
   * variable that holds the signing key, read by the monitor at start: the key itself is
   * never declared, so it never reaches the registry.
   */
  webhooks?: readonly { url: string; secretEnv?: string }[];
}
export type MonitorDeclaration = Declaration<'monitor', MonitorInput>;

/** Declares a drift monitor over a model's prediction stream. */
export function monitor(input: MonitorInput): MonitorDeclaration {
  return declaration('monitor', input);
}

// ---- helpers ------------------------------------------------------------------------------

export type AnyDeclaration =
  | EntityDeclaration
  | KafkaSourceDeclaration
  | PushSourceDeclaration
  | FeatureViewDeclaration<string>
  | StreamFeatureViewDeclaration<string>
  | FeatureServiceDeclaration
  | MonitorDeclaration;

/** True for values made by the declaration functions (of any copy of this module). */
export function isDeclaration(value: unknown): value is AnyDeclaration {
  return typeof value === 'object' && value !== null && DECLARATION in value;
}

/** True for `view.select([...])` results. */
export function isProjection(value: unknown): value is FeatureViewProjection<string> {
  return typeof value === 'object' && value !== null && PROJECTION in value;
}

function declaration<K extends ObjectKind, I extends CommonInput>(
  kind: K,
  input: I,
  decorate?: (value: Declaration<K, I>) => void,
): Declaration<K, I> {
  const name = typeof input === 'object' && input !== null ? input.name : (undefined as unknown as string);
  const value = { kind, name } as Declaration<K, I>;
  Object.defineProperty(value, DECLARATION, {
    enumerable: false,
    value: { kind, input, declaredAt: callerFile() } satisfies DeclarationMeta<K, I>,
  });
  decorate?.(value);
  return Object.freeze(value);
}

const THIS_FILE = fileURLToPath(import.meta.url);

/** The file that called a declaration function: the first stack frame outside this module. */
function callerFile(): string | undefined {
  const stack = new Error().stack ?? '';
  for (const line of stack.split('\n').slice(1)) {
    const match = /\(?((?:file:\/\/)?\/[^():]+?\.[cm]?[jt]s)(?:\?[^:)]*)?:\d+:\d+\)?\s*$/.exec(line.trim());
    if (!match?.[1]) continue;
    const file = match[1].startsWith('file://') ? fileURLToPath(match[1]) : match[1];
    if (file !== THIS_FILE) return file;
  }
  return undefined;
}
