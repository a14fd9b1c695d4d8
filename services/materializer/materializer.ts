import type { RepoSpec } from '../../shared/definitions/types.ts';
import {
  DLQ_HEADERS,
  deadLetterMessage,
  dlqTopicOf,
  publishDeadLetters,
} from '../../shared/events/dead-letter.ts';
import { type DeadLetterCounts, FEATURE_VIEW_HEADER } from '../../shared/events/dead-letter-counts.ts';
import { parseEvent } from '../../shared/events/decode.ts';
import { type Logger, OutageLog } from '../../shared/logger.ts';
import type { FeatureRow } from '../../shared/model/row.ts';
import type { DefinitionsSource } from '../../shared/registry/live.ts';
import { type HeldFailure, RetryStopped, retryUntilDone } from '../../shared/retry.ts';
import type { OfflineStore } from '../../shared/stores/offline/port.ts';
import type { OnlineStore } from '../../shared/stores/online/port.ts';
import type {
  BatchContext,
  EventStream,
  IncomingBatch,
  OutgoingMessage,
  StartPosition,
  StreamConsumer,
  StreamProducer,
} from '../../shared/stream/port.ts';
import type { MaterializerMetrics } from './metrics.ts';
import { routesOf, type SourceRoute } from './routes.ts';

export interface MaterializerDeps {
  /** The live registry in production; `StaticDefinitions` in tests and tools. */
  definitions: DefinitionsSource;
  stream: EventStream;
  offline: OfflineStore;
  online: OnlineStore;
  metrics: MaterializerMetrics;
  logger: Logger;
  /** Counts published dead letters by view and code for the dashboard (dead-letter-counts.ts). */
  deadLetterCounts?: Pick<DeadLetterCounts, 'record'>;
}

export interface MaterializerOptions {
  /** Consumer group per source: `<groupPrefix>.<source name>`. */
  groupPrefix?: string;
  start?: StartPosition;
  /** Partitions of one source written at once (default 4): overlaps Postgres and Redis round trips. */
  concurrentPartitions?: number;
  /** Only these Kafka sources (by name); all when empty. */
  sources?: readonly string[];
}

/** Push requests say which stores they are for in this header; Kafka producers may too. */
export const TARGET_HEADER = 'x-tributary-to';
/** On a dead letter: the feature view whose decoder refused the message. */
export { FEATURE_VIEW_HEADER };

type Target = 'online' | 'offline' | 'online_and_offline';

class Stopping extends Error {
  constructor() {
    super('materializer stopping: batch abandoned, nothing committed');
  }
}

/** What an operator knows a write target by, and what to check when it fails. */
const STORE_OF: Record<string, string> = {
  offline: 'offline store (Postgres)',
  online: 'online store (Redis)',
  dlq: 'dead-letter topic (Kafka)',
};
const CHECK_OF: Record<string, string> = {
  offline: 'check that Postgres at DATABASE_URL is up and reachable',
  online: 'check that Redis at REDIS_URL is up and reachable',
  dlq: 'check that the Kafka brokers in KAFKA_BROKERS are up and reachable',
};

/**
 * Consumes every Kafka source, decodes each message into rows of the views it feeds,
 * writes them to the offline and online stores and dead-letters what cannot be decoded;
 * only then is the batch committed. A store that is down pauses the partition (the batch
 * is retried with backoff while the group membership is kept alive); nothing is committed
 * until every write of the batch succeeded, so a crash at any point replays at most the
 * uncommitted batch, which both stores absorb idempotently.
 */
export class Materializer {
  private consumers: StreamConsumer[] = [];
  private routes = new Map<string, SourceRoute>();
  private producer: StreamProducer | undefined;
  private readonly stopController = new AbortController();
  private unsubscribe: (() => void) | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> = Promise.resolve();
  private pausedOn: string | null = null;
  /** Partitions held on a failure retrying cannot fix, by `topic:partition:target`. */
  private readonly held = new Map<string, HeldFailure & { topic: string; partition: number }>();
  /** One warn when a store goes away and one info when it is back, not a line per retry. */
  private outages: OutageLog | undefined;

  constructor(
    private readonly deps: MaterializerDeps,
    private readonly options: MaterializerOptions = {},
  ) {}

  /** Starts one consumer group per Kafka source; follows new registry versions. */
  async start(): Promise<void> {
    this.producer = await this.deps.stream.producer();
    await this.startConsumers(this.deps.definitions.current(), this.options.start);
    this.unsubscribe = this.deps.definitions.onChange((spec) => {
      this.reloading = this.reloading
        .then(() => this.reload(spec))
        .catch((error) => {
          this.deps.logger.error({ err: error }, 'failed to apply a new registry version');
        });
    });
    this.lagTimer = setInterval(() => void this.recordLag(), 5_000);
    this.lagTimer.unref();
  }

  /** Total uncommitted messages over every source partition. */
  async lag(): Promise<number> {
    let total = 0;
    for (const consumer of this.consumers) for (const p of await consumer.lag()) total += p.lag;
    return total;
  }

