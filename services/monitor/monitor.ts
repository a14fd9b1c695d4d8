/**
 * One drift monitor: consumes a prediction topic, counts predictions into windows, and at each
 * window end scores it and writes drift / retraining events to the outbox.
 *
 * Exactly-once counting over at-least-once Kafka: each batch ends with one Postgres transaction
 * holding the open windows, the last processed offset of the partition, the closed windows and
 * their outbox rows; only then is the Kafka offset committed. A redelivered message at or below
 * the checkpointed offset is skipped, so a crash between the two commits neither skips nor
 * double-counts. If a batch fails half-way, the in-memory state is reloaded from the last
 * checkpoint before the next batch.
 *
 * One active instance per monitor, enforced with a Postgres advisory lock: two processes would
 * each keep windows of their own partitions but overwrite one state row, so a second process
 * stands by until the first one stops or dies.
 */

import type { MonitorSpec } from '../../shared/definitions/types.ts';
import {
  type DeadLetterCause,
  DLQ_HEADERS,
  deadLetterMessage,
  dlqTopicOf,
  publishDeadLetters,
} from '../../shared/events/dead-letter.ts';
import { type Logger, OutageLog } from '../../shared/logger.ts';
import { DRIFT_TOPIC, RETRAIN_TOPIC } from '../../shared/monitoring/events.ts';
import type { MonitorStateStore, OutboxEntry } from '../../shared/monitoring/store.ts';
import type { ProfileStore } from '../../shared/profiles/store.ts';
import type { ColumnKind, ReferenceProfile } from '../../shared/profiles/types.ts';
import { type HeldFailure, retryUntilDone } from '../../shared/retry.ts';
import type {
  BatchContext,
  EventStream,
  IncomingBatch,
  OutgoingMessage,
  StartPosition,
  StreamConsumer,
  StreamProducer,
} from '../../shared/stream/port.ts';
import { checkKinds, decodePrediction } from './decode.ts';
import type { MonitorMetrics } from './metrics.ts';
import { outboxEntries } from './outbox.ts';
import { type ClosedWindow, type ProcessorSnapshot, WindowProcessor } from './processor.ts';

export interface DriftMonitorOptions {
  spec: MonitorSpec;
  stream: EventStream;
  /** For dead letters; shared with the dispatcher. */
  producer: StreamProducer;
  state: MonitorStateStore;
  profiles: ProfileStore;
  logger: Logger;
  metrics: MonitorMetrics;
  /** Consumer group; default `tributary-monitor-<monitor name>`. */
  groupId?: string;
  start?: StartPosition;
  /** Called after a checkpoint that wrote outbox rows (wakes the dispatcher). */
  onOutbox?: () => void;
  /** Called for each closed window, after its checkpoint committed. */
  onWindowClosed?: (closed: ClosedWindow) => void;
  /** Partitions of the prediction topic when the monitor creates it; default 1. */
  partitions?: number;
  /** How often a standby asks for the lock of a monitor another process runs; default 5 s. */
  lockRetryMs?: number;
}

/** How long a profile lookup that fell back (or found nothing) is trusted before asking again. */
const PROFILE_RECHECK_MS = 60_000;

interface ResolvedProfile {
  profile: ReferenceProfile | null;
  kinds: Map<string, ColumnKind>;
  exact: boolean;
  at: number;
}

export class DriftMonitor {
  readonly processor: WindowProcessor;
  private consumer: StreamConsumer | null = null;
  private offsets = new Map<string, bigint>();
  private needsReload = false;
  private readonly profiles = new Map<string, ResolvedProfile>();
  private readonly byReference = new Map<string, ReferenceProfile>();
  private readonly dlqTopic: string;
  private stopped = false;
  private releaseLock: (() => Promise<void>) | null = null;
  private wakeLockWait: (() => void) | null = null;
  private standby: Promise<void> | null = null;
  /** Partitions held on a failure that retrying cannot fix, by `partition:step` (for /health). */
  private readonly heldFailures = new Map<string, HeldFailure & { partition: number }>();
  /** One warn when a step's store goes away and one info when it is back, not a line per retry. */
  private outages: OutageLog | undefined;

  constructor(private readonly options: DriftMonitorOptions) {
    this.processor = new WindowProcessor(options.spec);
    this.dlqTopic = dlqTopicOf(options.spec.predictionTopic);
  }

  get name(): string {
    return this.options.spec.name;
  }

