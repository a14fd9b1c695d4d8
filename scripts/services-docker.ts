/**
 * Kafka (KRaft), Postgres and Redis as throwaway containers through testcontainers, for
 * machines with a Docker engine: `TRIBUTARY_SERVICES=docker npm test`. The containers live as
 * long as the process that started them (testcontainers' reaper removes them after), so this
 * serves a test or benchmark run, not `npm run services:up`.
 */
import { createServer } from 'node:net';
import { GenericContainer, type StartedTestContainer, Wait } from 'testcontainers';
import { KAFKA_VERSION, type ServiceEnv } from './services.ts';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Starts the three containers; `stop` removes them. */
export async function startDockerServices(): Promise<{ env: ServiceEnv; stop: () => Promise<void> }> {
  // Kafka advertises the address clients must dial, so its host port is chosen before start.
  const kafkaPort = await freePort();
  const started: StartedTestContainer[] = [];
  const track = (container: StartedTestContainer) => {
    started.push(container);
    return container;
  };
  try {
    const [kafka, postgres, redis] = await Promise.all([
      new GenericContainer(`apache/kafka:${KAFKA_VERSION}`)
        .withExposedPorts({ container: 9092, host: kafkaPort })
        .withEnvironment({
          KAFKA_NODE_ID: '1',
          KAFKA_PROCESS_ROLES: 'broker,controller',
          KAFKA_LISTENERS: 'PLAINTEXT://:9092,CONTROLLER://:9093',
          KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${kafkaPort}`,
          KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
          KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
          KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
          KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
          KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
          KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
          KAFKA_MESSAGE_MAX_BYTES: '2097152',
        })
        .withWaitStrategy(Wait.forLogMessage(/Kafka Server started|Transitioning from RECOVERY to RUNNING/))
        .start()
        .then(track),
      new GenericContainer('postgres:16')
        .withExposedPorts(5432)
        .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'tributary' })
        .withCommand(['postgres', '-c', 'fsync=off', '-c', 'max_connections=300'])
        .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
        .start()
        .then(track),
      new GenericContainer('redis:7')
        .withExposedPorts(6379)
        .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/))
        .start()
        .then(track),
    ]);
    return {
      env: {
        KAFKA_BROKERS: `127.0.0.1:${kafka.getMappedPort(9092)}`,
        DATABASE_URL: `postgres://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/tributary`,
        REDIS_URL: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
      },
      stop: async () => {
        await Promise.all(started.map((c) => c.stop()));
      },
    };
  } catch (error) {
    await Promise.all(started.map((c) => c.stop().catch(() => {})));
    throw error;
  }
}
