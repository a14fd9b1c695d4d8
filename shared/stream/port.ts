/**
 * The event stream as Tributary needs it: topics, producing, and consumer groups that
 * commit only what the caller says is done. Kafka (`./kafka.ts`) is one adapter; nothing
 * outside `shared/stream/` imports a Kafka client.
 */

export interface OutgoingMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
  /** Explicit partition; by default the key decides. */
  partition?: number;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  /** Kafka offsets are int64: kept as decimal strings. */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
  /** Broker or producer timestamp, epoch milliseconds. */
  timestamp: number;
}

export interface IncomingBatch {
  topic: string;
  partition: number;
  messages: IncomingMessage[];
  /** The partition's high watermark when the batch was fetched: lag = highWatermark - next offset. */
  highWatermark: string;
}

export interface BatchContext {
  /** Keeps group membership alive during long work (retries against a store that is down). */
  heartbeat(): Promise<void>;
  /** True once the consumer is stopping or lost the partition: abandon the batch, commit nothing. */
  isStopping(): boolean;
}

export interface TopicSpec {
  topic: string;
  /** Default 1. */
  partitions?: number;
  /**
   * Copies of each partition; default min(3, brokers in the cluster). More than the cluster's
   * brokers is refused as TRIB_STREAM_REFUSED before any topic is created.
   */
  replicationFactor?: number;
  /** Topic configs, e.g. `{ 'retention.ms': '-1' }`. */
  config?: Record<string, string>;
}

/** An existing topic as the cluster reports it. */
export interface TopicDescription {
  topic: string;
  partitions: number;
  /** Replicas of its first partition (Kafka gives every partition as many unless reassigned by hand). */
  replicationFactor: number;
}

export type StartPosition =
  | { from: 'committed' }
  | { from: 'beginning' }
  | { from: 'timestamp'; timestamp: number };

export interface ConsumerOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts (and, for beginning/timestamp, a forced rewind). */
  start?: StartPosition;
  /** Upper bound on bytes fetched per partition per request. */
  maxBytesPerPartition?: number;
  /** Batches of different partitions handled at once (default 1): overlaps store round trips. */
  concurrentPartitions?: number;
}

/**
 * Processes one batch. When it resolves, every message of the batch is committed; when it
 * throws, nothing is committed and the batch is delivered again.
 */
export type BatchHandler = (batch: IncomingBatch, context: BatchContext) => Promise<void>;

export interface StreamConsumer {
  /** Starts consuming; resolves once the group is joined. */
  run(handler: BatchHandler): Promise<void>;
  /** Committed offsets and high watermarks per partition, for lag. */
  lag(): Promise<{ topic: string; partition: number; lag: number }[]>;
  /** Stops fetching, lets the current batch finish or abandon, leaves the group. */
  close(): Promise<void>;
}

export interface StreamProducer {
  /**
   * Resolves once the topic holds every message once (acks=all, idempotent); sends are written
   * in the order called. Rejects within the send timeout: TRIB_STREAM_UNAVAILABLE (maybe
   * written), TRIB_MESSAGE_TOO_LARGE or TRIB_STREAM_REFUSED (the refused partition's messages
   * not written; a send spanning partitions may have been written on the others),
   * TRIB_SHUTTING_DOWN once closed. Adapters build it from `SerialProducer` (serial-producer.ts).
   */
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /** Lets the sends already called finish, then releases the client. */
  close(): Promise<void>;
}

export interface StreamAdmin {
  /** Creates the topics that do not exist; returns the names it created. */
  ensureTopics(topics: TopicSpec[]): Promise<string[]>;
  listTopics(): Promise<string[]>;
  /** Those of `topics` that exist, in the order asked; a missing topic is left out, never created. */
  describeTopics(topics: string[]): Promise<TopicDescription[]>;
  /**
   * Grows a topic to `partitions` in all (Kafka cannot remove partitions). Keys then hash to
   * other partitions: a key's later events may be read before its earlier ones.
   */
  addPartitions(topic: string, partitions: number): Promise<void>;
  deleteTopics(topics: string[]): Promise<void>;
  /** Sum over partitions of the high watermark minus the low one: how many messages a topic holds. */
  topicSize(topic: string): Promise<number>;
  close(): Promise<void>;
}

/** Creates producers, consumers and admin clients for one cluster. */
export interface EventStream {
  producer(): Promise<StreamProducer>;
  consumer(options: ConsumerOptions): Promise<StreamConsumer>;
  admin(): Promise<StreamAdmin>;
  /** Resolves when a broker answers (for /health); throws TRIB_STREAM_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  /** Releases what `ping` holds. */
  close(): Promise<void>;
}
