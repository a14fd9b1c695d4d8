import { describe, expect, it } from 'vitest';
import { AnswerBuffers } from '../../../services/serving/byte-writer.ts';
import { onlineResponseJson, valueJson } from '../../../services/serving/online-response.ts';
import type { RepoSpec, ValueType } from '../../../shared/definitions/types.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import type { KeyValue } from '../../../shared/retrieval/entities.ts';
import { isoTimestamp } from '../../../shared/retrieval/json.ts';
import { planRetrieval, type RetrievalPlan } from '../../../shared/retrieval/plan.ts';
import { JsonRecord, jsonRecordOf } from '../../../shared/stores/online/json-record.ts';
import type { OnlineRecord, OnlineRecordJson } from '../../../shared/stores/online/port.ts';
import {
  type JsonArrayValue,
  jsonArrayWithLengths,
  valueLengthsEnd,
} from '../../../shared/stores/online/value-lengths.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2024, 4, 10, 12);

const types: ValueType[] = ['float64', 'int64', 'string', 'bool', 'timestamp'];
const repo: RepoSpec = {
  entities: [
    { kind: 'entity', name: 'driver', joinKey: 'driver_id', valueType: 'int64' },
    { kind: 'entity', name: 'city', joinKey: 'city', valueType: 'string' },
  ],
  kafkaSources: [
    { kind: 'kafkaSource', name: 's', topic: 't', timestampField: 'ts', createdField: 'c', format: 'json' },
  ],
  pushSources: [],
  featureViews: [
    {
      kind: 'featureView',
      name: 'mixed',
      entities: ['driver'],
      source: 's',
      schema: types.map((type, i) => ({ name: `${type}_${i}`, type })),
      ttlMs: DAY,
      online: true,
      offline: true,
    },
    {
      kind: 'featureView',
      name: 'pair',
      entities: ['city', 'driver'],
      source: 's',
      schema: [
        { name: 'trips', type: 'int64' },
        { name: 'rate', type: 'float64' },
      ],
      ttlMs: 0,
      online: true,
      offline: true,
    },
  ],
  featureServices: [],
  monitors: [],
};

/** What the route answered before values were copied as text: decode (JSON.parse, BigInt), then print. */
function decode(plan: RetrievalPlan, v: number, record: OnlineRecordJson | null): OnlineRecord | null {
  if (record === null) return null;
  const raw = JSON.parse(Buffer.from(record.valuesJson).toString('utf8')) as (
    | string
    | number
    | boolean
    | null
  )[];
  return {
    eventTimestamp: record.eventTimestamp,
    created: record.created,
    values: plan.views[v]!.layout.features.map((feature, i) => {
      const value = raw[i];
      if (value === null || value === undefined) return null;
      return feature.type === 'int64' ? BigInt(value) : value;
    }),
  };
}

function reference(
  plan: RetrievalPlan,
  keyNames: string[],
  keyColumns: Map<string, KeyValue[]>,
  stored: (OnlineRecordJson | null)[][],
  n: number,
  now: number,
): string {
  const epoch = '"1970-01-01T00:00:00Z"';
  const decoded = stored.map((records, v) => records.map((r) => decode(plan, v, r)));
  const byView = new Map(plan.views.map((view, v) => [view.spec.name, v]));
  const results: string[] = [];
  for (const name of keyNames) {
    results.push(
      JSON.stringify({
        values: 0,
        statuses: Array(n).fill('PRESENT'),
        event_timestamps: Array(n).fill('1970-01-01T00:00:00Z'),
      }).replace('0', `[${keyColumns.get(name)!.map(valueJson).join(',')}]`),
    );
  }
  for (const feature of plan.features) {
    const v = byView.get(feature.view)!;
    const ttl = plan.views[v]!.layout.ttlMs;
    const values: string[] = [];
    const statuses: string[] = [];
    const timestamps: string[] = [];
    for (let i = 0; i < n; i++) {
      const record = decoded[v]![i] ?? null;
      timestamps.push(record ? `"${isoTimestamp(record.eventTimestamp)}"` : epoch);
      if (record === null) {
        values.push('null');
        statuses.push('"NOT_FOUND"');
      } else if (ttl > 0 && record.eventTimestamp <= now - ttl) {
        values.push('null');
        statuses.push('"OUTSIDE_MAX_AGE"');
      } else {
        const value = record.values[feature.schemaIndex] ?? null;
        values.push(value === null ? 'null' : valueJson(value));
        statuses.push(value === null ? '"NULL_VALUE"' : '"PRESENT"');
      }
    }
    results.push(
      `{"values":[${values.join(',')}],"statuses":[${statuses.join(',')}],"event_timestamps":[${timestamps.join(',')}]}`,
    );
  }
  const names = [...keyNames, ...plan.features.map((f) => f.outputName)];
  return `{"metadata":{"feature_names":${JSON.stringify(names)}},"results":[${results.join(',')}]}`;
}

