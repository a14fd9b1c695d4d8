import { createRequire } from 'node:module';
import {
  type Admin,
  type Consumer,
  Kafka,
  type KafkaConfig,
  type LogEntry,
  logLevel,
  Partitioners,
  type Producer,
} from 'kafkajs';
import { TributaryError } from '../errors.ts';
import { type Logger, OutageLog } from '../logger.ts';
import { offsetAfter } from './offsets.ts';
import type {
  BatchHandler,
  ConsumerOptions,
  EventStream,
  IncomingMessage,
  OutgoingMessage,
  StreamAdmin,
  StreamConsumer,
  StreamProducer,
  TopicDescription,
  TopicSpec,
} from './port.ts';
import type { KafkaErrorFacts } from './produce-error.ts';
import { type ProducerSession, SerialProducer } from './serial-producer.ts';
import { checkGrowth, replicationFactors, topicError } from './topics.ts';

/**
 * Messages of the Kafka protocol errors kafkajs retries by itself (the group coordinator not
 * yet available at a group's first join, a leader election): kafkajs logs each response at
 * error level, but they are routine. kafkajs exports no types for this table.
 */
const RETRIABLE_PROTOCOL_ERRORS = new Set(
  (
    createRequire(import.meta.url)('kafkajs/src/protocol/error.js') as {
      errorCodes: { message: string; retriable: boolean }[];
    }
  ).errorCodes
    .filter((e) => e.retriable)
    .map((e) => e.message),
);

/** After this long without a retried failure, a Kafka outage counts as over. */
const KAFKA_QUIET_MS = 30_000;

/**
 * Routes kafkajs's own log lines into our structured logger. kafkajs logs every retried
 * failure at error level (each reconnect, each retry of a send, a consumer's restart): those
 * become one warn when they start and one info when none came for KAFKA_QUIET_MS, with the
 * rest at debug; a retriable protocol response is debug. Errors kafkajs gives up on reach the
 * callers as TRIB_* errors, logged there.
 */
function logCreator(logger: Logger | undefined) {
  const outages = logger ? new OutageLog(logger) : undefined;
  let quiet: NodeJS.Timeout | undefined;
  return () =>
    ({ level, log }: LogEntry) => {
      if (!logger || !outages) return;
      const { message, ...rest } = log;
      if (level > logLevel.WARN) {
        logger.debug({ kafka: rest }, message);
        return;
      }
      if (typeof rest['error'] === 'string' && RETRIABLE_PROTOCOL_ERRORS.has(rest['error'])) {
        logger.debug({ kafka: rest }, `${message}: ${rest['error']} (kafkajs retries)`);
        return;
      }
      if (message.startsWith('Limiting retries for the idempotent producer')) {
        // Said of PRODUCER_RETRIES at each new session; what it warns of cannot happen here.
        logger.debug({ kafka: rest }, message);
        return;
      }
      if (/^(The group is rebalancing|The coordinator is not aware of this member)/.test(message)) {
        // A member joined or left: kafkajs re-joins by itself.
        logger.info({ kafka: rest }, `Kafka: ${message}`);
        return;
      }
      const retried =
        rest['retryCount'] !== undefined ||
        /^(Connection error|Connection timeout|Restarting the consumer)/.test(message);
      if (!retried) {
        if (level === logLevel.ERROR) logger.error({ kafka: rest }, message);
        else logger.warn({ kafka: rest }, message);
        return;
      }
      outages.failed(
        'kafka',
        { kafka: rest },
        `Kafka: ${message}: kafkajs retries; check that the brokers in KAFKA_BROKERS are up and reachable`,
      );
      clearTimeout(quiet);
      quiet = setTimeout(
        () => outages.recovered('kafka', {}, `Kafka: no retried error for ${KAFKA_QUIET_MS / 1000} s`),
        KAFKA_QUIET_MS,
      );
      quiet.unref();
    };
}

function headersOf(raw: IncomingMessageHeaders | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!raw) return headers;
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const first = Array.isArray(value) ? value[0] : value;
    if (first !== undefined) headers[name] = first.toString();
  }
  return headers;
}
type IncomingMessageHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

/** kafkajs's errors: protocol errors carry `type`, and `retriable: false` when final. */
function kafkajsFacts(error: unknown): KafkaErrorFacts {
  const { type, retriable } = error as { type?: string; retriable?: boolean };
  return { name: type, final: retriable === false };
}

