/**
 * npm run bench:kafka-clients — the two Kafka clients behind the stream port, side by side in
 * one run (issue 16: the client decision is made on these figures): kafkajs, the default, and
 * @platformatic/kafka (shared/stream/platformatic.ts).
 *
 * EVENTS driver events are produced once to a fresh topic of PARTITIONS partitions. Then, per
 * round and per client, alternating so both see the same machine state:
 *   - produce: EVENTS / 10 events sent in batches of 1,000 to a topic of their own;
 *   - raw consume: a new group reads the whole topic with a no-op handler until lag 0;
 *   - materialize: a new materializer group writes it to Postgres + Redis until lag 0.
 * Prints one JSON document: medians per client over ROUNDS rounds and platformatic / kafkajs
 * ratios (above 1: platformatic faster). Never fails on timing.
 * Knobs: BENCH_EVENTS (200000), BENCH_PARTITIONS (4), BENCH_ROUNDS (3), BENCH_DRIVERS (1000).
 */
import { Registry } from 'prom-client';
import { driverSpec, staticDefinitions } from '../fixtures/driver-spec.ts';
import { countRows, dropSchema } from '../fixtures/postgres.ts';
import { Materializer } from '../services/materializer/materializer.ts';
import { createMaterializerMetrics } from '../services/materializer/metrics.ts';
import { createLogger } from '../shared/logger.ts';
import { createPool } from '../shared/postgres/index.ts';
import { PostgresOfflineStore } from '../shared/stores/offline/postgres/index.ts';
import { RedisOnlineStore } from '../shared/stores/online/redis.ts';
import { type KafkaClient, openEventStream } from '../shared/stream/index.ts';
import type { EventStream, OutgoingMessage } from '../shared/stream/port.ts';
import { benchServices, knob, median } from './support.ts';

const EVENTS = knob('BENCH_EVENTS', 200_000);
const PARTITIONS = knob('BENCH_PARTITIONS', 4);
const ROUNDS = knob('BENCH_ROUNDS', 3);
const DRIVERS = knob('BENCH_DRIVERS', 1_000);
const CLIENTS: KafkaClient[] = ['kafkajs', 'platformatic'];
const BATCH = 1_000;

const { env, stop } = await benchServices();
const run = `bench_${Date.now().toString(36)}`;
const topic = `${run}_drivers`;
const logger = createLogger('bench', 'warn');
// Counts and drops each run's offline schema, outside the store it measures.
const db = createPool({ connectionString: env.DATABASE_URL, max: 1 });
const brokers = env.KAFKA_BROKERS.split(',');
const streams = new Map(CLIENTS.map((client) => [client, openEventStream(brokers, logger, { client })]));
const admin = await streams.get('kafkajs')!.admin();
const produceTopics = CLIENTS.flatMap((client) =>
  Array.from({ length: ROUNDS }, (_, round) => `${topic}_produce_${client}_${round}`),
);
await admin.ensureTopics(
  [topic, ...produceTopics].flatMap((t) => [{ topic: t, partitions: PARTITIONS }, { topic: `${t}.dlq` }]),
);

const t0 = Date.parse('2026-11-01T00:00:00Z');
function event(n: number): OutgoingMessage {
  const driver = n % DRIVERS;
  return {
    key: String(driver),
    value: `{"driver_id":${driver},"event_timestamp":${t0 + n * 1000},"conv_rate":${(n % 997) / 997},"acc_rate":${(n % 89) / 89},"avg_daily_trips":${n % 50}}`,
  };
}

