/**
 * Topics' partition counts through `tributary apply` and `tributary plan`, on the real test
 * Kafka and Postgres: apply creates a source topic with 6 partitions by default (and what a
 * source declares); plan lists the topics apply would create and each existing topic whose
 * count differs; apply leaves such a topic alone with a warning, and grows it only with
 * --add-partitions; a replication factor the cluster cannot hold records nothing.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaEventStream } from '../../../shared/stream/kafka.ts';
import type { StreamAdmin } from '../../../shared/stream/port.ts';
import { cleanUpCli, cliEnv, exampleRepo, runCli } from '../../support/cli.ts';
import { services, uniqueName } from '../../support/env.ts';

const brokers = services().KAFKA_BROKERS.split(',');
let admin: StreamAdmin;
let clusterSize = 0;
const cleanups: Parameters<typeof cleanUpCli>[0][] = [];

/** A fresh copy of the example repository, its own registry and offline schemas, its own topics. */
async function repo(label: string) {
  const prefix = uniqueName(`parts_${label}`);
  const dir = await exampleRepo(prefix);
  const schema = uniqueName(`reg_${label}`);
  const offline = uniqueName(`off_${label}`);
  cleanups.push({ dir, schemas: [schema, offline], topicPrefix: prefix });
  const file = path.join(dir, 'driver.ts');
  return {
    source: `${prefix}.driver_stats`,
    predictions: `${prefix}.predictions`,
    run: (...args: string[]) => {
      const offlineArgs = args[0] === 'apply' ? ['--offline-schema', offline] : [];
      return runCli(
        [...args, ...offlineArgs, '--repo', dir, '--registry-schema', schema],
        cliEnv({ TRIBUTARY_APPLIED_BY: 'partitions@test' }),
      );
    },
    /** Adds `text` to the driver stats source's declaration. */
    declare: async (text: string) => {
      const before = await readFile(file, 'utf8');
      const after = before.replace("  createdField: 'created',\n", `  createdField: 'created',\n  ${text}\n`);
      expect(after).not.toBe(before);
      await writeFile(file, after);
    },
    file,
  };
}

const partitionsOf = async (topic: string) => (await admin.describeTopics([topic]))[0]?.partitions;

beforeAll(async () => {
  admin = await new KafkaEventStream(brokers).admin();
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await kafka.connect();
  clusterSize = (await kafka.describeCluster()).brokers.length;
  await kafka.disconnect();
});

afterAll(async () => {
  await admin.close();
  for (const c of cleanups) await cleanUpCli(c);
});

