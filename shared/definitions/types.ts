/**
 * The shapes of Tributary's declarations. Users build them with the functions of
 * `shared/definitions/declare.ts` (exported from the package root); every service reads
 * the resolved form, `RepoSpec`, from the registry.
 */

/** Value types a feature or join key can have. */
export type ValueType = 'int64' | 'float64' | 'string' | 'bool' | 'timestamp';

/** A duration: milliseconds as a number, or a string like `'1d'`, `'12h'`, `'30m'`, `'45s'`, `'250ms'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd' | 'w'}`;

export interface EntitySpec {
  kind: 'entity';
  name: string;
  joinKey: string;
  valueType: ValueType;
  description?: string;
  tags?: Record<string, string>;
  owner?: string;
}

export interface KafkaSourceSpec {
  kind: 'kafkaSource';
  name: string;
  topic: string;
  /** Field holding the event time; default `event_timestamp`. */
  timestampField: string;
  /** Optional field holding the creation time used to break ties; default `created`. */
  createdField: string;
  format: 'json';
  /**
   * Partitions `apply` gives the topic; absent means DEFAULT_PARTITIONS (6, in
   * shared/definitions/topics.ts). Only a declared value is stored, so repositories that
   * declare none keep the registry hash they had before this field could be declared.
   */
  partitions?: number;
  /** Replicas of each partition; absent means min(3, brokers in the cluster). Stored only when declared. */
  replicationFactor?: number;
  description?: string;
  tags?: Record<string, string>;
  owner?: string;
}

export interface PushSourceSpec {
  kind: 'pushSource';
  name: string;
  /** The Kafka source a push goes through, so offline and online stay consistent. */
  batchSource: string;
  description?: string;
  tags?: Record<string, string>;
  owner?: string;
}

export interface FieldSpec {
  name: string;
  type: ValueType;
  description?: string;
}

export interface FeatureViewSpec {
  kind: 'featureView';
  name: string;
  /** Entity names, in join-key order. */
  entities: string[];
  /** A Kafka source or a push source name. */
  source: string;
  schema: FieldSpec[];
  /** Milliseconds; 0 means no ttl. */
  ttlMs: number;
  online: boolean;
  offline: boolean;
  description?: string;
  tags?: Record<string, string>;
  owner?: string;
}

/** What an aggregation of a stream feature view computes (see docs/aggregations.md). */
export type AggregationFunction = 'count' | 'sum' | 'mean' | 'min' | 'max' | 'stddev' | 'last';

/** One resolved aggregation: a feature computed from a source column over a sliding window. */
export interface AggregationSpec {
  /** The source column (a field of the view's schema) it reads. */
  column: string;
  function: AggregationFunction;
  /** Window length W, milliseconds; a multiple of resolutionMs. */
  windowMs: number;
  /** Tile size r, milliseconds: the step the window's tail moves in. */
  resolutionMs: number;
  /** The feature name: the declared `name`, else `<column>_<function>_<window>`. */
  name: string;
  /** The feature's value type: int64 for count, float64 for sum/mean/stddev, the column's otherwise. */
  type: ValueType;
}

/**
 * A feature view whose features are aggregations over a stream of events, not the events'
 * fields. `schema` lists the source columns the aggregations read (stored offline as raw
 * events, like a plain view's features); the features are `aggregations`, by name.
 */
export interface StreamFeatureViewSpec {
  kind: 'streamFeatureView';
  name: string;
  /** Entity names, in join-key order. */
  entities: string[];
  /** A Kafka source, or a push source whose batch source is one. */
  source: string;
  /** Source columns, in column order. */
  schema: FieldSpec[];
  aggregations: AggregationSpec[];
  online: boolean;
  offline: boolean;
  description?: string;
  tags?: Record<string, string>;
  owner?: string;
}

/** `featureView` alone selects every feature of the view. */
export interface FeatureServiceEntry {
  featureView: string;
  features?: string[];
}

export interface FeatureServiceSpec {
  kind: 'featureService';
  name: string;
  features: FeatureServiceEntry[];
  description?: string;
  tags?: Record<string, string>;
  owner?: string;
}

export type DriftMethod = 'ks' | 'wasserstein' | 'psi' | 'jensenshannon' | 'hellinger' | 'chisquare' | 'z';

export interface MonitorFeatureOverride {
  method?: DriftMethod;
  threshold?: number;
}

export type MonitorWindow = { rows: number } | { durationMs: number };

export interface WebhookSpec {
  url: string;
  /**
   * The environment variable that holds the HMAC-SHA256 key for `X-Tributary-Signature`. The
   * monitor reads it at start; the registry stores only this name, never the key.
   */
  secretEnv?: string;
  /**
   * The key itself, as versions recorded before `secretEnv` carried it. Declarations can no
   * longer give one (validation refuses it) and the next apply scrubs it from every stored
   * version; until then a monitor reading such a version still signs with it.
   */
  secret?: string;
}

export interface RetrainPolicySpec {
  consecutiveDriftedWindows: number;
  cooldownMs: number;
}

export interface MonitorSpec {
  kind: 'monitor';
  name: string;
  /** The model name carried in prediction events; defaults to the monitor's name. */
  model: string;
  predictionTopic: string;
  /** Fully qualified `view:feature` references. */
  features: string[];
  /** Whether the prediction itself is monitored. */
  monitorPrediction: boolean;
  window: MonitorWindow;
  /** Keyed by column name as prediction events carry it: the bare feature name, or `prediction`. */
  overrides: Record<string, MonitorFeatureOverride>;
  /** Share of drifted columns at or above which the dataset counts as drifted. */
  datasetDriftThreshold: number;
  retrain: RetrainPolicySpec | null;
  webhooks: WebhookSpec[];
  description?: string;
  tags?: Record<string, string>;
  owner?: string;
}

export type ObjectSpec =
  | EntitySpec
  | KafkaSourceSpec
  | PushSourceSpec
  | FeatureViewSpec
  | StreamFeatureViewSpec
  | FeatureServiceSpec
  | MonitorSpec;

export type ObjectKind = ObjectSpec['kind'];

/** A whole, validated repository: what `apply` records and services read. */
export interface RepoSpec {
  entities: EntitySpec[];
  kafkaSources: KafkaSourceSpec[];
  pushSources: PushSourceSpec[];
  featureViews: FeatureViewSpec[];
  /**
   * Absent when the repository declares none, so repositories without stream views keep the
   * hash (and registry version) they had before stream views existed.
   */
  streamFeatureViews?: StreamFeatureViewSpec[];
  featureServices: FeatureServiceSpec[];
  monitors: MonitorSpec[];
}