  /** Creates the topics, restores the last checkpoint and joins the consumer group. */
  async start(): Promise<void> {
    const { spec, stream, logger } = this.options;
    const admin = await stream.admin();
    try {
      await admin.ensureTopics([
        { topic: spec.predictionTopic, partitions: this.options.partitions ?? 1 },
        { topic: this.dlqTopic },
        { topic: DRIFT_TOPIC },
        { topic: RETRAIN_TOPIC },
      ]);
    } finally {
      await admin.close();
    }
    this.releaseLock = await this.options.state.tryLock(spec.name);
    if (!this.releaseLock) {
      logger.warn({ monitor: spec.name }, 'monitor: another process runs this monitor; standing by');
      this.standby = this.waitThenRun();
      return;
    }
    try {
      await this.run();
    } catch (error) {
      await this.releaseLock();
      this.releaseLock = null;
      throw error;
    }
  }

  /** Loads the checkpoint and joins the consumer group. */
  private async run(): Promise<void> {
    const { spec, stream, logger } = this.options;
    await this.reload();
    this.consumer = await stream.consumer({
      groupId: this.options.groupId ?? `tributary-monitor-${spec.name}`,
      topics: [spec.predictionTopic],
      ...(this.options.start ? { start: this.options.start } : {}),
    });
    await this.consumer.run((batch, context) => this.handle(batch, context));
    logger.info(
      {
        monitor: spec.name,
        topic: spec.predictionTopic,
        window: spec.window,
        columns: this.processor.columns,
      },
      'monitor: consuming predictions',
    );
  }

  /** A standby: waits for the lock of the monitor another process runs, then takes over. */
  private async waitThenRun(): Promise<void> {
    const { logger, spec } = this.options;
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.options.lockRetryMs ?? 5_000);
        this.wakeLockWait = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (this.stopped) return;
      try {
        this.releaseLock = await this.options.state.tryLock(spec.name);
        if (!this.releaseLock) continue;
        logger.info({ monitor: spec.name }, 'monitor: the other instance is gone; taking over');
        await this.run();
        return;
      } catch (error) {
        logger.error({ err: error, monitor: spec.name }, 'monitor: standby could not take over; retrying');
        await this.releaseLock?.();
        this.releaseLock = null;
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeLockWait?.();
    await this.standby;
    await this.consumer?.close();
    this.consumer = null;
    await this.releaseLock?.();
    this.releaseLock = null;
  }

  /** What holds partitions of this monitor (for /health): empty while every partition runs. */
  held(): (HeldFailure & { partition: number })[] {
    return [...this.heldFailures.values()];
  }

  /** Consumer lag per partition (for /health). */
  async lag(): Promise<{ topic: string; partition: number; lag: number }[]> {
    return this.consumer ? this.consumer.lag() : [];
  }

  /** Loads the checkpoint into memory: offsets, open windows (against their own profiles) and policy state. */
  private async reload(): Promise<void> {
    const { state, logger, spec } = this.options;
    const loaded = await state.load(spec.name);
    this.offsets = loaded.offsets;
    const snapshot = loaded.state as ProcessorSnapshot | null;
    if (snapshot) {
      for (const w of snapshot.windows ?? []) await this.referenceProfile(w.reference.modelVersion);
      const dropped = this.processor.restore(
        snapshot,
        (ref) => this.byReference.get(`${ref.modelVersion}\u0000${ref.createdAt}`) ?? null,
      );
      for (const w of dropped) {
        logger.warn(
          { monitor: spec.name, modelVersion: w.modelVersion, rows: w.rows },
          'monitor: the profile of an open window was rebuilt or removed; that window starts over',
        );
      }
    } else {
      this.processor.restore({ format: 1, windows: [], policy: {} }, () => null);
    }
    this.needsReload = false;
  }

  private async referenceProfile(version: string): Promise<ReferenceProfile | null> {
    const profile = await this.options.profiles.get(this.options.spec.model, version);
    if (profile) this.byReference.set(`${profile.modelVersion}\u0000${profile.createdAt}`, profile);
    return profile;
  }

  /** The profile predictions of `version` count against: that version's, else the model's latest. */
  private async resolveProfile(version: string): Promise<ResolvedProfile> {
    const cached = this.profiles.get(version);
    if (cached && (cached.exact || Date.now() - cached.at < PROFILE_RECHECK_MS)) return cached;
    const { profiles, spec, logger } = this.options;
    let profile = await this.referenceProfile(version);
    const exact = profile !== null;
    if (!profile) {
      profile = await profiles.latest(spec.model);
      if (profile) {
        this.byReference.set(`${profile.modelVersion}\u0000${profile.createdAt}`, profile);
        logger.warn(
          { monitor: spec.name, modelVersion: version, reference: profile.modelVersion },
          'monitor: no profile for this model version; using the latest profile of the model',
        );
      }
    }
    const kinds = new Map<string, ColumnKind>();
    for (const column of profile?.columns ?? []) {
      if (this.processor.columns.includes(column.name)) kinds.set(column.name, column.kind);
    }
    if (profile) {
      const missing = this.processor.columns.filter((c) => !kinds.has(c));
      if (missing.length > 0) {
        logger.warn(
          { monitor: spec.name, reference: profile.modelVersion, columns: missing },
          'monitor: monitored columns missing from the reference profile are not scored',
        );
      }
    }
    const resolved = { profile, kinds, exact, at: Date.now() };
    this.profiles.set(version, resolved);
    return resolved;
  }

