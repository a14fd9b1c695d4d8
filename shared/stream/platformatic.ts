import {
  Admin,
  Consumer,
  compatibilityPartitioner,
  type Message,
  type MessagesStream,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
} from '@platformatic/kafka';
import { TributaryError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { CONSUMER_SESSION_TIMEOUT_MS, DEFAULT_SEND_TIMEOUT_MS, type KafkaStreamOptions } from './kafka.ts';
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
 * The Kafka adapter of the event stream port on @platformatic/kafka, the maintained,
 * pure-TypeScript client: an alternative to `./kafka.ts` (kafkajs), chosen with
 * TRIBUTARY_KAFKA_CLIENT=platformatic. Same semantics: a batch is committed only after its
 * handler resolves, a throw rewinds the partition, a batch of an older group generation is
 * never committed.
 */

type Raw = Message<Buffer, Buffer, Buffer, Buffer>;

/** @platformatic/kafka's errors: protocol errors carry `apiId`, and `canRetry: false` when final. */
function platformaticFacts(error: unknown): KafkaErrorFacts {
  const { apiId, canRetry } = error as { apiId?: string; canRetry?: boolean };
  return { name: apiId, final: canRetry === false };
}

function unavailable(error: unknown): TributaryError {
  if (error instanceof TributaryError) return error;
  return new TributaryError(
    'TRIB_STREAM_UNAVAILABLE',
    `cannot reach Kafka: ${error instanceof Error ? error.message : String(error)}. Check KAFKA_BROKERS, or start local services with 'npm run services:up'.`,
    { cause: error },
  );
}

function asBuffer(value: string | Buffer | null | undefined): Buffer | undefined {
  if (value === null || value === undefined) return undefined;
  return typeof value === 'string' ? Buffer.from(value) : value;
}

/** One @platformatic/kafka idempotent producer: a session of `SerialProducer`, which queues and times the sends. */
class PlatformaticSession implements ProducerSession {
  constructor(private readonly producer: Producer<Buffer, Buffer, Buffer, Buffer>) {}

  async send(topic: string, messages: OutgoingMessage[]): Promise<void> {
    await this.producer.send({
      acks: -1,
      messages: messages.map((m) => {
        const headers = new Map<Buffer, Buffer>();
        for (const [name, value] of Object.entries(m.headers ?? {}))
          headers.set(Buffer.from(name), Buffer.from(value));
        return {
          topic,
          ...(m.key === null || m.key === undefined ? {} : { key: asBuffer(m.key) }),
          ...(m.value === null ? {} : { value: asBuffer(m.value) }),
          headers,
          ...(m.partition === undefined ? {} : { partition: m.partition }),
        };
      }),
    });
  }

  close(): Promise<void> {
    return this.producer.close();
  }
}

const partitionKey = (topic: string, partition: number) => `${topic}:${partition}`;

/** The port's view of a fetched message. */
function incoming(m: Raw): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of m.headers) headers[name.toString()] = value?.toString() ?? '';
  return {
    topic: m.topic,
    partition: m.partition,
    offset: m.offset.toString(),
    key: m.key ?? null,
    value: m.value ?? null,
    headers,
    timestamp: Number(m.timestamp),
  };
}

/** The group generation the client fetched a message for, when it says. */
function generationOf(m: Raw): number | undefined {
  return (m.metadata?.['consumer'] as { generationId?: number } | undefined)?.generationId;
}

/** Messages held from the client's stream before the loop takes them: past this, fetching pauses. */
const MAX_BUFFERED = 10_000;

/** A message as fetched, with the group generation it was fetched for. */
interface Fetched {
  message: IncomingMessage;
  generation: number | undefined;
}

class PlatformaticConsumer implements StreamConsumer {
  private stopping = false;
  private stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | null = null;
  private loop: Promise<void> | null = null;
  /** Fetched and not yet handed out, in fetch order (so in offset order per partition). */
  private buffer: Fetched[] = [];
  /** Whether we paused the stream because `buffer` is full. */
  private paused = false;
  /** Wakes the loop when the stream delivers, ends or fails. */
  private wake: (() => void) | null = null;

  constructor(
    private readonly consumer: Consumer<Buffer, Buffer, Buffer, Buffer>,
    private readonly admin: Admin,
    private readonly options: ConsumerOptions,
    private readonly logger: Logger | undefined,
  ) {}