async function produce(stream: EventStream, to: string, count: number): Promise<number> {
  const producer = await stream.producer();
  const started = performance.now();
  for (let i = 0; i < count; i += BATCH) {
    await producer.send(
      to,
      Array.from({ length: Math.min(BATCH, count - i) }, (_, k) => event(i + k)),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  await producer.close();
  return seconds;
}

async function untilCaughtUp(lag: () => Promise<number>, started: number): Promise<number> {
  for (;;) {
    if ((await lag()) === 0) return (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Messages the topic holds: EVENTS, plus any the producer wrote twice (see `inKafka`). */
let inKafka = 0;

async function rawConsume(stream: EventStream, group: string): Promise<number> {
  const started = performance.now();
  const consumer = await stream.consumer({
    groupId: group,
    topics: [topic],
    concurrentPartitions: PARTITIONS,
  });
  let counted = 0;
  await consumer.run(async (batch) => {
    counted += batch.messages.length;
  });
  const seconds = await untilCaughtUp(
    async () => (await consumer.lag()).reduce((s, p) => s + p.lag, 0),
    started,
  );
  await consumer.close();
  // The first count fixes what the topic holds; every later reader must see exactly that.
  inKafka ||= counted;
  if (counted !== inKafka) throw new Error(`${group} counted ${counted} of ${inKafka} messages`);
  return seconds;
}

async function materialize(stream: EventStream, name: string): Promise<number> {
  const offline = new PostgresOfflineStore({ connectionString: env.DATABASE_URL, schema: `${name}_offline` });
  const online = new RedisOnlineStore({ url: env.REDIS_URL, prefix: name });
  const spec = driverSpec(topic);
  const materializer = new Materializer(
    {
      definitions: staticDefinitions(spec),
      stream,
      offline,
      online,
      metrics: createMaterializerMetrics(new Registry()),
      logger,
    },
    { groupPrefix: `${name}_mat` },
  );
  const started = performance.now();
  await materializer.start();
  const seconds = await untilCaughtUp(() => materializer.lag(), started);
  await materializer.stop();
  const rows = await countRows(db, offline.schema, spec.featureViews[0]!.name);
  if (rows !== inKafka) throw new Error(`${name} wrote ${rows} of ${inKafka} rows`);
  await dropSchema(db, offline.schema);
  await offline.close();
  await online.close();
  return seconds;
}

await produce(streams.get('kafkajs')!, topic, EVENTS);
const figures = new Map(
  CLIENTS.map((c) => [c, { produce: [] as number[], raw: [] as number[], materialize: [] as number[] }]),
);
for (let round = 0; round < ROUNDS; round++) {
  // Alternating which client goes first, so neither always meets a warmer machine.
  const order = round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse();
  for (const client of order) {
    const stream = streams.get(client)!;
    const f = figures.get(client)!;
    f.produce.push(await produce(stream, `${topic}_produce_${client}_${round}`, EVENTS / 10));
    f.raw.push(await rawConsume(stream, `${run}_raw_${client}_${round}`));
    f.materialize.push(await materialize(stream, `${run}_${client}_${round}`));
    process.stderr.write(`bench: round ${round + 1}/${ROUNDS} ${client} done\n`);
  }
}

const rate = (count: number, seconds: number[]) => Math.round(count / median(seconds));
const clients = Object.fromEntries(
  CLIENTS.map((client) => {
    const f = figures.get(client)!;
    return [
      client,
      {
        produce_events_per_s: rate(EVENTS / 10, f.produce),
        raw_consume_events_per_s: rate(EVENTS, f.raw),
        materialize_events_per_s: rate(EVENTS, f.materialize),
        seconds: f,
      },
    ];
  }),
);
const ratio = (key: 'produce' | 'raw' | 'materialize') =>
  Number((median(figures.get('kafkajs')![key]) / median(figures.get('platformatic')![key])).toFixed(3));
console.log(
  JSON.stringify(
    {
      benchmark: 'kafka-clients',
      setup: {
        events: EVENTS,
        partitions: PARTITIONS,
        rounds: ROUNDS,
        note: 'broker, Postgres (fsync off) and Redis on the same 2-core machine; medians over rounds',
      },
      // kafkajs retries a produce request per broker, all its partitions, when one partition
      // fails retriably (a topic's first sends, a leader moving): the others are then in twice.
      messages_in_topic: inKafka,
      written_twice_by_the_producer: inKafka - EVENTS,
      clients,
      platformatic_over_kafkajs: {
        produce: ratio('produce'),
        raw_consume: ratio('raw'),
        materialize: ratio('materialize'),
      },
    },
    null,
    2,
  ),
);

await admin.deleteTopics([topic, ...produceTopics].flatMap((t) => [t, `${t}.dlq`]));
await admin.close();
for (const stream of streams.values()) await stream.close();
await db.end();
await stop();