/** A deterministic pseudo-random source, so a failure reproduces. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const strings = [
  '',
  'a,b',
  'say "hi", then',
  'back\\slash',
  ']',
  'null',
  '9007199254740993',
  'é🙂',
  '\u2028',
];
const bigInts = [
  0n,
  -1n,
  7n,
  9007199254740991n,
  9007199254740992n,
  -9007199254740991n,
  -9007199254740993n,
  2n ** 63n - 1n,
  -(2n ** 63n),
];

/** Values as the Redis adapter writes them: JSON.stringify, int64 as a JSON string of its digits. */
function storedValue(type: ValueType, rnd: () => number): string {
  if (rnd() < 0.1) return 'null';
  const pick = <T>(list: T[]) => list[Math.floor(rnd() * list.length)]!;
  switch (type) {
    case 'float64':
      return JSON.stringify(
        pick([0, -0, 0.1, 1e21, -1e-7, 5e-324, Math.sin(rnd() * 1000) * 1000, Math.round(rnd() * 100)]),
      );
    case 'int64':
      return JSON.stringify(pick(bigInts).toString());
    case 'string':
      return JSON.stringify(pick(strings));
    case 'bool':
      return rnd() < 0.5 ? 'true' : 'false';
    case 'timestamp':
      return JSON.stringify(Math.round(rnd() * 2e12));
  }
}

/** `record` as the Redis adapter reads it back when it stored the value lengths before the JSON. */
function storedWithLengths(record: OnlineRecordJson | null): OnlineRecordJson | null {
  if (record === null) return null;
  const values = JSON.parse(Buffer.from(record.valuesJson).toString('utf8')) as JsonArrayValue[];
  const stored = Buffer.from(`${record.eventTimestamp}::${jsonArrayWithLengths(values)}`);
  const from = stored.indexOf('::') + 2;
  const to = valueLengthsEnd(stored, from);
  const valuesJson = stored.subarray(to);
  // The stored JSON is the same text: only the lengths are new.
  expect(Buffer.compare(valuesJson, record.valuesJson)).toBe(0);
  return new JsonRecord(record.eventTimestamp, record.created, valuesJson, stored, from, to);
}

