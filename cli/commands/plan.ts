import { loadConfig } from '../../shared/config.ts';
import { displayPath, loadRepo } from '../../shared/definitions/load.ts';
import { planRepo } from '../../shared/registry/apply.ts';
import { formatPlan } from '../../shared/registry/format.ts';
import { PostgresRegistry } from '../../shared/registry/postgres.ts';
import type { Command } from '../command.ts';
import {
  REGISTRY_OPTIONS,
  REGISTRY_OPTIONS_HELP,
  registrySchema,
  reportError,
  withOptions,
} from '../options.ts';

export const planCommand: Command = {
  name: 'plan',
  summary: 'Show what apply would change in the registry, stores and topics (changes nothing)',
  help: `Usage: tributary plan [options]

Loads the feature repository, validates it, and prints its difference from the registry's
current version: objects added, changed and removed, which changes break readers or stored
data (a feature's type, a view's entities or join keys, a removed feature or view), what
happens to offline tables, and which topics apply would create. Changes nothing.

Options:
${REGISTRY_OPTIONS_HELP}
  -h, --help                 show this help

Environment: DATABASE_URL (the registry), TRIBUTARY_REPO, TRIBUTARY_REGISTRY_SCHEMA,
TRIBUTARY_WEBHOOK_URL (read by the example repository's monitor), TRIBUTARY_DEBUG (set: a failure prints its stack).

Examples:
  tributary plan
  tributary plan --repo ./my-features
  tributary plan --json | jq '.changes[] | select(.breaking | length > 0)'`,

  run: withOptions('plan', REGISTRY_OPTIONS, async (values) => {
    let registry: PostgresRegistry | undefined;
    try {
      const config = loadConfig();
      const dir = values.repo ?? config.repoPath;
      const spec = await loadRepo(dir);
      registry = new PostgresRegistry({
        connectionString: config.databaseUrl,
        schema: registrySchema(values['registry-schema']),
      });
      const plan = await planRepo(registry, spec);
      if (values.json) console.log(JSON.stringify(plan, null, 2));
      else {
        const from = plan.from
          ? `version ${plan.from.version} (sha256 ${plan.from.hash.slice(0, 12)})`
          : 'empty';
        console.log(`Registry ${registry.schema}: ${from}`);
        console.log(`Repository ${displayPath(dir)}: sha256 ${plan.hash.slice(0, 12)}`);
        console.log('');
        for (const line of formatPlan(plan, displayPath(dir))) console.log(line);
      }
      return 0;
    } catch (error) {
      return reportError('plan', error);
    } finally {
      await registry?.close().catch(() => undefined);
    }
  }),
};
