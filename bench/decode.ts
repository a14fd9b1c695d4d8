/**
 * Decoder throughput against bare JSON.parse on the same buffers, and the compiled field reader
 * (the default) against the interpreted one it must beat to be worth its generated code.
 *
 *   npx tsx bench/decode.ts [messages] [rounds]
 *
 * Prints JSON. Baseline per message: `JSON.parse(buffer.toString('utf8'))`, the least any
 * decoder must do. Rounds alternate baseline, compiled and interpreted decoders so all see the
 * same machine state; figures are medians over rounds. Never fails on timing.
 */

import os from 'node:os';
import { driverEntity, driverHourlyStats, driverStatsSource } from '../fixtures/driver-spec.ts';
import { createDecoder, type Decoder } from '../shared/events/decode.ts';
import type { IncomingMessage } from '../shared/stream/port.ts';

const count = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 7);

// The example repository's driver stats view (1-day ttl), as the materializer decodes it.
const view = driverHourlyStats({ ttlMs: 86_400_000 });

// Fixed clock: the messages' times stay "not in the future" whenever the bench runs.
const decoderOf = (reader: 'compiled' | 'interpreted') =>
  createDecoder(view, [driverEntity()], driverStatsSource('driver_stats'), {
    now: () => Date.UTC(2026, 10, 27),
    reader,
  });
const compiled = decoderOf('compiled');
const interpreted = decoderOf('interpreted');

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

function decodeAll(decoder: Decoder): number {
  let sink = 0;
  for (let i = 0; i < count; i++) {
    const result = decoder.decode(messages[i]!);
    if (!result.ok) throw new Error(`bench message rejected: ${result.reason}`);
    sink += result.row.values.length;
  }
  return sink;
}

// The reader alone, on objects parsed once up front: the part the two readers differ in.
const parsed = messages.map((m) => JSON.parse(m.value!.toString('utf8')) as Record<string, unknown>);
function readAll(decoder: Decoder): number {
  let sink = 0;
  const origin = { topic: 'driver_stats', partition: 0, offset: '0' };
  for (let i = 0; i < count; i++) {
    const result = decoder.decodeObject(parsed[i], origin);
    if (!result.ok) throw new Error(`bench object rejected: ${result.reason}`);
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

// Warm-up: let every path reach optimized code before timing.
timed(baseline);
timed(() => decodeAll(compiled));
timed(() => decodeAll(interpreted));
timed(() => readAll(compiled));
timed(() => readAll(interpreted));

const baselineSeconds: number[] = [];
const decodeSeconds: number[] = [];
const interpretedSeconds: number[] = [];
const readCompiledSeconds: number[] = [];
const readInterpretedSeconds: number[] = [];
for (let r = 0; r < rounds; r++) {
  baselineSeconds.push(timed(baseline));
  decodeSeconds.push(timed(() => decodeAll(compiled)));
  interpretedSeconds.push(timed(() => decodeAll(interpreted)));
  readCompiledSeconds.push(timed(() => readAll(compiled)));
  readInterpretedSeconds.push(timed(() => readAll(interpreted)));
}

const baselineMedian = median(baselineSeconds);
const decodeMedian = median(decodeSeconds);
const interpretedMedian = median(interpretedSeconds);
const readCompiledNs = (median(readCompiledSeconds) / count) * 1e9;
const readInterpretedNs = (median(readInterpretedSeconds) / count) * 1e9;
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
      interpreted: {
        medianSeconds: Number(interpretedMedian.toFixed(4)),
        perSecond: Math.round(count / interpretedMedian),
        nsPerMessage: Math.round((interpretedMedian / count) * 1e9),
      },
      ratio: Number((decodeMedian / baselineMedian).toFixed(3)),
      target: 'ratio <= 1.5',
      // Below 1: the compiled reader is faster; it stays only while it wins clearly.
      compiledVsInterpreted: Number((decodeMedian / interpretedMedian).toFixed(3)),
      // The field reading alone (decodeObject on parsed objects), per message.
      reader: {
        compiledNs: Math.round(readCompiledNs),
        interpretedNs: Math.round(readInterpretedNs),
        ratio: Number((readCompiledNs / readInterpretedNs).toFixed(3)),
      },
    },
    null,
    2,
  ),
);