describe('onlineResponseJson', () => {
  it('answers exactly what decoding and printing every value answered', () => {
    const buffers = new AnswerBuffers(1 << 20, 1 << 20, 0);
    const rnd = random(42);
    const plans = [
      planRetrieval(
        repo,
        {
          features: [
            'mixed:int64_1',
            'pair:rate',
            'mixed:float64_0',
            'mixed:string_2',
            'mixed:bool_3',
            'mixed:timestamp_4',
            'pair:trips',
          ],
        },
        'online',
      ),
      planRetrieval(
        repo,
        { features: ['pair:trips', 'mixed:timestamp_4', 'mixed:float64_0'], fullFeatureNames: true },
        'online',
      ),
      planRetrieval(repo, { features: ['mixed:string_2'] }, 'online'),
    ];
    for (let round = 0; round < 200; round++) {
      const plan = plans[round % plans.length]!;
      const n = Math.floor(rnd() * 12);
      const keyNames =
        round % 2 === 0 ? plan.joinKeys.map((k) => k.name) : plan.joinKeys.map((k) => k.name).reverse();
      const keyColumns = new Map<string, KeyValue[]>(
        plan.joinKeys.map((k) => [
          k.name,
          Array.from(
            { length: n },
            (_, i): KeyValue =>
              k.type === 'int64' ? (i % 3 === 0 ? 9007199254740993n + BigInt(i) : BigInt(i)) : `c,"${i}"`,
          ),
        ]),
      );
      const stored = plan.views.map((view) =>
        Array.from({ length: n }, (): OnlineRecordJson | null => {
          const r = rnd();
          if (r < 0.15) return null;
          // Some past the ttl; some written before features were appended (shorter arrays).
          const age =
            r < 0.3 ? DAY + Math.floor(rnd() * 1000) : r < 0.35 ? DAY : Math.floor(rnd() * 3_600_000);
          const features = view.layout.features;
          const kept = r > 0.9 ? Math.floor(rnd() * features.length) : features.length;
          const values = features.slice(0, kept).map((f) => storedValue(f.type, rnd));
          return new JsonRecord(NOW - age, rnd() < 0.5 ? null : NOW, Buffer.from(`[${values.join(',')}]`));
        }),
      );
      // Through reused buffers, as the route writes them: what an earlier, longer answer left in
      // a buffer never shows in a later one.
      const answer = onlineResponseJson(plan, keyNames, keyColumns, stored, n, NOW, buffers);
      const actual = answer.bytes.toString('utf8');
      answer.release();
      expect(actual).toBe(reference(plan, keyNames, keyColumns, stored, n, NOW));
      expect(() => JSON.parse(actual)).not.toThrow();
      // The same records with their value lengths stored (no scan): the same bytes.
      const withLengths = stored.map((records) => records.map(storedWithLengths));
      expect(onlineResponseJson(plan, keyNames, keyColumns, withLengths, n, NOW).bytes.toString('utf8')).toBe(
        actual,
      );
    }
  });

  it('answers int64 values stored in other spellings as decoding them would', () => {
    const plan = planRetrieval(repo, { features: ['pair:trips'] }, 'online');
    const spellings = [
      '"007"',
      '"-0"',
      '"0"',
      '"+5"',
      '12',
      '"00009007199254740993"',
      '"9007199254740991"',
      '"-9007199254740992"',
    ];
    const stored = [spellings.map((s): OnlineRecordJson => new JsonRecord(NOW, null, Buffer.from(`[${s}]`)))];
    const keyColumns = new Map<string, KeyValue[]>([
      ['city', spellings.map(() => 'x')],
      ['driver_id', spellings.map(() => 1n)],
    ]);
    const n = spellings.length;
    const body = onlineResponseJson(plan, ['city', 'driver_id'], keyColumns, stored, n, NOW).bytes.toString(
      'utf8',
    );
    expect(body).toBe(reference(plan, ['city', 'driver_id'], keyColumns, stored, n, NOW));
    expect(JSON.parse(body).results[2].values).toEqual([
      7,
      0,
      0,
      5,
      12,
      '9007199254740993',
      9007199254740991,
      '-9007199254740992',
    ]);
  });

  it('answers values longer than the answer was sized for (the buffer grows)', () => {
    // The answer is sized from the average value scanned; only the long one is asked for.
    const plan = planRetrieval(repo, { features: ['mixed:string_2', 'mixed:float64_0'] }, 'online');
    const n = 40;
    const stored = [
      Array.from({ length: n }, (_, i): OnlineRecordJson | null =>
        i % 7 === 3
          ? null
          : new JsonRecord(
              NOW - i,
              null,
              Buffer.from(JSON.stringify([i, String(i), `é${'x'.repeat(500 + i)}`])),
            ),
      ),
    ];
    const keyColumns = new Map<string, KeyValue[]>([
      ['driver_id', Array.from({ length: n }, (_, i) => BigInt(i))],
    ]);
    const body = onlineResponseJson(plan, ['driver_id'], keyColumns, stored, n, NOW).bytes.toString('utf8');
    expect(body).toBe(reference(plan, ['driver_id'], keyColumns, stored, n, NOW));
    const withLengths = [stored[0]!.map(storedWithLengths)];
    expect(
      onlineResponseJson(plan, ['driver_id'], keyColumns, withLengths, n, NOW).bytes.toString('utf8'),
    ).toBe(body);
  });

  it('fails with TRIB_INTERNAL on a stored value it cannot read', () => {
    const plan = planRetrieval(repo, { features: ['pair:trips', 'pair:rate'] }, 'online');
    const keyColumns = new Map<string, KeyValue[]>([
      ['city', ['x']],
      ['driver_id', [1n]],
    ]);
    const bare = (text: string): OnlineRecordJson => new JsonRecord(NOW, null, Buffer.from(text));
    // Stored lengths that do not fit their array (2 and 1 bytes for `[1,23]`) fail alike.
    const withBadLengths = Buffer.from('1:2:121[1,23]');
    const unreadable: [string, OnlineRecordJson][] = [
      ['[1,2', bare('[1,2')],
      ['["1.5",2]', bare('["1.5",2]')],
      ['nope', bare('nope')],
      ['lengths 2, 1 of [1,23]', new JsonRecord(NOW, null, withBadLengths.subarray(7), withBadLengths, 4, 7)],
    ];
    for (const [label, record] of unreadable) {
      const stored = [[record]];
      let error: unknown;
      try {
        onlineResponseJson(plan, ['driver_id', 'city'], keyColumns, stored, 1, NOW).bytes.toString('utf8');
      } catch (e) {
        error = e;
      }
      expect(isTributaryError(error, 'TRIB_INTERNAL'), label).toBe(true);
    }
  });

  it('writes decoded records (stores without readJson) as the Redis adapter stores them', () => {
    const record = jsonRecordOf({
      eventTimestamp: 1,
      created: 2,
      values: [0.5, 9007199254740993n, 'a,"b"', true, null],
    });
    expect([record.eventTimestamp, record.created, record.lengths]).toEqual([1, 2, null]);
    expect(Buffer.from(record.valuesJson).toString('utf8')).toBe(
      '[0.5,"9007199254740993","a,\\"b\\"",true,null]',
    );
  });
});
