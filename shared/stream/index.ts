import { kafkaClientFromEnv } from '../config.ts';
import type { Logger } from '../logger.ts';
import { KafkaEventStream, type KafkaStreamOptions } from './kafka.ts';
import { PlatformaticEventStream } from './platformatic.ts';
import type { EventStream } from './port.ts';

export type KafkaClient = 'kafkajs' | 'platformatic';

/**
 * The event stream on the Kafka client TRIBUTARY_KAFKA_CLIENT names (kafkajs by default), or
 * on `client` when given (the conformance suite and the benchmark run both side by side).
 */
export function openEventStream(
  brokers: readonly string[],
  logger?: Logger,
  options: KafkaStreamOptions & { client?: KafkaClient } = {},
): EventStream {
  const { client = kafkaClientFromEnv(), ...rest } = options;
  return client === 'platformatic'
    ? new PlatformaticEventStream(brokers, logger, rest)
    : new KafkaEventStream(brokers, logger, rest);
}
