/**
 * npm run bench:produce — what Tributary's producer (shared/stream/serial-producer.ts:
 * idempotent, one send at a time) costs against the baseline it replaced, a plain kafkajs
 * producer with sends in flight at once (at-least-once), on the same broker in the same run.
 *
 * Per round, per producer (order alternating) and per CONCURRENCY level: SENDS single-event
 * sends, as HTTP pushes make them, kept CONCURRENCY at a time, to a fresh topic of PARTITIONS
 * partitions; then BATCHES sends of 1,000 events one after another (the materializer's dead
 * letters, a bulk push). Each figure: events/s and the send latency p50/p99; afterwards the
 * topic's size says whether any event was lost or doubled. Prints one JSON document of medians
 * over ROUNDS rounds and tributary / baseline ratios. Never fails on timing.
 * Each producer first sends BENCH_WARMUP_SENDS single events, unmeasured, per round.
 * Knobs: BENCH_SENDS (4000), BENCH_CONCURRENCY (1,16,64), BENCH_BATCHES (20),
 * BENCH_PARTITIONS (4), BENCH_ROUNDS (3), BENCH_WARMUP_SENDS (2000).
 */
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { KafkaEventStream } from '../shared/stream/kafka.ts';
import type { OutgoingMessage } from '../shared/stream/port.ts';
import { benchServices, knob, median, percentile, textKnob } from './support.ts';

const SENDS = knob('BENCH_SENDS', 4_000);
const BATCHES = knob('BENCH_BATCHES', 20);
const PARTITIONS = knob('BENCH_PARTITIONS', 4);
const ROUNDS = knob('BENCH_ROUNDS', 3);
const CONCURRENCY = textKnob('BENCH_CONCURRENCY', '1,16,64').split(',').map(Number);
const WARMUP_SENDS = knob('BENCH_WARMUP_SENDS', 2_000);
const BATCH = 1_000;

interface Sender {
  send(topic: string, messages: OutgoingMessage[]): Promise<void>;
  close(): Promise<void>;
}

const { env, stop } = await benchServices();
const brokers = env.KAFKA_BROKERS.split(',');
const stream = new KafkaEventStream(brokers);
const admin = await stream.admin();
const run = `bench_${Date.now().toString(36)}`;

/** The producer Tributary had before: kafkajs, not idempotent, sends concurrent. */
async function baseline(): Promise<Sender> {
  const producer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  return {
    send: async (topic, messages) => {
      await producer.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({ key: m.key ?? null, value: m.value })),
      });
    },
    close: () => producer.disconnect(),
  };
}

const t0 = Date.parse('2026-11-01T00:00:00Z');
function event(n: number): OutgoingMessage {
  return {
    key: String(n % 1_000),
    value: `{"driver_id":${n % 1_000},"event_timestamp":${t0 + n * 1000},"conv_rate":${(n % 997) / 997}}`,
  };
}

interface Figure {
  eventsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Events in the topic minus events sent: negative lost, positive doubled. */
  surplus: number;
}

async function measure(sender: Sender, topic: string, sends: number, perSend: number, concurrency: number) {
  await admin.ensureTopics([{ topic, partitions: PARTITIONS }]);
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < sends; i = next++) {
        const at = performance.now();
        await sender.send(
          topic,
          Array.from({ length: perSend }, (_, k) => event(i * perSend + k)),
        );
        latencies.push(performance.now() - at);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const figure: Figure = {
    eventsPerSecond: Math.round((sends * perSend) / seconds),
    p50Ms: +percentile(latencies, 0.5).toFixed(2),
    p99Ms: +percentile(latencies, 0.99).toFixed(2),
    surplus: (await admin.topicSize(topic)) - sends * perSend,
  };
  // Deleted at the end: a kafkajs producer keeps refreshing metadata of every topic it wrote.
  created.push(topic);
  return figure;
}

const created: string[] = [];
const PRODUCERS = { baseline, tributary: () => stream.producer() } as const;
type Name = keyof typeof PRODUCERS;
const scenarios = [...CONCURRENCY.map((c) => `single x${c}`), `batch ${BATCH}`];
const figures = new Map<string, Figure[]>();

for (let round = 0; round < ROUNDS; round++) {
  const order: Name[] = round % 2 === 0 ? ['baseline', 'tributary'] : ['tributary', 'baseline'];
  for (const name of order) {
    const sender = await PRODUCERS[name]();
    if (WARMUP_SENDS > 0) await measure(sender, `${run}_${name}_${round}_warmup`, WARMUP_SENDS, 1, 16);
    for (const [s, scenario] of scenarios.entries()) {
      const topic = `${run}_${name}_${round}_${s}`;
      const concurrency = CONCURRENCY[s];
      const figure =
        concurrency === undefined
          ? await measure(sender, topic, BATCHES, BATCH, 1)
          : await measure(sender, topic, SENDS, 1, concurrency);
      const key = `${scenario}|${name}`;
      figures.set(key, [...(figures.get(key) ?? []), figure]);
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${name} ${scenario}: ${JSON.stringify(figure)}\n`);
    }
    await sender.close();
  }
}

const medians = (name: Name, scenario: string) => {
  const runs = figures.get(`${scenario}|${name}`) ?? [];
  return {
    eventsPerSecond: median(runs.map((f) => f.eventsPerSecond)),
    p50Ms: median(runs.map((f) => f.p50Ms)),
    p99Ms: median(runs.map((f) => f.p99Ms)),
    surplusPerRun: runs.map((f) => f.surplus),
  };
};
const results = scenarios.map((scenario) => {
  const base = medians('baseline', scenario);
  const ours = medians('tributary', scenario);
  return {
    scenario,
    baseline: base,
    tributary: ours,
    throughputRatio: +(ours.eventsPerSecond / base.eventsPerSecond).toFixed(2),
    p99Ratio: +(ours.p99Ms / base.p99Ms).toFixed(2),
  };
});
console.log(
  JSON.stringify(
    {
      bench: 'produce',
      setup: {
        sends: SENDS,
        batches: BATCHES,
        partitions: PARTITIONS,
        rounds: ROUNDS,
        warmupSends: WARMUP_SENDS,
      },
      results,
    },
    null,
    2,
  ),
);
await admin.deleteTopics(created);
await admin.close();
await stream.close();
await stop();
