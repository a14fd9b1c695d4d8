/**
 * Decoder throughput against bare JSON.parse on the same buffers.
 *
 *   npx tsx bench/decode.ts [messages] [rounds]
 *
 * Prints JSON. Baseline per message: `JSON.parse(buffer.toString('utf8'))`, the least any
 * decoder must do. Rounds alternate baseline and decoder so both see the same machine state;
 * figures are medians over rounds. Never fails on timing.
 */

import os from 'node:os';
import { driverEntity, driverHourlyStats, driverStatsSource } from '../fixtures/driver-spec.ts';
import { createDecoder } from '../shared/events/decode.ts';
import type { IncomingMessage } from '../shared/stream/port.ts';

const count = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 7);

// The example repository's driver stats view (1-day ttl), as the materializer decodes it.
const view = driverHourlyStats({ ttlMs: 86_400_000 });

// Fixed clock: the messages' times stay "not in the future" whenever the bench runs.
const decoder = createDecoder(view, [driverEntity()], driverStatsSource('driver_stats'), {
  now: () => Date.UTC(2026, 10, 27),
});

// Typical messages, varied so neither JSON.parse nor the decoder sees one string over and over.
const base = Date.UTC(2026, 10, 26, 10);
const messages: IncomingMessage[] = new Array(count);
let bytes = 0;
for (let i = 0; i < count; i++) {
  const value = Buffer.from(
    JSON.stringify({
      driver_id: 1001 + (i % 5000),
      event_timestamp: new Date(base + (i % 3600) * 1000).toISOString(),
      created: 1764151200000 + i,
      conv_rate: ((i * 7919) % 1000) / 1000,
      acc_rate: ((i * 104729) % 1000) / 1000,
      avg_daily_trips: i % 50,
    }),
  );
  bytes += value.length;
  messages[i] = {
    topic: 'driver_stats',
    partition: i % 8,
    offset: String(i),
    key: null,
    value,
    headers: {},
    timestamp: base,
  };
}

function baseline(): number {
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const parsed = JSON.parse(messages[i]!.value!.toString('utf8')) as { avg_daily_trips: number };
    sink += parsed.avg_daily_trips;
  }
  return sink;
}

function decodeAll(): number {
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const result = decoder.decode(messages[i]!);
    if (!result.ok) throw new Error(`bench message rejected: ${result.reason}`);
    sink += result.row.values.length;
  }
  return sink;
}

function timed(fn: () => number): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// Warm-up: let both paths reach optimized code before timing.
timed(baseline);
timed(decodeAll);

const baselineSeconds: number[] = [];
const decodeSeconds: number[] = [];
for (let r = 0; r < rounds; r++) {
  baselineSeconds.push(timed(baseline));
  decodeSeconds.push(timed(decodeAll));
}

const baselineMedian = median(baselineSeconds);
const decodeMedian = median(decodeSeconds);
console.log(
  JSON.stringify(
    {
      bench: 'decode',
      setup: {
        messages: count,
        rounds,
        avgMessageBytes: Math.round(bytes / count),
        view: view.name,
        baseline: "JSON.parse(buffer.toString('utf8'))",
        node: process.version,
        cpu: os.cpus()[0]?.model ?? 'unknown',
      },
      baseline: {
        medianSeconds: Number(baselineMedian.toFixed(4)),
        perSecond: Math.round(count / baselineMedian),
      },
      decode: {
        medianSeconds: Number(decodeMedian.toFixed(4)),
        perSecond: Math.round(count / decodeMedian),
        nsPerMessage: Math.round((decodeMedian / count) * 1e9),
      },
      ratio: Number((decodeMedian / baselineMedian).toFixed(3)),
      target: 'ratio <= 1.5',
    },
    null,
    2,
  ),
);
