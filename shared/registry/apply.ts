/**
 * `apply`: makes the stores and the stream match a repository, then records it as the
 * registry's new version, all under the registry's apply lock. Depends on ports only.
 */

import { defaultAppliedBy } from '../config.ts';
import type { RepoSpec } from '../definitions/types.ts';
import { TributaryError } from '../errors.ts';
import { viewLayout } from '../model/layout.ts';
import type { OfflineStore } from '../stores/offline/port.ts';
import type { StreamAdmin } from '../stream/port.ts';
import { type Plan, planChanges } from './plan.ts';
import type { RegistryStore, RegistryVersionInfo } from './port.ts';
import { applyTopics, type TopicPlan } from './topics.ts';

export interface ApplyDeps {
  registry: RegistryStore;
  offline: OfflineStore;
  admin: StreamAdmin;
  /** Called with one line per step, for the CLI's progress output. */
  progress?: (line: string) => void;
}

export interface ApplyOptions {
  /** Apply changes that break readers or stored data (changed types or join keys, removed fields or views). */
  allowBreaking?: boolean;
  /** Who applies; default TRIBUTARY_APPLIED_BY, else `user@host`. */
  appliedBy?: string;
  /**
   * Grow existing topics with fewer partitions than the repository asks for. Off by default:
   * growing moves keys to other partitions (see shared/registry/topics.ts).
   */
  addPartitions?: boolean;
}

export interface ApplyResult {
  plan: Plan;
  /** False when the repository equals the current version: nothing was recorded. */
  changed: boolean;
  /** The version now current (the new one, or the unchanged one). */
  version: RegistryVersionInfo;
  createdTopics: string[];
  /** Missing topics and existing ones that differ from the repository, as found before applying. */
  topics: TopicPlan;
  /** Topics grown with `addPartitions`. */
  grownTopics: { topic: string; from: number; to: number }[];
  archivedTables: { view: string; table: string; reason: string }[];
  /** Views whose offline table was created or checked. */
  ensuredTables: string[];
  /** Stored rows from which literal webhook secrets (recorded before `secretEnv`) were removed. */
  scrubbedSecrets: { versions: number; objects: number };
}

/** Who is applying: TRIBUTARY_APPLIED_BY, else `user@host` (read in shared/config.ts). */
export { defaultAppliedBy };

/** Plans `spec` against the registry's current version; reads only. */
export async function planRepo(registry: RegistryStore, spec: RepoSpec): Promise<Plan> {
  return planChanges(await registry.latest(), spec);
}

/** One line per breaking change: `featureView 'x': <reason>`. */
export function breakingLines(plan: Plan): string[] {
  return plan.changes.flatMap((c) => c.breaking.map((reason) => `${c.kind} '${c.name}': ${reason}`));
}

/**
 * Refuses a spec whose webhooks carry a literal `secret`: the registry stores only the name of
 * the variable that holds it (`secretEnv`). Validation refuses it in declarations already; this
 * guards specs built by hand, so no path writes a key to the registry.
 */
function refuseLiteralSecrets(spec: RepoSpec): void {
  const lines = spec.monitors.flatMap((m) =>
    m.webhooks.flatMap((hook, i) =>
      hook.secret === undefined
        ? []
        : [
            `monitor '${m.name}': field 'webhooks[${i}].secret': a literal secret would be stored in the registry: name an environment variable with secretEnv instead`,
          ],
    ),
  );
  if (lines.length > 0) {
    throw new TributaryError('TRIB_DEFINITION_INVALID', lines.join('\n'), { details: { problems: lines } });
  }
}

/**
 * Applies a repository: creates missing topics (reporting existing ones whose partitions differ,
 * growing them with `addPartitions`), archives and creates offline tables, records
 * a new version (and notifies watchers) when anything changed. Throws TRIB_BREAKING_CHANGE,
 * changing nothing, when the plan breaks readers or data and `allowBreaking` is not set.
 */
export async function applyRepo(
  spec: RepoSpec,
  deps: ApplyDeps,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const say = deps.progress ?? (() => undefined);
  refuseLiteralSecrets(spec);
  return deps.registry.withApplyLock(async (tx) => {
    const current = await tx.latest();
    const plan = planChanges(current, spec);
    if (plan.breaking && !options.allowBreaking) {
      const lines = breakingLines(plan);
      throw new TributaryError(
        'TRIB_BREAKING_CHANGE',
        `refusing ${lines.length} breaking change${lines.length === 1 ? '' : 's'} without --allow-breaking: ${lines.join('; ')}`,
        { details: { breaking: lines } },
      );
    }

    // Topics and tables are converged on every apply, even an unchanged one: both steps are
    // idempotent, and a deleted topic or table comes back.
    // A topic with another partition count than declared is reported, and grown only on request.
    const {
      plan: topics,
      created: createdTopics,
      grown: grownTopics,
    } = await applyTopics(spec, deps.admin, {
      say,
      ...(options.addPartitions === undefined ? {} : { addPartitions: options.addPartitions }),
    });

    const archivedTables: ApplyResult['archivedTables'] = [];
    for (const action of plan.tables) {
      if (action.action !== 'archive' && action.action !== 'recreate') continue;
      const table = await deps.offline.archiveTable(action.view, action.reason);
      if (table === null) continue;
      await tx.recordArchive(action.view, table, action.reason);
      archivedTables.push({ view: action.view, table, reason: action.reason });
      say(`archived offline table of ${action.view} as ${table} (${action.reason})`);
    }

    const ensuredTables: string[] = [];
    // A stream view's table holds its raw events, from which historical retrieval aggregates.
    for (const view of [...spec.featureViews, ...(spec.streamFeatureViews ?? [])]) {
      if (!view.offline) continue;
      await deps.offline.ensureTable(viewLayout(view, spec.entities));
      ensuredTables.push(view.name);
      const action = plan.tables.find((t) => t.view === view.name);
      if (action?.action === 'create' || action?.action === 'recreate')
        say(`created offline table for ${view.name}`);
      else if (action?.action === 'alter') say(`added columns to the offline table of ${view.name}`);
    }

    const changed = !plan.unchanged || current === null;
    const version =
      !changed && current
        ? current
        : await tx.record({
            spec,
            hash: plan.hash,
            appliedBy: options.appliedBy ?? defaultAppliedBy(),
            plan,
          });
    if (changed) say(`recorded registry version ${version.version}`);
    // After recording: the current version now holds references only, so removing the keys
    // older versions kept changes nothing a monitor reads. In the same transaction: a failed
    // apply leaves them to the next one.
    const scrubbedSecrets = await tx.scrubSecrets();
    if (scrubbedSecrets.versions + scrubbedSecrets.objects > 0) {
      say(
        `removed literal webhook secrets from ${scrubbedSecrets.versions} stored version(s) and ${scrubbedSecrets.objects} object(s)`,
      );
    }
    return {
      plan,
      changed,
      version,
      createdTopics,
      topics,
      grownTopics,
      archivedTables,
      ensuredTables,
      scrubbedSecrets,
    };
  });
}