/** Errors of a topic being created that say "not yet" (or "already"), not "never". */
const TOPIC_NOT_READY = new Set([
  'UNKNOWN_TOPIC_OR_PARTITION',
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_OR_FOLLOWER',
  'TOPIC_ALREADY_EXISTS',
]);

/** How long `ensureTopics` waits for new topics' leaders when creating them did not. */
const TOPIC_LEADERS_TIMEOUT_MS = 30_000;

/** True when a createTopics failure, or one it wraps, says the topic is not ready yet. */
function isRetriableKafkaError(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const { type, retriable } = e as { type?: string; retriable?: boolean };
    if ((type && TOPIC_NOT_READY.has(type)) || retriable === true) return true;
  }
  return false;
}

/** How long a send may take before it fails as TRIB_STREAM_UNAVAILABLE, unless `sendTimeoutMs` says otherwise. */
export const DEFAULT_SEND_TIMEOUT_MS = 5_000;

/**
 * kafkajs's retries within one send (its default for a plain producer). Its idempotent default is
 * unbounded; bounded is safe here because a failed send ends its session (serial-producer.ts).
 */
const PRODUCER_RETRIES = 5;

export interface KafkaStreamOptions {
  clientId?: string;
  /** How long a producer's send may take before it fails as TRIB_STREAM_UNAVAILABLE (default 5 s). */
  sendTimeoutMs?: number;
}

/** One kafkajs idempotent producer: a session of `SerialProducer`, which queues and times the sends. */
class KafkajsSession implements ProducerSession {
  constructor(private readonly producer: Producer) {}

  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    await this.producer.send({
      topic,
      acks: -1,
      messages: messages.map((m) => ({
        key: m.key ?? null,
        value: m.value,
        ...(m.headers ? { headers: m.headers } : {}),
        ...(m.partition === undefined ? {} : { partition: m.partition }),
      })),
    });
  }

  close(): Promise<void> {
    return this.producer.disconnect();
  }
}

class KafkaConsumer implements StreamConsumer {
  private stopping = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly admin: Admin,
    private readonly options: ConsumerOptions,
  ) {}

  async run(handler: BatchHandler): Promise<void> {
    const joined = new Promise<void>((resolve) => {
      const off = this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
        off();
        resolve();
      });
    });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.concurrentPartitions ?? 1,
      eachBatch: async ({ batch, heartbeat, isRunning, isStale, resolveOffset }) => {
        if (batch.messages.length === 0) return;
        const messages: IncomingMessage[] = batch.messages.map((m) => ({
          topic: batch.topic,
          partition: batch.partition,
          offset: m.offset,
          key: m.key ?? null,
          value: m.value ?? null,
          headers: headersOf(m.headers as IncomingMessageHeaders | undefined),
          timestamp: Number(m.timestamp),
        }));
        const first = batch.firstOffset() ?? messages[0]!.offset;
        const isStopping = () => this.stopping || !isRunning() || isStale();
        try {
          await handler(
            { topic: batch.topic, partition: batch.partition, messages, highWatermark: batch.highWatermark },
            { heartbeat, isStopping },
          );
        } catch (error) {
          // Nothing of this batch is committed: rewind so it is fetched and handled again.
          if (!isStopping())
            this.consumer.seek({ topic: batch.topic, partition: batch.partition, offset: first });
          throw error;
        }
        // A partition taken away mid-batch: its new owner redelivers; committing here could skip.
        if (isStale()) return;
        resolveOffset(batch.lastOffset());
        const next = offsetAfter(batch.lastOffset());
        await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
      },
    });
    await joined;
  }

  async lag(): Promise<{ topic: string; partition: number; lag: number }[]> {
    const result: { topic: string; partition: number; lag: number }[] = [];
    const committed = await this.admin.fetchOffsets({
      groupId: this.options.groupId,
      topics: this.options.topics,
    });
    for (const { topic, partitions } of committed) {
      const ends = await this.admin.fetchTopicOffsets(topic);
      for (const end of ends) {
        const at = partitions.find((p) => p.partition === end.partition);
        const done = at && at.offset !== '-1' ? BigInt(at.offset) : BigInt(end.low);
        result.push({ topic, partition: end.partition, lag: Number(BigInt(end.high) - done) });
      }
    }
    return result;
  }

  async close(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect();
    await this.admin.disconnect();
  }
}

