import { loadConfig } from '../../shared/config.ts';
import { displayPath, loadRepo } from '../../shared/definitions/load.ts';
import { createPool, type PgPool } from '../../shared/postgres/index.ts';
import { applyRepo } from '../../shared/registry/apply.ts';
import { formatPlan } from '../../shared/registry/format.ts';
import { PostgresRegistry } from '../../shared/registry/postgres.ts';
import { PostgresOfflineStore } from '../../shared/stores/offline/postgres/index.ts';
import { openEventStream } from '../../shared/stream/index.ts';
import type { EventStream, StreamAdmin } from '../../shared/stream/port.ts';
import type { Command } from '../command.ts';
import {
  OFFLINE_SCHEMA,
  REGISTRY_OPTIONS,
  REGISTRY_OPTIONS_HELP,
  registrySchema,
  reportError,
  withOptions,
} from '../options.ts';

const OPTIONS = {
  ...REGISTRY_OPTIONS,
  'allow-breaking': { type: 'boolean', default: false },
  'add-partitions': { type: 'boolean', default: false },
  ...OFFLINE_SCHEMA.option,
} as const;

export const applyCommand: Command = {
  name: 'apply',
  summary: 'Create topics and offline tables for the feature repository and record it in the registry',
  help: `Usage: tributary apply [options]

Loads and validates the feature repository, then, holding the registry's lock:
  - creates missing Kafka topics: each Kafka source's topic with its declared partitions
    (default 6) and replicationFactor (default min(3, brokers)), its <topic>.dlq,
    tributary.drift, tributary.retrain and each monitor's prediction topic (1 partition each);
  - warns about each existing topic whose partition count (or declared replication factor)
    differs, and leaves it as it is: growing a topic moves keys to other partitions, so it
    happens only with --add-partitions, and Kafka cannot remove partitions;
  - creates or extends each offline feature view's table; a removed view's table, or one
    whose types or join keys change, is archived (renamed aside), never dropped;
  - records the repository as a new registry version, which running services pick up
    without a restart.
Applying an unchanged repository records nothing and says so. Changes that break readers
or stored data are refused unless --allow-breaking is given; run 'tributary plan' first.
A webhook names the environment variable of its signing key (secretEnv), read by the monitor;
a literal secret is refused. Every apply removes the literal secrets that versions recorded
before secretEnv still hold.

Options:
${REGISTRY_OPTIONS_HELP}
  --allow-breaking           apply breaking changes (changed types or join keys, removed features or views)
  --add-partitions           grow existing topics with fewer partitions than declared (keys move
                             to other partitions: a key's next events may be read before its last ones)
${OFFLINE_SCHEMA.help}
  -h, --help                 show this help

Environment: DATABASE_URL, KAFKA_BROKERS, TRIBUTARY_KAFKA_CLIENT, TRIBUTARY_REPO, TRIBUTARY_APPLIED_BY (default user@host),
TRIBUTARY_WEBHOOK_URL (read by the example repository's monitor, which names
TRIBUTARY_WEBHOOK_SECRET as its webhook's secretEnv), TRIBUTARY_PG_POOL_MAX (Postgres
connections, default 10), TRIBUTARY_REGISTRY_SCHEMA, TRIBUTARY_DEBUG (set: a failure prints its stack).

Examples:
  tributary apply
  tributary apply --repo ./my-features --allow-breaking
  tributary apply --add-partitions
  TRIBUTARY_APPLIED_BY=ci@pipeline tributary apply --json`,

  run: withOptions('apply', OPTIONS, async (values) => {
    // Progress goes to stderr so --json keeps stdout machine-readable.
    const say = (line: string) => (values.json ? console.error(line) : console.log(line));
    let registry: PostgresRegistry | undefined;
    let offline: PostgresOfflineStore | undefined;
    let stream: EventStream | undefined;
    let admin: StreamAdmin | undefined;
    let pool: PgPool | undefined;
    try {
      const config = loadConfig();
      const dir = values.repo ?? config.repoPath;
      const spec = await loadRepo(dir);
      // One pool for the registry and the offline store: the apply holds the registry's lock on
      // one connection while the offline store creates or archives tables on another.
      pool = createPool({
        connectionString: config.databaseUrl,
        max: config.pgPoolMax,
        applicationName: 'tributary-apply',
      });
      registry = new PostgresRegistry({
        connectionString: config.databaseUrl,
        pool,
        schema: registrySchema(values['registry-schema']),
      });
      offline = new PostgresOfflineStore({
        pool,
        ...OFFLINE_SCHEMA.of(values['offline-schema']),
      });
      stream = openEventStream(config.kafkaBrokers);
      admin = await stream.admin();
      say(`Applying ${displayPath(dir)} to registry ${registry.schema}…`);
      const result = await applyRepo(
        spec,
        { registry, offline, admin, progress: (line) => say(`  ${line}`) },
        {
          allowBreaking: values['allow-breaking'],
          addPartitions: values['add-partitions'],
        },
      );
      if (values.json) {
        console.log(JSON.stringify(result, null, 2));
        return 0;
      }
      if (!result.changed) {
        say(
          `No changes: ${displayPath(dir)} matches registry version ${result.version.version}; nothing recorded.`,
        );
        return 0;
      }
      say('');
      // The progress lines said which topics were created and which differ: the registry's
      // guess at new topics (some may have existed) would only contradict them.
      for (const line of formatPlan({ ...result.plan, newTopics: [] }, displayPath(dir))) say(line);
      say('');
      say(
        `Applied: registry version ${result.version.version} (sha256 ${result.version.hash.slice(0, 12)}) by ${result.version.appliedBy}.`,
      );
      return 0;
    } catch (error) {
      return reportError('apply', error);
    } finally {
      await Promise.all([
        registry?.close().catch(() => undefined),
        offline?.close().catch(() => undefined),
        admin?.close().catch(() => undefined),
      ]);
      await stream?.close().catch(() => undefined);
      await pool?.end().catch(() => undefined);
    }
  }),
};
