/**
 * POST /predictions on real Kafka: rows become the monitor's prediction events on the model's
 * prediction topic, checked with the monitor's decoder first; a bad row refuses the whole request
 * with nothing produced; an unknown model and a lost broker connection are coded errors. The topic
 * is read back at the end to check exactly which messages were produced.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MonitorSpec, RepoSpec } from '../../../shared/definitions/types.ts';
import { decodePrediction } from '../../../shared/monitoring/prediction-decode.ts';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { IncomingMessage, StreamAdmin, StreamProducer } from '../../../shared/stream/port.ts';
import { OwnBroker } from '../../support/chaos.ts';
import { services, uniqueName } from '../../support/env.ts';
import { type Harness, harness, servingSpec } from './support.ts';

function monitorSpec(name: string, model: string, topic: string): MonitorSpec {
  return {
    kind: 'monitor',
    name,
    model,
    predictionTopic: topic,
    features: ['driver_hourly_stats:conv_rate', 'driver_hourly_stats:avg_daily_trips'],
    monitorPrediction: true,
    window: { rows: 100 },
    overrides: {},
    datasetDriftThreshold: 0.5,
    retrain: null,
    webhooks: [],
  };
}

describe('serving: POST /predictions (Kafka)', () => {
  let h: Harness;
  let stream: KafkaEventStream;
  let admin: StreamAdmin;
  let producer: StreamProducer;
  const topic = uniqueName('predictions_driver');
  const otherTopic = uniqueName('predictions_other');
  const spec: RepoSpec = {
    ...servingSpec(uniqueName('predictions_src')),
    monitors: [
      monitorSpec('driver_model', 'driver_model', topic),
      monitorSpec('fraud_model', 'fraud_model', otherTopic),
    ],
  };
  /** Every event the tests expect on `topic`, in order. */
  const produced: Record<string, unknown>[] = [];

  beforeAll(async () => {
    stream = new KafkaEventStream(services().KAFKA_BROKERS.split(','));
    admin = await stream.admin();
    await admin.ensureTopics([{ topic }, { topic: otherTopic }]);
    producer = await stream.producer();
    h = await harness(uniqueName('serving_predictions'), { producer }, spec);
  });
  afterAll(async () => {
    await h?.close();
    await producer?.close();
    await admin?.deleteTopics([topic, otherTopic]).catch(() => undefined);
    await admin?.close();
  });

  const post = (payload: unknown) =>
    h.app.inject({ method: 'POST', url: '/predictions', payload: payload as object });

  it("produces every row as a prediction event to the model's topic", async () => {
    const rows = [
      {
        prediction_id: 'p-1',
        event_timestamp: '2026-11-20T10:00:00Z',
        features: { conv_rate: 0.4, avg_daily_trips: 12 },
        prediction: 0.71,
      },
      {
        prediction_id: 'p-2',
        event_timestamp: 1795687200000,
        features: { conv_rate: null },
        prediction: 0.2,
      },
      // Repeating the request's model is allowed; extra fields travel as the monitor ignores them.
      {
        prediction_id: 7,
        model: 'driver_model',
        event_timestamp: '2026-11-20T10:00:02+01:00',
        features: {},
        prediction: null,
        label: 1,
      },
    ];
    const res = await post({ model: 'driver_model', model_version: '3', rows });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', rows: 3, topics: [topic] });
    for (const row of rows) produced.push({ ...row, model: 'driver_model', model_version: '3' });
    expect(await admin.topicSize(otherTopic)).toBe(0);
  });

  it('refuses the whole request when one row is bad, naming the row and field; nothing is produced', async () => {
    const before = await admin.topicSize(topic);
    const good = {
      prediction_id: 'ok',
      event_timestamp: '2026-11-20T10:00:00Z',
      features: {},
      prediction: 1,
    };
    const cases: [unknown, string, RegExp][] = [
      [
        { ...good, features: { conv_rate: { nested: 1 } } },
        'TRIB_WRONG_TYPE',
        /^rows\[1\] \(field features\.conv_rate\)/,
      ],
      [
        { ...good, prediction_id: undefined },
        'TRIB_MISSING_FIELD',
        /^rows\[1\] \(field prediction_id\): prediction_id is missing/,
      ],
      [
        { ...good, event_timestamp: 'yesterday' },
        'TRIB_BAD_TIMESTAMP',
        /^rows\[1\] \(field event_timestamp\)/,
      ],
      [{ ...good, prediction: undefined }, 'TRIB_MISSING_FIELD', /^rows\[1\] \(field prediction\)/],
      [
        { ...good, features: [1, 2] },
        'TRIB_WRONG_TYPE',
        /^rows\[1\] \(field features\): features is an array/,
      ],
      ['p-2', 'TRIB_NOT_AN_OBJECT', /^rows\[1\] is string, not a JSON object/],
      [
        { ...good, model_version: '4' },
        'TRIB_BAD_REQUEST',
        /^rows\[1\]\.model_version is "4", but the request is for model_version "3"/,
      ],
    ];
    for (const [bad, code, message] of cases) {
      const res = await post({ model: 'driver_model', model_version: '3', rows: [good, bad, good] });
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().error.code).toBe(code);
      expect(res.json().error.message).toMatch(message);
    }
    const empty = await post({ model: 'driver_model', model_version: '3', rows: [] });
    expect(empty.statusCode).toBe(400);
    expect(empty.json().error).toEqual({ code: 'TRIB_BAD_REQUEST', message: 'rows is empty' });
    const unknownField = await post({ model: 'driver_model', model_version: '3', rows: [good], extra: 1 });
    expect(unknownField.statusCode).toBe(400);
    expect(unknownField.json().error.code).toBe('TRIB_BAD_REQUEST');
    expect(await admin.topicSize(topic)).toBe(before);
  });

  it('answers 404 TRIB_NOT_FOUND for a model no monitor is declared for', async () => {
    const res = await post({
      model: 'nobody',
      model_version: 1,
      rows: [{ prediction_id: 'x', event_timestamp: 0, features: {}, prediction: 1 }],
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe('TRIB_NOT_FOUND');
    expect(res.json().error.message).toContain("no monitor is declared for model 'nobody'");
    expect(res.json().error.message).toContain('driver_model, fraud_model');
  });

  it("sends another model's predictions to its own monitor's topic", async () => {
    const row = {
      prediction_id: 'f-1',
      event_timestamp: 1795687200000,
      features: { conv_rate: 0.1 },
      prediction: 1,
    };
    const res = await post({ model: 'fraud_model', model_version: 2, rows: [row] });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', rows: 1, topics: [otherTopic] });
    expect(await admin.topicSize(otherTopic)).toBe(1);
  });

  /**
   * POSTs one prediction to an app whose producer is `producer`; expects a 503 and the shared
   * topic unchanged, and returns the error body.
   */
  async function refusedThrough(producer: StreamProducer, predictionId: string) {
    const down = await harness(uniqueName('serving_predictions_down'), { producer }, spec);
    try {
      const before = await admin.topicSize(topic);
      const res = await down.app.inject({
        method: 'POST',
        url: '/predictions',
        payload: {
          model: 'driver_model',
          model_version: '3',
          rows: [{ prediction_id: predictionId, event_timestamp: 0, features: {}, prediction: 1 }],
        },
      });
      expect(res.statusCode, res.body).toBe(503);
      expect(await admin.topicSize(topic)).toBe(before);
      return res.json().error as { code: string; message: string };
    } finally {
      await down.close();
    }
  }

  it('answers 503 TRIB_STREAM_UNAVAILABLE when the producer has lost Kafka', async () => {
    // A broker of the test's own, stopped under a live producer (the shared one stays up).
    const broker = await new OwnBroker().start();
    const ownStream = new KafkaEventStream([broker.brokers]);
    const ownAdmin = await ownStream.admin();
    await ownAdmin.ensureTopics([{ topic }]);
    await ownAdmin.close();
    const lost = await ownStream.producer();
    await lost.send(topic, [{ key: 'warm', value: 'up' }]);
    await broker.stop();
    try {
      const error = await refusedThrough(lost, 'lost');
      expect(error.code).toBe('TRIB_STREAM_UNAVAILABLE');
      expect(error.message).toContain(`could not produce to '${topic}'`);
    } finally {
      await lost.close();
      await ownStream.close();
      await broker.destroy();
    }
  }, 120_000);

  it('answers 503 TRIB_SHUTTING_DOWN once its producer is closed, producing nothing', async () => {
    const closed = await stream.producer();
    await closed.close();
    expect((await refusedThrough(closed, 'closed')).code).toBe('TRIB_SHUTTING_DOWN');
  });

  it('leaves exactly the accepted rows on the topic, each one the monitor decodes', async () => {
    const consumer = await stream.consumer({
      groupId: uniqueName('predictions_reader'),
      topics: [topic],
      start: { from: 'beginning' },
    });
    const messages: IncomingMessage[] = [];
    try {
      await consumer.run(async (batch) => {
        messages.push(...batch.messages);
      });
      await expect.poll(() => messages.length, { timeout: 20_000 }).toBe(produced.length);
    } finally {
      await consumer.close();
    }
    expect(await admin.topicSize(topic)).toBe(produced.length);
    expect(messages.map((m) => JSON.parse(m.value!.toString()))).toEqual(produced);
    expect(messages.map((m) => m.key?.toString())).toEqual(['p-1', 'p-2', '7']);
    const decoded = messages.map((m) =>
      decodePrediction(m.value, ['conv_rate', 'avg_daily_trips', 'prediction']),
    );
    expect(
      decoded.map((d) =>
        d.ok ? [d.prediction.predictionId, d.prediction.eventTime, d.prediction.values] : d,
      ),
    ).toEqual([
      ['p-1', Date.parse('2026-11-20T10:00:00Z'), [0.4, 12, 0.71]],
      ['p-2', 1795687200000, [null, null, 0.2]],
      ['7', Date.parse('2026-11-20T09:00:02Z'), [null, null, null]],
    ]);
  });
});
