/**
 * The stream port's conformance suite for kafkajs on the current Kafka 4 line, on a broker of
 * the test's own (scripts/services.ts, the same Maven route as the test broker). Kafka 4 removed
 * old protocol versions (KIP-896) and brought a new consumer-group protocol kafkajs does not
 * speak; this proves the classic group protocol kafkajs uses still does all the port promises.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { KAFKA_4_VERSION, type KafkaProcess, startKafka } from '../../../scripts/services.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import { streamPortSuite } from './stream-port.suite.ts';

const runDir = mkdtempSync(path.join(os.tmpdir(), 'tributary-kafka4-'));
let broker: KafkaProcess | undefined;

beforeAll(async () => {
  broker = await startKafka(runDir, KAFKA_4_VERSION);
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
  `KafkaEventStream (kafkajs) on Kafka ${KAFKA_4_VERSION}`,
  (brokers) => new KafkaEventStream(brokers),
  {
    brokers: () => [`127.0.0.1:${broker!.port}`],
  },
);
