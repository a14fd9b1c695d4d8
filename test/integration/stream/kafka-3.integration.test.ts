/**
 * The stream port's conformance suite for kafkajs on Kafka 3.9, the last 3.x line, on a broker
 * of the test's own (scripts/services.ts, the same Maven route as the test broker). The test
 * services run the current Kafka 4 line; many clusters still run 3.x, whose protocol versions
 * Kafka 4 removed in part (KIP-896), so the port is proven on both.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { KAFKA_3_VERSION, type KafkaProcess, startKafka } from '../../../scripts/services.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import { streamPortSuite } from './stream-port.suite.ts';

const runDir = mkdtempSync(path.join(os.tmpdir(), 'tributary-kafka3-'));
let broker: KafkaProcess | undefined;

beforeAll(async () => {
  broker = await startKafka(runDir, KAFKA_3_VERSION);
}, 180_000);

afterAll(() => {
  try {
    if (broker) process.kill(broker.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  rmSync(runDir, { recursive: true, force: true });
});

streamPortSuite(
  `KafkaEventStream (kafkajs) on Kafka ${KAFKA_3_VERSION}`,
  (brokers) => new KafkaEventStream(brokers),
  { brokers: () => [`127.0.0.1:${broker!.port}`] },
);