  /** Healthy while no store is down and no partition is held; the reasons otherwise. */
  health(): {
    ok: boolean;
    consumers: number;
    pausedOn: string | null;
    held: (HeldFailure & { topic: string; partition: number })[];
  } {
    return {
      ok: this.pausedOn === null && this.held.size === 0,
      consumers: this.consumers.length,
      pausedOn: this.pausedOn,
      held: [...this.held.values()],
    };
  }

  /** Stops consuming: the batch in flight finishes or is abandoned uncommitted. */
  async stop(): Promise<void> {
    this.stopController.abort();
    this.unsubscribe?.();
    if (this.lagTimer) clearInterval(this.lagTimer);
    await this.reloading;
    await Promise.all(this.consumers.map((c) => c.close()));
    this.consumers = [];
    await this.producer?.close();
  }

  private async reload(spec: RepoSpec): Promise<void> {
    if (this.stopController.signal.aborted) return;
    this.deps.logger.info('new registry version: restarting consumers');
    await Promise.all(this.consumers.map((c) => c.close()));
    this.consumers = [];
    // Committed offsets from here on: a backfill's rewind happens once, at start.
    await this.startConsumers(spec, undefined);
  }

  private async startConsumers(spec: RepoSpec, start: StartPosition | undefined): Promise<void> {
    const routes = routesOf(spec, this.options.sources);
    this.routes = new Map(routes.map((r) => [r.source.topic, r]));
    for (const route of routes) {
      for (const { view, layout } of route.views)
        if (view.offline) await this.deps.offline.ensureTable(layout);
    }
    const prefix = this.options.groupPrefix ?? 'tributary-materializer';
    for (const route of routes) {
      const consumer = await this.deps.stream.consumer({
        groupId: `${prefix}.${route.source.name}`,
        topics: [route.source.topic],
        concurrentPartitions: this.options.concurrentPartitions ?? 4,
        ...(start ? { start } : {}),
      });
      this.consumers.push(consumer);
      await consumer.run((batch, context) => this.handleBatch(batch, context));
      this.deps.logger.info({ source: route.source.name, topic: route.source.topic }, 'consuming');
    }
  }

  private async handleBatch(batch: IncomingBatch, context: BatchContext): Promise<void> {
    const route = this.routes.get(batch.topic);
    if (!route) throw new Error(`no route for topic ${batch.topic}`);
    const endTimer = this.deps.metrics.batchSeconds.startTimer();
    this.deps.metrics.eventsIn.inc({ source: route.source.name }, batch.messages.length);

    const offlineRows = route.views.map((): FeatureRow[] => []);
    const onlineRows = route.views.map((): FeatureRow[] => []);
    const onlineProducedAt: number[] = [];
    const deadLetters: OutgoingMessage[] = [];
    for (const message of batch.messages) {
      const target = (message.headers[TARGET_HEADER] ?? 'online_and_offline') as Target;
      if (target !== 'online' && target !== 'offline' && target !== 'online_and_offline') {
        deadLetters.push(
          deadLetterMessage(message, {
            code: 'TRIB_WRONG_TYPE',
            reason: `header ${TARGET_HEADER} must be online, offline or online_and_offline, not ${JSON.stringify(target)}`,
          }),
        );
        continue;
      }
      // A topic feeding several views parses each message once, and a message that is not
      // JSON at all is dead-lettered once, not once per view.
      const parsed = route.views.length > 1 ? parseEvent(message) : undefined;
      if (parsed && !parsed.ok) {
        deadLetters.push(deadLetterMessage(message, parsed));
        continue;
      }
      const origin = { topic: message.topic, partition: message.partition, offset: message.offset };
      let wroteOnline = false;
      for (let i = 0; i < route.views.length; i++) {
        const { view, decoder } = route.views[i]!;
        const result = parsed
          ? decoder.decodeObject(parsed.object, origin, parsed.text)
          : decoder.decode(message);
        if (!result.ok) {
          const letter = deadLetterMessage(message, result);
          // A topic may feed several views: say which one refused the message.
          letter.headers![FEATURE_VIEW_HEADER] = view.name;
          deadLetters.push(letter);
          continue;
        }
        if (view.offline && target !== 'online') offlineRows[i]!.push(result.row);
        if (view.online && target !== 'offline') {
          onlineRows[i]!.push(result.row);
          wroteOnline = true;
        }
      }
      if (wroteOnline) onlineProducedAt.push(message.timestamp);
    }

    const writes: { target: 'offline' | 'online' | 'dlq'; run: () => Promise<unknown> }[] = [];
    route.views.forEach(({ view, layout }, i) => {
      const offline = offlineRows[i]!;
      const online = onlineRows[i]!;
      if (offline.length > 0) {
        writes.push({
          target: 'offline',
          run: async () =>
            this.deps.metrics.rowsWritten.inc(
              { feature_view: view.name, store: 'offline' },
              await this.deps.offline.write(layout, offline),
            ),
        });
      }
      if (online.length > 0) {
        writes.push({
          target: 'online',
          run: async () =>
            this.deps.metrics.rowsWritten.inc(
              { feature_view: view.name, store: 'online' },
              await this.deps.online.write(layout, online),
            ),
        });
      }
    });
    if (deadLetters.length > 0) {
      const settledLetters = new Set<OutgoingMessage>();
      const uncounted: OutgoingMessage[] = [];
      writes.push({
        target: 'dlq',
        run: async () => {
          // A retry sends only the letters not yet settled, so each is published and counted once.
          const pending = deadLetters.filter((letter) => !settledLetters.has(letter));
          const { refused } = await publishDeadLetters(
            this.producer!,
            dlqTopicOf(batch.topic),
            pending,
            (landed, originals) => {
              for (const letter of originals) settledLetters.add(letter);
              for (const letter of landed) {
                const reason = letter.headers?.[DLQ_HEADERS.errorCode] ?? 'unknown';
                this.deps.metrics.deadLetters.inc({ source: route.source.name, reason });
              }
              // The letters as given: one cut to fit may have lost the feature view header.
              if (landed.length > 0) uncounted.push(...originals);
            },
          );
          // Refused for good: retrying cannot help, and stalling the partition would stop the
          // valid events behind it. The original stays in the source topic at these coordinates.
          for (const { letter, error } of refused) {
            this.deps.metrics.deadLettersUnpublished.inc({ source: route.source.name, code: error.code });
            this.deps.logger.error(
              {
                err: error,
                topic: batch.topic,
                partition: letter.headers?.[DLQ_HEADERS.sourcePartition],
                offset: letter.headers?.[DLQ_HEADERS.sourceOffset],
                reason: letter.headers?.[DLQ_HEADERS.errorCode],
              },
              `dead letter refused by ${dlqTopicOf(batch.topic)} with ${error.code}: not published; the message stays in its source topic at this offset`,
            );
          }
          // Counted once published; a retry (Postgres down) counts what is still uncounted.
          await this.deps.deadLetterCounts?.record(uncounted);
          uncounted.length = 0;
        },
      });
    }
    await Promise.all(writes.map((write) => this.untilDone(write.target, write.run, batch, context)));

    const now = Date.now();
    for (const producedAt of onlineProducedAt)
      this.deps.metrics.freshnessSeconds.observe((now - producedAt) / 1000);
    endTimer();
  }