  private async open(): Promise<MessagesStream<Buffer, Buffer, Buffer, Buffer>> {
    const stream = await this.consumer.consume({
      topics: this.options.topics,
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
      maxBytesPerPartition: this.options.maxBytesPerPartition ?? 4 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
      sessionTimeout: CONSUMER_SESSION_TIMEOUT_MS,
      heartbeatInterval: 1_000,
    });
    // Flowing mode, the client's intended use: its fetch loop runs only while the stream flows
    // and is not paused (a stream paused before reading, or read with read(), never fetches).
    // Backpressure is pause() while our buffer is full and resume() once the loop takes it.
    this.paused = false;
    stream.on('data', (m: Raw) => {
      this.buffer.push({ message: incoming(m), generation: generationOf(m) });
      if (this.buffer.length >= MAX_BUFFERED && !this.paused) {
        this.paused = true;
        stream.pause();
      }
      this.wakeLoop();
    });
    stream.on('error', (error: unknown) => {
      // A fetch the client gave up on destroys the stream; the loop reopens it.
      if (!this.stopping) this.logger?.warn({ err: error }, 'Kafka (platformatic): consumer stream failed');
      this.wakeLoop();
    });
    stream.on('close', () => this.wakeLoop());
    stream.on('end', () => this.wakeLoop());
    return stream;
  }

  private wakeLoop(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  async run(handler: BatchHandler): Promise<void> {
    try {
      this.stream = await this.open();
    } catch (error) {
      throw unavailable(error);
    }
    this.loop = this.consume(handler);
  }

  private async consume(handler: BatchHandler): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const stream = this.stream;
      if (!stream || stream.destroyed || stream.readableEnded) {
        // The library gave up on a fetch (a broker gone for longer than its retries): reopen.
        this.stream = null;
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** failures++, 5_000)));
        if (this.stopping) return;
        try {
          this.stream = await this.open();
          failures = 0;
        } catch (error) {
          this.logger?.warn(
            { err: error },
            'Kafka (platformatic): cannot reopen the consumer stream; retrying',
          );
        }
        continue;
      }
      if (this.buffer.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      const taken = this.buffer.splice(0);
      if (this.paused) {
        this.paused = false;
        stream.resume();
      }
      const generation = this.consumer.generationId;
      const batches = new Map<string, IncomingMessage[]>();
      for (const { message, generation: fetchedFor } of taken) {
        // Fetched for an older generation: the partition may be someone else's now, and the
        // stream refetches it from the committed offset if it is still ours.
        if (fetchedFor !== undefined && fetchedFor !== generation) continue;
        const key = partitionKey(message.topic, message.partition);
        let batch = batches.get(key);
        if (!batch) {
          batch = [];
          batches.set(key, batch);
        }
        batch.push(message);
      }
      const pending = [...batches.values()];
      const failed: IncomingMessage[][] = [];
      const workers = Array.from(
        { length: Math.min(this.options.concurrentPartitions ?? 1, pending.length) },
        async () => {
          for (let b = pending.shift(); b; b = pending.shift()) {
            if (!(await this.handle(handler, b, generation))) failed.push(b);
          }
        },
      );
      await Promise.all(workers);
      if (failed.length > 0) {
        // A throw redelivers the same messages, from memory: they go back ahead of whatever was
        // fetched since for their partition, so its order holds and nothing is committed past them.
        this.buffer.unshift(...failed.flat().map((message) => ({ message, generation })));
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** failures++, 5_000)));
      } else failures = 0;
    }
  }

  /** Runs the handler on one partition's batch and commits it; false when it is to be delivered again. */
  private async handle(
    handler: BatchHandler,
    messages: IncomingMessage[],
    generation: number,
  ): Promise<boolean> {
    const { topic, partition } = messages[0]!;
    const stale = () =>
      this.consumer.generationId !== generation ||
      !this.consumer.assignments?.some((a) => a.topic === topic && a.partitions.includes(partition));
    const isStopping = () => this.stopping || stale();
    const last = BigInt(messages.at(-1)!.offset);
    // The high watermark is not kept per message by this client; the next offset is a lower bound.
    const highWatermark = (last + 1n).toString();
    try {
      // Heartbeats run on the client's own timer, whatever the handler does: nothing to do here.
      await handler({ topic, partition, messages, highWatermark }, { heartbeat: async () => {}, isStopping });
    } catch (error) {
      this.logger?.warn({ err: error, topic, partition }, 'batch failed; it is delivered again');
      // Abandoned (stopping, or the partition moved): whoever owns it refetches from the commit.
      return isStopping();
    }
    if (stale()) return true;
    try {
      await this.consumer.commit({ offsets: [{ topic, partition, offset: last + 1n, leaderEpoch: -1 }] });
    } catch (error) {
      // Not committed: delivered again (at least once), unless the partition is no longer ours.
      this.logger?.warn({ err: error, topic, partition }, 'Kafka (platformatic): commit failed');
      return isStopping();
    }
    return true;
  }

  async lag(): Promise<{ topic: string; partition: number; lag: number }[]> {
    const [group] = await this.admin.listConsumerGroupOffsets({ groups: [this.options.groupId] });
    const ends = await topicEnds(this.admin, this.options.topics);
    const result: { topic: string; partition: number; lag: number }[] = [];
    for (const [topic, partitions] of ends) {
      for (const [partition, { low, high }] of partitions) {
        const at = group?.topics
          .find((t) => t.name === topic)
          ?.partitions.find((p) => p.partitionIndex === partition)?.committedOffset;
        const done = at !== undefined && at >= 0n ? at : low;
        result.push({ topic, partition, lag: Number(high - done) });
      }
    }
    return result;
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.wakeLoop();
    await this.stream?.close().catch(() => undefined);
    await this.loop?.catch(() => undefined);
    await this.consumer.close(true);
    await this.admin.close();
  }
}