class KafkaAdmin implements StreamAdmin {
  constructor(private readonly admin: Admin) {}

  async ensureTopics(topics: TopicSpec[]): Promise<string[]> {
    const existing = new Set(await this.admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return [];
    const { brokers } = await this.admin.describeCluster();
    const replicas = replicationFactors(missing, brokers.length);
    const create = () =>
      this.admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((t, i) => ({
          topic: t.topic,
          numPartitions: t.partitions ?? 1,
          replicationFactor: replicas[i]!,
          configEntries: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        })),
      });
    try {
      await create();
    } catch (error) {
      // On a cluster, the broker asked for leaders may not know the new topic yet and kafkajs
      // gives up ("does not host this topic-partition"); the topic exists: wait for its leaders.
      if (!isRetriableKafkaError(error))
        throw topicError(`create ${missing.map((t) => t.topic).join(', ')}`, error);
      await this.waitForLeaders(missing.map((t) => t.topic));
    }
    return missing.map((t) => t.topic);
  }

  async describeTopics(topics: string[]): Promise<TopicDescription[]> {
    // Only topics that exist are asked about: a metadata request for a missing one may create it
    // on a broker with auto.create.topics.enable.
    const existing = new Set(await this.admin.listTopics());
    const asked = [...new Set(topics)].filter((t) => existing.has(t));
    if (asked.length === 0) return [];
    const metadata = await this.admin.fetchTopicMetadata({ topics: asked });
    const byName = new Map(metadata.topics.map((t) => [t.name, t]));
    return asked.flatMap((topic) => {
      const t = byName.get(topic);
      if (!t) return [];
      const first = [...t.partitions].sort((a, b) => a.partitionId - b.partitionId)[0];
      return [{ topic, partitions: t.partitions.length, replicationFactor: first?.replicas.length ?? 0 }];
    });
  }

  async addPartitions(topic: string, partitions: number): Promise<void> {
    const [current] = await this.describeTopics([topic]);
    checkGrowth(topic, current?.partitions, partitions);
    try {
      await this.admin.createPartitions({ topicPartitions: [{ topic, count: partitions }] });
    } catch (error) {
      throw topicError(`add partitions to ${topic}`, error);
    }
    await this.waitForLeaders([topic], partitions);
  }

  /**
   * Waits (up to TOPIC_LEADERS_TIMEOUT_MS) until every partition of `topics` has a leader, and
   * each topic has at least `partitions` of them when given (after adding partitions).
   */
  private async waitForLeaders(topics: string[], partitions = 1): Promise<void> {
    const deadline = Date.now() + TOPIC_LEADERS_TIMEOUT_MS;
    let last: unknown;
    for (;;) {
      try {
        const metadata = await this.admin.fetchTopicMetadata({ topics });
        const led = metadata.topics.every(
          (t) => t.partitions.length >= partitions && t.partitions.every((p) => p.leader >= 0),
        );
        if (led && metadata.topics.length === topics.length) return;
      } catch (error) {
        last = error;
      }
      if (Date.now() > deadline) {
        throw new TributaryError(
          'TRIB_STREAM_UNAVAILABLE',
          `topics ${topics.join(', ')} have no leader after ${TOPIC_LEADERS_TIMEOUT_MS / 1000} s${last instanceof Error ? `: ${last.message}` : ''}`,
          { cause: last },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  async deleteTopics(topics: string[]): Promise<void> {
    if (topics.length > 0) await this.admin.deleteTopics({ topics });
  }

  async topicSize(topic: string): Promise<number> {
    const offsets = await this.admin.fetchTopicOffsets(topic);
    return offsets.reduce((sum, p) => sum + Number(BigInt(p.high) - BigInt(p.low)), 0);
  }

  close(): Promise<void> {
    return this.admin.disconnect();
  }
}

/**
 * How long the group coordinator waits for a silent consumer before it gives its partitions
 * away. It also bounds the catch-up after a broker restart: the restarted coordinator keeps the
 * old member until its session expires before the group can rebalance. Measured with the
 * broker chaos test (20 s outage): 30 s (kafkajs's default) took 29.9 s to catch up, 10 s took
 * 9.7 s. Batches heartbeat while they retry a store, so a slow store does not cost the session.
 */
export const CONSUMER_SESSION_TIMEOUT_MS = 10_000;
const CONSUMER_HEARTBEAT_MS = 1_000;

/** The Kafka adapter of the event stream port (kafkajs). */
export class KafkaEventStream implements EventStream {
  private readonly kafka: Kafka;
  /** The admin client `ping` asks, connected on first use; dropped after a failed ping. */
  private pinger: Admin | null = null;

  private readonly sendTimeoutMs: number;

  constructor(brokers: readonly string[], logger?: Logger, options: KafkaStreamOptions = {}) {
    this.sendTimeoutMs = options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
    const config: KafkaConfig = {
      clientId: options.clientId ?? 'tributary',
      brokers: [...brokers],
      logLevel: logger ? logLevel.WARN : logLevel.NOTHING,
      logCreator: logCreator(logger),
      retry: { initialRetryTime: 200, retries: 8 },
    };
    this.kafka = new Kafka(config);
  }

  async ping(): Promise<void> {
    try {
      // No retries: /health must say "down" now, not after kafkajs's half minute of them.
      this.pinger ??= this.kafka.admin({ retry: { retries: 0 } });
      await this.pinger.connect();
      const cluster = await this.pinger.describeCluster();
      if (cluster.brokers.length === 0) throw new Error('the cluster lists no broker');
    } catch (error) {
      const pinger = this.pinger;
      this.pinger = null;
      await pinger?.disconnect().catch(() => undefined);
      throw new TributaryError(
        'TRIB_STREAM_UNAVAILABLE',
        `Kafka does not answer: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }

  async close(): Promise<void> {
    const pinger = this.pinger;
    this.pinger = null;
    await pinger?.disconnect().catch(() => undefined);
  }

  async producer(): Promise<StreamProducer> {
    const open = async (): Promise<ProducerSession> => {
      const producer = this.kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: false,
        idempotent: true,
        // kafkajs's own requirement for idempotence; SerialProducer sends one request at a time anyway.
        maxInFlightRequests: 1,
        // kafkajs would retry an idempotent send forever; SerialProducer bounds each send by its
        // timeout and opens a new session after a failure, which keeps the numbering safe.
        retry: { retries: PRODUCER_RETRIES },
      });
      await connectOrExplain(() => producer.connect());
      return new KafkajsSession(producer);
    };
    return new SerialProducer(await open(), {
      open,
      factsOf: kafkajsFacts,
      sendTimeoutMs: this.sendTimeoutMs,
    });
  }

  async consumer(options: ConsumerOptions): Promise<StreamConsumer> {
    const admin = this.kafka.admin();
    await connectOrExplain(() => admin.connect());
    const start = options.start ?? { from: 'committed' };
    if (start.from !== 'committed') {
      // A rewind is a change of the group's committed offsets, made while the group is empty.
      for (const topic of options.topics) {
        if (start.from === 'beginning')
          await admin.resetOffsets({ groupId: options.groupId, topic, earliest: true });
        else {
          const partitions = await admin.fetchTopicOffsetsByTimestamp(topic, start.timestamp);
          await admin.setOffsets({ groupId: options.groupId, topic, partitions });
        }
      }
    }
    const consumer = this.kafka.consumer({
      groupId: options.groupId,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      sessionTimeout: CONSUMER_SESSION_TIMEOUT_MS,
      heartbeatInterval: CONSUMER_HEARTBEAT_MS,
      allowAutoTopicCreation: false,
    });
    await connectOrExplain(() => consumer.connect());
    await consumer.subscribe({ topics: options.topics, fromBeginning: true });
    return new KafkaConsumer(consumer, admin, options);
  }

  async admin(): Promise<StreamAdmin> {
    const admin = this.kafka.admin();
    await connectOrExplain(() => admin.connect());
    return new KafkaAdmin(admin);
  }
}

async function connectOrExplain(connect: () => Promise<void>): Promise<void> {
  try {
    await connect();
  } catch (error) {
    throw new TributaryError(
      'TRIB_STREAM_UNAVAILABLE',
      `cannot reach Kafka: ${(error as Error).message}. Check KAFKA_BROKERS, or start local services with 'npm run services:up'.`,
      { cause: error },
    );
  }
}