// Each step is a CLI process of a few seconds on a busy machine; the mismatch case runs eight.
describe('partitions through apply and plan', { timeout: 180_000 }, () => {
  it('apply creates a source topic with 6 partitions by default, 1 for its dead letters and predictions', async () => {
    const r = await repo('default');
    const plan = await r.run('plan');
    expect(plan.stderr).toBe('');
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(`  + ${r.source}: 6 partitions (kafkaSource 'driver_stats_source')`);
    expect(plan.stdout).toContain(
      `  + ${r.source}.dlq: 1 partition (dead letters of kafkaSource 'driver_stats_source')`,
    );
    expect(plan.stdout).not.toContain('Topics to create if missing');

    const apply = await r.run('apply');
    expect(apply.stderr).toBe('');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain(`created topic ${r.source} (6 partitions)`);
    expect(apply.stdout).not.toContain('Topics to create if missing');
    expect(await admin.describeTopics([r.source, `${r.source}.dlq`, r.predictions])).toEqual([
      { topic: r.source, partitions: 6, replicationFactor: Math.min(3, clusterSize) },
      { topic: `${r.source}.dlq`, partitions: 1, replicationFactor: Math.min(3, clusterSize) },
      { topic: r.predictions, partitions: 1, replicationFactor: Math.min(3, clusterSize) },
    ]);

    const after = await r.run('plan');
    expect(after.code).toBe(0);
    expect(after.stdout).toContain('Topics: all exist as declared.');
  });

  it('apply creates a source topic with its declared partitions', async () => {
    const r = await repo('declared');
    await r.declare('partitions: 3,');
    const apply = await r.run('apply', '--json');
    expect(apply.code).toBe(0);
    expect(JSON.parse(apply.stdout)).toMatchObject({ createdTopics: expect.arrayContaining([r.source]) });
    expect(await partitionsOf(r.source)).toBe(3);
  });

  it('plan and apply show a pre-created 1-partition topic; only --add-partitions grows it', async () => {
    const r = await repo('mismatch');
    await admin.ensureTopics([{ topic: r.source, partitions: 1 }]);

    const plan = await r.run('plan');
    expect(plan.code).toBe(0);
    const mismatch = `${r.source} (kafkaSource 'driver_stats_source') has 1 partition, the default 6: left as it is; 'tributary apply --add-partitions' grows it, moving keys to other partitions`;
    expect(plan.stdout).toContain(`  ! ${mismatch}`);
    // The other topics are missing: plan says apply creates them; the existing one is not among them.
    expect(plan.stdout).toContain(`  + ${r.source}.dlq: 1 partition`);
    expect(plan.stdout).not.toContain(`  + ${r.source}: `);

    const json = JSON.parse((await r.run('plan', '--json')).stdout) as {
      topics: { create: { topic: string }[]; differ: unknown[] };
    };
    expect(json.topics.differ).toEqual([
      {
        topic: r.source,
        usedBy: "kafkaSource 'driver_stats_source'",
        field: 'partitions',
        wanted: 6,
        actual: 1,
        declared: false,
        action: 'keep',
        note: mismatch,
      },
    ]);
    expect(json.topics.create.map((t) => t.topic)).not.toContain(r.source);

    const apply = await r.run('apply');
    expect(apply.code).toBe(0);
    expect(apply.stdout).toContain(`warning: ${mismatch}`);
    expect(await partitionsOf(r.source)).toBe(1);

    // A declared count is named as declared.
    await r.declare('partitions: 4,');
    const declared = await r.run('plan');
    expect(declared.stdout).toContain(
      `  ! ${r.source} (kafkaSource 'driver_stats_source') has 1 partition, declared 4: left as it is;`,
    );

    const grown = await r.run('apply', '--add-partitions');
    expect(grown.code).toBe(0);
    expect(grown.stdout).toContain(
      `${r.source} (kafkaSource 'driver_stats_source') has 1 partition, declared 4: adding 3 (keys move to other partitions`,
    );
    expect(await partitionsOf(r.source)).toBe(4);

    // More partitions than declared: Kafka cannot remove them; apply says so and changes nothing.
    const file = await readFile(r.file, 'utf8');
    await writeFile(r.file, file.replace('partitions: 4,', 'partitions: 2,'));
    const fewer = await r.run('apply', '--add-partitions');
    expect(fewer.code).toBe(0);
    expect(fewer.stdout).toContain(
      `warning: ${r.source} (kafkaSource 'driver_stats_source') has 4 partitions, declared 2: left as it is; Kafka cannot remove partitions`,
    );
    expect(await partitionsOf(r.source)).toBe(4);
  });

  it('refuses a replication factor above the cluster size, creating and recording nothing', async () => {
    const r = await repo('rf');
    await r.declare(`replicationFactor: ${clusterSize + 1},`);
    const apply = await r.run('apply');
    expect(apply.code).toBe(1);
    expect(apply.stderr.trim()).toBe(
      `tributary apply: TRIB_STREAM_REFUSED: cannot create ${r.source} (replication factor ${clusterSize + 1}), ${r.source}.dlq (replication factor ${clusterSize + 1}): the cluster has ${clusterSize} broker${clusterSize === 1 ? '' : 's'}, and each replica needs its own; declare a smaller replicationFactor or add brokers`,
    );
    expect(await admin.describeTopics([r.source, `${r.source}.dlq`, r.predictions])).toEqual([]);
    const plan = JSON.parse((await r.run('plan', '--json')).stdout) as { from: unknown };
    expect(plan.from).toBeNull();
  });

  it('refuses an invalid partition count naming file, object and field', async () => {
    const r = await repo('invalid');
    await r.declare('partitions: 0,');
    const plan = await r.run('plan');
    expect(plan.code).toBe(1);
    expect(plan.stderr.trim()).toBe(
      `tributary plan: TRIB_DEFINITION_INVALID: ${r.file}: kafkaSource 'driver_stats_source': field 'partitions': expected an integer from 1 to 10000, got 0`,
    );
  });

  it('plan --skip-topics plans without Kafka', async () => {
    const r = await repo('skip');
    const result = await runCli(
      [
        'plan',
        '--skip-topics',
        '--json',
        '--repo',
        path.dirname(r.file),
        '--registry-schema',
        uniqueName('reg_skip'),
      ],
      cliEnv({ KAFKA_BROKERS: '127.0.0.1:1' }),
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      topics: null,
      newTopics: expect.arrayContaining([r.source]),
    });
  });
});
