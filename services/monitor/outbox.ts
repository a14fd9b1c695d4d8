/**
 * Deliveries through the outbox. `outboxEntries` turns an event into rows (one Kafka message, one
 * request per webhook) that the monitor writes in the same transaction as the checkpoint that
 * closed the window. The `Dispatcher` claims due rows, sends them and marks them delivered right
 * after success; failures come back with exponential backoff and jitter.
 *
 * The one window left: a crash after a webhook answered 2xx and before `markDelivered` commits.
 * The row is then due again once its lease expires and the receiver sees the same
 * X-Tributary-Delivery id a second time; receivers that must be exactly-once dedupe on it.
 */

import { randomUUID } from 'node:crypto';
import { secretFromEnv } from '../../shared/config.ts';
import type { MonitorSpec, WebhookSpec } from '../../shared/definitions/types.ts';
import type { Logger } from '../../shared/logger.ts';
import { DRIFT_TOPIC, type MonitorEvent, RETRAIN_TOPIC } from '../../shared/monitoring/events.ts';
import {
  DELIVERY_HEADER,
  EVENT_TYPE_HEADER,
  SIGNATURE_HEADER,
  signBody,
} from '../../shared/monitoring/signature.ts';
import type { OutboxEntry, OutboxRow, OutboxStore } from '../../shared/monitoring/store.ts';
import { backoffDelay, sleep } from '../../shared/retry.ts';
import type { StreamProducer } from '../../shared/stream/port.ts';

/**
 * The key a webhook is signed with: the value of its `secretEnv` variable, read now (the
 * registry holds only the name), or the literal `secret` of a version recorded before
 * `secretEnv` existed; undefined for an unsigned webhook. Throws TRIB_CONFIG_INVALID naming the
 * variable when it is unset: a declared signature is never silently dropped.
 */
export function webhookSecret(
  hook: WebhookSpec,
  /** Named in the error: the monitor, or the model of the event being signed. */
  monitor: string,
  /** The environment to read secrets from; default the process's (shared/config.ts reads it). */
  env?: NodeJS.ProcessEnv,
): string | undefined {
  if (hook.secretEnv !== undefined) {
    return secretFromEnv(hook.secretEnv, `monitor '${monitor}' (webhook ${hook.url})`, env);
  }
  return hook.secret;
}

/**
 * Checks, before a monitor runs, that every secret its webhooks name can be read; throws the
 * first missing variable as TRIB_CONFIG_INVALID. A monitor that passes never meets the error
 * at a window's end.
 */
export function checkWebhookSecrets(
  monitors: readonly Pick<MonitorSpec, 'name' | 'webhooks'>[],
  /** The environment to read secrets from; default the process's (shared/config.ts reads it). */
  env?: NodeJS.ProcessEnv,
): void {
  for (const monitor of monitors) for (const hook of monitor.webhooks) webhookSecret(hook, monitor.name, env);
}

/** The rows that deliver `event`: its topic, then each webhook. */
export function outboxEntries(
  event: MonitorEvent,
  webhooks: readonly WebhookSpec[],
  newId: () => string = randomUUID,
  /** The environment to read secrets from; default the process's (shared/config.ts reads it). */
  env?: NodeJS.ProcessEnv,
): OutboxEntry[] {
  const body = JSON.stringify(event);
  const kafkaId = newId();
  const entries: OutboxEntry[] = [
    {
      deliveryId: kafkaId,
      eventId: event.id,
      eventType: event.type,
      kind: 'kafka',
      destination: event.type === 'drift' ? DRIFT_TOPIC : RETRAIN_TOPIC,
      key: event.model,
      headers: { [DELIVERY_HEADER]: kafkaId, [EVENT_TYPE_HEADER]: event.type },
      body,
    },
  ];
  for (const hook of webhooks) {
    const deliveryId = newId();
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      [DELIVERY_HEADER]: deliveryId,
      [EVENT_TYPE_HEADER]: event.type,
    };
    // Signed now, so the secret never sits in the outbox.
    const secret = webhookSecret(hook, event.model, env);
    if (secret) headers[SIGNATURE_HEADER] = signBody(body, secret);
    entries.push({
      deliveryId,
      eventId: event.id,
      eventType: event.type,
      kind: 'webhook',
      destination: hook.url,
      key: null,
      headers,
      body,
    });
  }
  return entries;
}

export interface RetryPolicy {
  /** First retry delay; doubles per attempt. Default 1 s. */
  baseMs: number;
  /** Longest delay. Default 5 min. */
  maxMs: number;
  /** Attempts before a delivery is given up (kept in the table with failed_at). Default 30. */
  maxAttempts: number;
}

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1_000, maxMs: 300_000, maxAttempts: 30 };

/** The delay before retrying after failed attempt number `attempts` (1-based), or null to give up. */
export function retryDelay(
  attempts: number,
  policy: RetryPolicy = DEFAULT_RETRY,
  random: () => number = Math.random,
): number | null {
  if (attempts >= policy.maxAttempts) return null;
  return backoffDelay(attempts - 1, policy.baseMs, policy.maxMs, random);
}

