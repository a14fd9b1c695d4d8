import { loadConfig } from '../../shared/config.ts';
import { displayPath, loadRepo } from '../../shared/definitions/load.ts';
import { planRepo } from '../../shared/registry/apply.ts';
import { formatPlan } from '../../shared/registry/format.ts';
import { PostgresRegistry } from '../../shared/registry/postgres.ts';
import { formatTopicPlan, planTopics, type TopicPlan } from '../../shared/registry/topics.ts';
import { openEventStream } from '../../shared/stream/index.ts';
import type { EventStream, StreamAdmin } from '../../shared/stream/port.ts';
import type { Command } from '../command.ts';
import {
  REGISTRY_OPTIONS,
  REGISTRY_OPTIONS_HELP,
  registrySchema,
  reportError,
  withOptions,
} from '../options.ts';

const OPTIONS = {
  ...REGISTRY_OPTIONS,
  'skip-topics': { type: 'boolean', default: false },
} as const;

export const planCommand: Command = {
  name: 'plan',
  summary: 'Show what apply would change in the registry, stores and topics (changes nothing)',
  help: `Usage: tributary plan [options]

Loads the feature repository, validates it, and prints its difference from the registry's
current version: objects added, changed and removed, which changes break readers or stored
data (a feature's type, a view's entities or join keys, a removed feature or view), what
happens to offline tables. Then asks Kafka about the repository's topics: those apply would
create, with their partitions (a source's declared count, default 6; 1 for dead-letter,
drift, retrain and prediction topics), and each existing topic whose
partition count, or declared replication factor, differs. Apply leaves such a topic as it
is (unless 'apply --add-partitions' grows one with too few partitions). Changes nothing.

Options:
${REGISTRY_OPTIONS_HELP}
  --skip-topics              do not ask Kafka (no KAFKA_BROKERS reachable, e.g. in CI):
                             the plan then lists topics new to the registry, unchecked
  -h, --help                 show this help

Environment: DATABASE_URL (the registry), TRIBUTARY_REPO, TRIBUTARY_REGISTRY_SCHEMA,
TRIBUTARY_WEBHOOK_URL (read by the example repository's monitor), TRIBUTARY_DEBUG (set: a failure prints its stack).

Examples:
  tributary plan
  tributary plan --repo ./my-features
  tributary plan --skip-topics
  tributary plan --json | jq '.topics.differ[] | .note'
  tributary plan --json | jq '.changes[] | select(.breaking | length > 0)'`,

  run: withOptions('plan', OPTIONS, async (values) => {
    let registry: PostgresRegistry | undefined;
    let stream: EventStream | undefined;
    let admin: StreamAdmin | undefined;
    try {
      const config = loadConfig();
      const dir = values.repo ?? config.repoPath;
      const spec = await loadRepo(dir);
      registry = new PostgresRegistry({
        connectionString: config.databaseUrl,
        schema: registrySchema(values['registry-schema']),
      });
      const plan = await planRepo(registry, spec);
      // Kafka is asked, not assumed: a topic made by hand, or by an older apply with one
      // partition, differs from the registry's picture. Unreachable, plan fails
      // (TRIB_STREAM_UNAVAILABLE) rather than print a topic check it did not make.
      let topics: TopicPlan | null = null;
      if (!values['skip-topics']) {
        stream = openEventStream(config.kafkaBrokers);
        admin = await stream.admin();
        topics = await planTopics(spec, admin);
      }
      if (values.json) console.log(JSON.stringify({ ...plan, topics }, null, 2));
      else {
        const from = plan.from
          ? `version ${plan.from.version} (sha256 ${plan.from.hash.slice(0, 12)})`
          : 'empty';
        console.log(`Registry ${registry.schema}: ${from}`);
        console.log(`Repository ${displayPath(dir)}: sha256 ${plan.hash.slice(0, 12)}`);
        console.log('');
        // With Kafka asked, its answer replaces the registry's guess at which topics are new.
        const lines = formatPlan(topics ? { ...plan, newTopics: [] } : plan, displayPath(dir));
        for (const line of lines) console.log(line);
        if (topics) {
          console.log('');
          for (const line of formatTopicPlan(topics)) console.log(line);
        }
      }
      return 0;
    } catch (error) {
      return reportError('plan', error);
    } finally {
      await registry?.close().catch(() => undefined);
      await admin?.close().catch(() => undefined);
      await stream?.close().catch(() => undefined);
    }
  }),
};