  private async handle(batch: IncomingBatch, context: BatchContext): Promise<void> {
    try {
      await this.process(batch, context);
    } catch (error) {
      // The in-memory windows may hold part of this batch: start the redelivery from the checkpoint.
      this.needsReload = true;
      throw error;
    }
  }

  private async process(batch: IncomingBatch, context: BatchContext): Promise<void> {
    const { spec, metrics } = this.options;
    if (this.needsReload) await this.reload();
    const key = `${batch.topic}:${batch.partition}`;
    const done = this.offsets.get(key) ?? -1n;
    const last = batch.messages[batch.messages.length - 1];
    if (!last || BigInt(last.offset) <= done) {
      metrics.predictionsIgnored.inc({ monitor: spec.name, reason: 'checkpointed' }, batch.messages.length);
      return;
    }
    const dlq: OutgoingMessage[] = [];
    const dlqReasons: string[] = [];
    const closed: ClosedWindow[] = [];
    let counted = 0;
    let replayed = 0;
    let otherModel = 0;
    const deadLetter = (message: (typeof batch.messages)[number], cause: DeadLetterCause) => {
      dlq.push(deadLetterMessage(message, cause));
    };
    // Offsets rise within a batch: only a batch that starts at or below the checkpoint needs the check.
    const mayReplay = BigInt(batch.messages[0]!.offset) <= done;
    for (const message of batch.messages) {
      if (mayReplay && BigInt(message.offset) <= done) {
        replayed++;
        continue;
      }
      const decoded = decodePrediction(message.value, this.processor.columns);
      if (!decoded.ok) {
        deadLetter(message, decoded);
        continue;
      }
      const prediction = decoded.prediction;
      if (prediction.model !== spec.model) {
        otherModel++;
        continue;
      }
      let resolved = this.profiles.get(prediction.modelVersion);
      if (!resolved || (!resolved.exact && Date.now() - resolved.at >= PROFILE_RECHECK_MS)) {
        resolved = await this.resolveProfile(prediction.modelVersion);
      }
      if (!resolved.profile) {
        deadLetter(message, {
          code: 'TRIB_PROFILE_NOT_FOUND',
          reason: `no reference profile for model '${spec.model}' (version ${prediction.modelVersion} or any other): run 'tributary profile'`,
        });
        continue;
      }
      const wrongKind = checkKinds(prediction, resolved.kinds, this.processor.columns);
      if (wrongKind) {
        deadLetter(message, wrongKind);
        continue;
      }
      const result = this.processor.add(prediction, resolved.profile);
      counted++;
      if (result) closed.push(result);
    }

    if (dlq.length > 0) {
      // A retry sends only the letters not yet settled (published or refused for good), so
      // each is published once; the metric counts, after the checkpoint, what was published.
      const settled = new Set<OutgoingMessage>();
      await this.retrying(batch, context, 'dead-letter', async () => {
        const pending = dlq.filter((letter) => !settled.has(letter));
        const { refused } = await publishDeadLetters(
          this.options.producer,
          this.dlqTopic,
          pending,
          (landed, originals) => {
            for (const letter of originals) settled.add(letter);
            for (const letter of landed)
              dlqReasons.push(letter.headers?.[DLQ_HEADERS.errorCode] ?? 'unknown');
          },
        );
        // Refused for good: retrying cannot help, and stalling would stop the valid predictions
        // behind it. The original stays in the prediction topic at these coordinates.
        for (const { letter, error } of refused) {
          this.options.logger.error(
            {
              err: error,
              monitor: this.name,
              topic: batch.topic,
              partition: letter.headers?.[DLQ_HEADERS.sourcePartition],
              offset: letter.headers?.[DLQ_HEADERS.sourceOffset],
              reason: letter.headers?.[DLQ_HEADERS.errorCode],
            },
            `monitor: dead letter refused by ${this.dlqTopic} with ${error.code}: not published; the message stays in its source topic at this offset`,
          );
        }
      });
    }
    const outbox: OutboxEntry[] = [];
    for (const c of closed) {
      outbox.push(...outboxEntries(c.drift, spec.webhooks));
      if (c.retrain) outbox.push(...outboxEntries(c.retrain, spec.webhooks));
    }
    const checkpoint = {
      monitor: spec.name,
      state: this.processor.snapshot(),
      offsets: [{ topic: batch.topic, partition: batch.partition, offset: last.offset }],
      closedWindows: closed.map((c) => c.drift),
      windowDetails: closed.map((c) => c.detail),
      retrains: closed.flatMap((c) => (c.retrain ? [c.retrain] : [])),
      outbox,
    };
    const timer = metrics.checkpointSeconds.startTimer();
    await this.retrying(batch, context, 'checkpoint', () => this.options.state.checkpoint(checkpoint));
    timer();
    this.offsets.set(key, BigInt(last.offset));

    metrics.predictionsIn.inc({ monitor: spec.name }, counted);
    if (replayed > 0)
      metrics.predictionsIgnored.inc({ monitor: spec.name, reason: 'checkpointed' }, replayed);
    if (otherModel > 0)
      metrics.predictionsIgnored.inc({ monitor: spec.name, reason: 'other_model' }, otherModel);
    for (const code of dlqReasons) metrics.deadLetters.inc({ monitor: spec.name, reason: code });
    for (const c of closed) {
      metrics.windowsClosed.inc({ monitor: spec.name, model_version: c.drift.model_version });
      metrics.driftEvents.inc({ monitor: spec.name, drifted: String(c.drift.dataset.drifted) });
      metrics.scoringSeconds.observe(c.scoringMs / 1000);
      if (c.retrain) metrics.retrainRequests.inc({ monitor: spec.name });
      this.options.logger.info(
        {
          monitor: spec.name,
          id: c.drift.id,
          modelVersion: c.drift.model_version,
          rows: c.drift.window.rows,
          driftedShare: c.drift.dataset.drifted_share,
          drifted: c.drift.dataset.drifted,
          retrain: c.retrain?.id,
          notes: Object.keys(c.notes).length > 0 ? c.notes : undefined,
        },
        'monitor: window closed',
      );
      this.options.onWindowClosed?.(c);
    }
    for (const [version, rows] of Object.entries(this.processor.openRows())) {
      metrics.openWindowRows.set({ monitor: spec.name, model_version: version }, rows);
    }
    if (outbox.length > 0) this.options.onOutbox?.();
  }