/** Low and high watermarks per partition of each topic. */
async function topicEnds(
  admin: Admin,
  topics: string[],
): Promise<Map<string, Map<number, { low: bigint; high: bigint }>>> {
  const metadata = await admin.metadata({ topics });
  const request = (timestamp: bigint) =>
    topics.map((name) => ({
      name,
      partitions: Array.from(
        { length: metadata.topics.get(name)?.partitionsCount ?? 0 },
        (_, partitionIndex) => ({
          partitionIndex,
          timestamp,
        }),
      ),
    }));
  const [lows, highs] = await Promise.all([
    admin.listOffsets({ topics: request(-2n) }),
    admin.listOffsets({ topics: request(-1n) }),
  ]);
  const result = new Map<string, Map<number, { low: bigint; high: bigint }>>();
  for (const topic of highs) {
    const partitions = new Map<number, { low: bigint; high: bigint }>();
    const low = lows.find((t) => t.name === topic.name);
    for (const p of topic.partitions) {
      const l = low?.partitions.find((q) => q.partitionIndex === p.partitionIndex)?.offset ?? 0n;
      partitions.set(p.partitionIndex, { low: l, high: p.offset });
    }
    result.set(topic.name, partitions);
  }
  return result;
}

class PlatformaticAdmin implements StreamAdmin {
  constructor(private readonly admin: Admin) {}

  async ensureTopics(topics: TopicSpec[]): Promise<string[]> {
    const existing = new Set(await this.admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return [];
    const { brokers } = await this.admin.metadata({ topics: [] });
    const replicas = replicationFactors(missing, brokers.size);
    // One request per topic: partitions and configs are per request in this client.
    for (const [i, t] of missing.entries()) {
      try {
        await this.admin.createTopics({
          topics: [t.topic],
          partitions: t.partitions ?? 1,
          replicas: replicas[i]!,
          configs: Object.entries(t.config ?? {}).map(([name, value]) => ({ name, value })),
        });
      } catch (error) {
        throw topicError(`create ${t.topic}`, error);
      }
    }
    await this.waitForLeaders(missing.map((t) => t.topic));
    return missing.map((t) => t.topic);
  }

  async describeTopics(topics: string[]): Promise<TopicDescription[]> {
    // Only topics that exist are asked about, so a metadata request never creates one.
    const existing = new Set(await this.admin.listTopics());
    const asked = [...new Set(topics)].filter((t) => existing.has(t));
    if (asked.length === 0) return [];
    // A copy: the client sorts the array it is given in place.
    const metadata = await this.admin.metadata({ topics: [...asked], forceUpdate: true });
    return asked.flatMap((topic) => {
      const t = metadata.topics.get(topic);
      if (!t) return [];
      return [
        { topic, partitions: t.partitionsCount, replicationFactor: t.partitions[0]?.replicas.length ?? 0 },
      ];
    });
  }

  async addPartitions(topic: string, partitions: number): Promise<void> {
    const [current] = await this.describeTopics([topic]);
    checkGrowth(topic, current?.partitions, partitions);
    try {
      await this.admin.createPartitions({ topics: [{ name: topic, count: partitions }] });
    } catch (error) {
      throw topicError(`add partitions to ${topic}`, error);
    }
    await this.waitForLeaders([topic], partitions);
  }

  /**
   * kafkajs's `waitForLeaders`: a topic is usable once every partition has a leader (and it has
   * at least `partitions` of them, after adding some).
   */
  private async waitForLeaders(topics: string[], partitions = 1): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      try {
        const metadata = await this.admin.metadata({ topics, forceUpdate: true });
        const ready = topics.every((t) => {
          const topic = metadata.topics.get(t);
          return topic && topic.partitionsCount >= partitions && topic.partitions.every((p) => p.leader >= 0);
        });
        if (ready) return;
      } catch {
        // Not yet known to the broker answering metadata: ask again.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  listTopics(): Promise<string[]> {
    return this.admin.listTopics();
  }

  async deleteTopics(topics: string[]): Promise<void> {
    if (topics.length > 0) await this.admin.deleteTopics({ topics });
  }

  async topicSize(topic: string): Promise<number> {
    const ends = await topicEnds(this.admin, [topic]);
    let sum = 0;
    for (const { low, high } of ends.get(topic)?.values() ?? []) sum += Number(high - low);
    return sum;
  }

  close(): Promise<void> {
    return this.admin.close();
  }
}

export class PlatformaticEventStream implements EventStream {
  private pinger: Admin | null = null;
  private readonly sendTimeoutMs: number;
  private readonly clientId: string;

