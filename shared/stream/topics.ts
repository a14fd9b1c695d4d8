/** What both stream adapters decide the same way when they create or grow topics. */
import { TributaryError } from '../errors.ts';
import type { TopicSpec } from './port.ts';

/** Replicas when a topic spec gives none: 3 survives the loss of a broker; fewer brokers hold fewer. */
export const DEFAULT_REPLICATION_CAP = 3;

/**
 * The replication factor of each topic to create, on a cluster of `brokers` brokers: the
 * declared one, else min(3, brokers). Throws TRIB_STREAM_REFUSED, before anything is created,
 * when one asks for more replicas than there are brokers: Kafka would refuse it anyway, one
 * topic at a time, after creating the others.
 */
export function replicationFactors(topics: TopicSpec[], brokers: number): number[] {
  const tooMany = topics.filter((t) => t.replicationFactor !== undefined && t.replicationFactor > brokers);
  if (tooMany.length > 0) {
    const list = tooMany.map((t) => `${t.topic} (replication factor ${t.replicationFactor})`).join(', ');
    throw new TributaryError(
      'TRIB_STREAM_REFUSED',
      `cannot create ${list}: the cluster has ${brokers} broker${brokers === 1 ? '' : 's'}, and each replica needs its own; declare a smaller replicationFactor or add brokers`,
      { details: { topics: tooMany.map((t) => t.topic), brokers, kafkaError: 'INVALID_REPLICATION_FACTOR' } },
    );
  }
  return topics.map((t) => t.replicationFactor ?? Math.max(1, Math.min(DEFAULT_REPLICATION_CAP, brokers)));
}

/** Refuses to shrink or keep a topic's partition count through `addPartitions`. */
export function checkGrowth(topic: string, current: number | undefined, partitions: number): void {
  if (current === undefined) {
    throw new TributaryError('TRIB_STREAM_REFUSED', `cannot add partitions to ${topic}: no such topic`, {
      details: { topic, kafkaError: 'UNKNOWN_TOPIC_OR_PARTITION' },
    });
  }
  if (!Number.isInteger(partitions) || partitions <= current) {
    throw new TributaryError(
      'TRIB_STREAM_REFUSED',
      `cannot take ${topic} from ${current} to ${partitions} partitions: Kafka only adds partitions`,
      { details: { topic, partitions: current, requested: partitions, kafkaError: 'INVALID_PARTITIONS' } },
    );
  }
}

/**
 * A topic operation Kafka refused for good (a policy, an authorization, an invalid config) as
 * TRIB_STREAM_REFUSED naming Kafka's error type; anything else as TRIB_STREAM_UNAVAILABLE.
 */
export function topicError(what: string, error: unknown): TributaryError {
  if (error instanceof TributaryError) return error;
  const pending: unknown[] = [error];
  let refused: string | undefined;
  for (let e = pending.pop(); e; e = pending.pop()) {
    const { type, cause, errors, retriable } = e as {
      type?: string;
      cause?: unknown;
      errors?: unknown[];
      retriable?: boolean;
    };
    if (type && retriable === false) refused ??= type;
    if (cause) pending.push(cause);
    if (Array.isArray(errors)) pending.push(...errors);
  }
  const reason = error instanceof Error ? error.message : String(error);
  return refused === undefined
    ? new TributaryError('TRIB_STREAM_UNAVAILABLE', `could not ${what}: ${reason}`, { cause: error })
    : new TributaryError('TRIB_STREAM_REFUSED', `Kafka refused to ${what} (${refused}): ${reason}`, {
        cause: error,
        details: { kafkaError: refused },
      });
}