  /**
   * Runs `work` by the one retry policy (`retryUntilDone`): a store or broker that is down
   * stalls the partition, never skips it; a failure that retrying cannot fix holds it, reported
   * in /health and the `held_partitions` metric, until the monitor stops. Nothing is
   * checkpointed meanwhile, so the redelivered batch counts once.
   */
  private async retrying(
    batch: IncomingBatch,
    context: BatchContext,
    what: string,
    work: () => Promise<void>,
  ): Promise<void> {
    const key = `${batch.partition}:${what}`;
    const labels = { monitor: this.name, partition: String(batch.partition), step: what };
    let heldCode: string | undefined;
    try {
      await retryUntilDone(work, {
        what,
        baseMs: 200,
        maxMs: 10_000,
        isStopping: () => context.isStopping() || this.stopped,
        heartbeat: () => context.heartbeat(),
        onRetry: (error, _attempt, delay) => {
          this.outages ??= new OutageLog(this.options.logger);
          this.outages.failed(
            `monitor ${this.name}: ${what}`,
            {
              err: error,
              code: error.code,
              monitor: this.name,
              partition: batch.partition,
              retryInMs: delay,
            },
            `monitor: ${what} failed with ${error.code}: retrying with backoff, nothing checkpointed; ${what === 'checkpoint' ? 'check that Postgres at DATABASE_URL is up and reachable' : 'check that the Kafka brokers in KAFKA_BROKERS are up and reachable'}`,
          );
        },
        onRecovered: () =>
          this.outages?.recovered(
            `monitor ${this.name}: ${what}`,
            { monitor: this.name },
            `monitor: ${what} succeeds again: partitions resume`,
          ),
        onHold: (failure, error) => {
          this.outages?.forget(`monitor ${this.name}: ${what}`);
          heldCode = failure.code;
          this.heldFailures.set(key, { ...failure, partition: batch.partition });
          this.options.metrics.held.set({ ...labels, code: failure.code }, 1);
          this.options.logger.error(
            { err: error, monitor: this.name, partition: batch.partition, code: failure.code },
            `monitor: ${what} failed with ${failure.code}, which retrying cannot fix: partition held, nothing checkpointed; fix the cause (docs/errors.md) and restart`,
          );
        },
      });
    } finally {
      if (heldCode !== undefined) {
        this.heldFailures.delete(key);
        this.options.metrics.held.remove({ ...labels, code: heldCode });
      }
    }
  }
}
