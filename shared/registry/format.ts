/** Human-readable plans, for the CLI. */
import type { Plan } from './plan.ts';

const SYMBOL = { add: '+', change: '~', remove: '-' } as const;

function show(value: unknown): string {
  if (value === undefined) return '(none)';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The plan as lines: one per object, its changed fields indented, breaking reasons marked. */
export function formatPlan(plan: Plan, repoLabel: string): string[] {
  const lines: string[] = [];
  if (plan.unchanged) {
    lines.push(
      `No changes: ${repoLabel} matches registry version ${plan.from?.version} (sha256 ${plan.hash.slice(0, 12)}).`,
    );
    return lines;
  }
  for (const change of plan.changes) {
    lines.push(`${SYMBOL[change.action]} ${change.kind} ${change.name}`);
    for (const field of change.fields) {
      if (field.from === undefined) lines.push(`    + ${field.path}: ${show(field.to)}`);
      else if (field.to === undefined) lines.push(`    - ${field.path}: ${show(field.from)}`);
      else lines.push(`    ~ ${field.path}: ${show(field.from)} → ${show(field.to)}`);
    }
    for (const reason of change.breaking) lines.push(`    ! BREAKING: ${reason}`);
  }
  if (plan.tables.length > 0) {
    lines.push('');
    lines.push('Offline tables:');
    for (const t of plan.tables) lines.push(`  ${t.action} ${t.view} (${t.reason})`);
  }
  if (plan.newTopics.length > 0) {
    lines.push('');
    lines.push(`Topics to create if missing: ${plan.newTopics.join(', ')}`);
  }
  const count = (action: string) => plan.changes.filter((c) => c.action === action).length;
  const breaking = plan.changes.reduce((n, c) => n + c.breaking.length, 0);
  lines.push('');
  lines.push(
    `Plan: ${count('add')} to add, ${count('change')} to change, ${count('remove')} to remove` +
      (breaking > 0
        ? `; ${breaking} breaking change${breaking === 1 ? '' : 's'}: apply needs --allow-breaking.`
        : '.'),
  );
  return lines;
}

/** `JSON.stringify` of a plan: what `--json` prints. */
export function planJson(plan: Plan): Record<string, unknown> {
  return { ...plan };
}