  constructor(
    private readonly brokers: readonly string[],
    private readonly logger?: Logger,
    options: KafkaStreamOptions = {},
  ) {
    this.sendTimeoutMs = options.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
    this.clientId = options.clientId ?? 'tributary';
  }

  private base() {
    return { clientId: this.clientId, bootstrapBrokers: [...this.brokers], retries: 8, retryDelay: 200 };
  }

  private async newAdmin(retries?: number): Promise<Admin> {
    const admin = new Admin({ ...this.base(), ...(retries === undefined ? {} : { retries }) });
    try {
      await admin.metadata({ topics: [] });
    } catch (error) {
      await admin.close().catch(() => undefined);
      throw unavailable(error);
    }
    return admin;
  }

  async ping(): Promise<void> {
    try {
      this.pinger ??= new Admin({ ...this.base(), retries: 0 });
      const metadata = await this.pinger.metadata({ topics: [], forceUpdate: true });
      if (metadata.brokers.size === 0) throw new Error('the cluster lists no broker');
    } catch (error) {
      const pinger = this.pinger;
      this.pinger = null;
      await pinger?.close().catch(() => undefined);
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
    await pinger?.close().catch(() => undefined);
  }

  async producer(): Promise<StreamProducer> {
    const open = async (): Promise<ProducerSession> => {
      const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
        ...this.base(),
        // Java's (and kafkajs's) murmur2 mapping: a key lands on the same partition whichever client wrote it.
        partitioner: compatibilityPartitioner,
        autocreateTopics: false,
        acks: -1,
        idempotent: true,
      });
      try {
        await producer.metadata({ topics: [] });
      } catch (error) {
        await producer.close().catch(() => undefined);
        throw unavailable(error);
      }
      return new PlatformaticSession(producer);
    };
    return new SerialProducer(await open(), {
      open,
      factsOf: platformaticFacts,
      sendTimeoutMs: this.sendTimeoutMs,
    });
  }

  async consumer(options: ConsumerOptions): Promise<StreamConsumer> {
    const admin = await this.newAdmin();
    const start = options.start ?? { from: 'committed' };
    if (start.from !== 'committed') {
      // A rewind is a change of the group's committed offsets, made while the group is empty.
      const metadata = await admin.metadata({ topics: options.topics });
      const timestamp = start.from === 'beginning' ? -2n : BigInt(start.timestamp);
      const listed = await admin.listOffsets({
        topics: options.topics.map((name) => ({
          name,
          partitions: Array.from(
            { length: metadata.topics.get(name)?.partitionsCount ?? 0 },
            (_, partitionIndex) => ({
              partitionIndex,
              timestamp,
            }),
          ),
        })),
      });
      const ends = start.from === 'timestamp' ? await topicEnds(admin, options.topics) : undefined;
      await admin.alterConsumerGroupOffsets({
        groupId: options.groupId,
        topics: listed.map((t) => ({
          name: t.name,
          partitionOffsets: t.partitions.map((p) => ({
            partition: p.partitionIndex,
            // No record at or after the timestamp: start at the end, as kafkajs does.
            offset: p.offset >= 0n ? p.offset : (ends?.get(t.name)?.get(p.partitionIndex)?.high ?? 0n),
          })),
        })),
      });
    }
    const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      ...this.base(),
      groupId: options.groupId,
      autocommit: false,
      sessionTimeout: CONSUMER_SESSION_TIMEOUT_MS,
      heartbeatInterval: 1_000,
    });
    return new PlatformaticConsumer(consumer, admin, options, this.logger);
  }

  async admin(): Promise<StreamAdmin> {
    return new PlatformaticAdmin(await this.newAdmin());
  }
}