  private outageLog(): OutageLog {
    this.outages ??= new OutageLog(this.deps.logger);
    return this.outages;
  }

  /**
   * Retries a write with backoff until it succeeds (a store that is down pauses the partition);
   * a write that retrying cannot fix holds the partition, reported in /health and the
   * `held_partitions` metric, until the materializer stops (`retryUntilDone`). Either way
   * nothing of the batch is committed.
   */
  private async untilDone(
    target: string,
    run: () => Promise<unknown>,
    batch: IncomingBatch,
    context: BatchContext,
  ): Promise<void> {
    const key = `${batch.topic}:${batch.partition}:${target}`;
    let heldCode: string | undefined;
    try {
      await retryUntilDone(run, {
        what: target,
        baseMs: 100,
        maxMs: 5_000,
        isStopping: () => context.isStopping() || this.stopController.signal.aborted,
        signal: this.stopController.signal,
        heartbeat: () => context.heartbeat(),
        onRetry: (error, _attempt, delayMs) => {
          this.pausedOn = target;
          this.deps.metrics.storeRetries.inc({ target });
          this.outageLog().failed(
            target,
            { err: error, code: error.code, target, topic: batch.topic, partition: batch.partition, delayMs },
            `${STORE_OF[target] ?? target} write failed with ${error.code}: retrying with backoff, nothing committed; ${CHECK_OF[target] ?? 'check the store'}`,
          );
        },
        onHold: (failure, error) => {
          this.outageLog().forget(target);
          heldCode = failure.code;
          this.held.set(key, { ...failure, topic: batch.topic, partition: batch.partition });
          this.deps.metrics.held.set(
            { topic: batch.topic, partition: String(batch.partition), target, code: failure.code },
            1,
          );
          this.deps.logger.error(
            { err: error, target, topic: batch.topic, partition: batch.partition, code: failure.code },
            `write failed with ${failure.code}, which retrying cannot fix: partition held, nothing committed; fix the cause (docs/errors.md) and restart`,
          );
        },
        onRecovered: () => {
          if (this.pausedOn === target) this.pausedOn = null;
          this.outageLog().recovered(
            target,
            { target },
            `${STORE_OF[target] ?? target} writes succeed again: partitions resume`,
          );
        },
      });
      if (this.pausedOn === target) this.pausedOn = null;
    } catch (error) {
      if (error instanceof RetryStopped) throw new Stopping();
      throw error;
    } finally {
      if (heldCode !== undefined) {
        this.held.delete(key);
        this.deps.metrics.held.remove({
          topic: batch.topic,
          partition: String(batch.partition),
          target,
          code: heldCode,
        });
      }
    }
  }

  private async recordLag(): Promise<void> {
    try {
      for (const consumer of this.consumers) {
        for (const p of await consumer.lag()) {
          this.deps.metrics.lag.set({ topic: p.topic, partition: String(p.partition) }, p.lag);
        }
      }
    } catch (error) {
      this.deps.logger.debug({ err: error }, 'could not read consumer lag');
    }
  }
}