/** What the dispatcher reports, for metrics. */
export type DeliveryListener = (outcome: {
  kind: 'kafka' | 'webhook';
  result: 'delivered' | 'retry' | 'gave_up';
  row: OutboxRow;
  error?: string;
}) => void;

/** Sends one webhook request; resolves on 2xx, throws otherwise. */
export async function postWebhook(
  row: Pick<OutboxRow, 'destination' | 'headers' | 'body'>,
  timeoutMs: number,
): Promise<void> {
  const response = await fetch(row.destination, {
    method: 'POST',
    headers: { ...row.headers, 'user-agent': 'tributary-monitor' },
    body: row.body,
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'manual',
  });
  // Drain the body so the connection can be reused.
  const text = await response.text().catch(() => '');
  if (response.status < 200 || response.status >= 300) {
    throw new Error(`HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
}

export interface DispatcherOptions {
  store: OutboxStore;
  producer: StreamProducer;
  logger: Logger;
  retry?: Partial<RetryPolicy>;
  /** Webhook request timeout; default 10 s. */
  requestTimeoutMs?: number;
  /** Rows claimed at a time; default 100. */
  batchSize?: number;
  /** Longest sleep while idle (new rows also wake it); default 1 s. */
  idleMs?: number;
  /** Webhook requests in flight at once; default 8. */
  concurrency?: number;
  onOutcome?: DeliveryListener;
  /** Sends a webhook request; injectable to add faults in tests. */
  post?: typeof postWebhook;
}

/** Sends due outbox rows until stopped. Several dispatchers (processes) can share one outbox. */
export class Dispatcher {
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: AbortController = new AbortController();
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;

  constructor(private readonly options: DispatcherOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Makes an idle dispatcher look for due rows now (after a checkpoint wrote some). */
  wake(): void {
    this.wakeUp.abort();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = null;
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    let failures = 0;
    while (this.running) {
      const signal = this.wakeUp.signal;
      let sent = 0;
      try {
        sent = await this.dispatchOnce();
        failures = 0;
      } catch (error) {
        failures++;
        logger.warn({ err: error }, 'outbox: cannot reach the outbox store');
        await sleep(backoffDelay(failures, 200, 10_000), signal);
      }
      if (sent > 0 || !this.running) continue;
      if (signal.aborted) {
        this.wakeUp = new AbortController();
        continue;
      }
      let idle = this.options.idleMs ?? 1_000;
      try {
        const due = await this.options.store.nextDueInMs();
        if (due !== null) idle = Math.min(idle, Math.max(10, due));
      } catch {
        // the next claim reports it
      }
      await sleep(idle, signal);
      if (signal.aborted) this.wakeUp = new AbortController();
    }
  }

  /** Claims and sends one batch of due rows; resolves to how many were claimed. */
  async dispatchOnce(): Promise<number> {
    const { store } = this.options;
    const rows = await store.claimDue(this.options.batchSize ?? 100, this.timeoutMs + 5_000);
    if (rows.length === 0) return 0;
    const kafka = rows.filter((r) => r.kind === 'kafka');
    const webhooks = rows.filter((r) => r.kind === 'webhook');
    await Promise.all([this.sendKafka(kafka), this.sendWebhooks(webhooks)]);
    return rows.length;
  }

  private async sendKafka(rows: OutboxRow[]): Promise<void> {
    const byTopic = new Map<string, OutboxRow[]>();
    for (const row of rows) byTopic.set(row.destination, [...(byTopic.get(row.destination) ?? []), row]);
    for (const [topic, group] of byTopic) {
      try {
        await this.options.producer.send(
          topic,
          group.map((r) => ({ key: r.key, value: r.body, headers: r.headers })),
        );
      } catch (error) {
        for (const row of group) await this.failed(row, error);
        continue;
      }
      for (const row of group) await this.delivered(row);
    }
  }

  private async sendWebhooks(rows: OutboxRow[]): Promise<void> {
    const post = this.options.post ?? postWebhook;
    const queue = [...rows];
    const worker = async () => {
      for (let row = queue.shift(); row; row = queue.shift()) {
        try {
          await post(row, this.timeoutMs);
        } catch (error) {
          await this.failed(row, error);
          continue;
        }
        await this.delivered(row);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.options.concurrency ?? 8, rows.length) }, worker));
  }

  private async delivered(row: OutboxRow): Promise<void> {
    await this.options.store.markDelivered(row.id);
    this.options.onOutcome?.({ kind: row.kind, result: 'delivered', row });
  }

  private async failed(row: OutboxRow, error: unknown): Promise<void> {
    const message = error instanceof Error ? error.message : String(error);
    const delay = retryDelay(row.attempts, this.retry);
    await this.options.store.markFailed(row.id, message, delay);
    const result = delay === null ? 'gave_up' : 'retry';
    this.options.onOutcome?.({ kind: row.kind, result, row, error: message });
    const log = {
      deliveryId: row.deliveryId,
      destination: row.destination,
      attempts: row.attempts,
      retryInMs: delay,
      error: message,
    };
    if (delay === null) this.options.logger.error(log, 'outbox: delivery given up');
    else this.options.logger.warn(log, 'outbox: delivery failed, will retry');
  }
}
