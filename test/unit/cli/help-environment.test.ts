/**
 * Each command's --help names the TRIBUTARY_* variables the command reads (through
 * shared/config.ts), so an operator finds a setting where they look first; and every
 * TRIBUTARY_* variable config.ts reads is named by some command or said here to be read by none.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Command } from '../../../cli/command.ts';
import { applyCommand } from '../../../cli/commands/apply.ts';
import { getHistoricalFeaturesCommand } from '../../../cli/commands/get-historical-features.ts';
import { initCommand } from '../../../cli/commands/init.ts';
import { materializeCommand } from '../../../cli/commands/materialize.ts';
import { monitorCommand } from '../../../cli/commands/monitor.ts';
import { planCommand } from '../../../cli/commands/plan.ts';
import { profileCommand } from '../../../cli/commands/profile.ts';
import { reportCommand } from '../../../cli/commands/report.ts';
import { serveCommand } from '../../../cli/commands/serve.ts';

/** Every command prints the stack of a failure with TRIBUTARY_DEBUG (cli/options.ts reportError). */
const ALL = ['TRIBUTARY_DEBUG'];
/** Commands that open the one Postgres pool (createPool with config.pgPoolMax). */
const POOL = ['TRIBUTARY_PG_POOL_MAX'];
/** Commands that listen beyond their own process: the API or the ops endpoints. */
const LISTEN = ['TRIBUTARY_API_KEYS', 'TRIBUTARY_ALLOW_UNAUTHENTICATED'];

const READS: [Command, string[]][] = [
  [initCommand, [...ALL]],
  [planCommand, [...ALL, 'TRIBUTARY_REPO', 'TRIBUTARY_REGISTRY_SCHEMA', 'TRIBUTARY_WEBHOOK_URL']],
  [
    applyCommand,
    [
      ...ALL,
      ...POOL,
      'TRIBUTARY_REPO',
      'TRIBUTARY_REGISTRY_SCHEMA',
      'TRIBUTARY_APPLIED_BY',
      'TRIBUTARY_WEBHOOK_URL',
    ],
  ],
  [materializeCommand, [...ALL, ...POOL, ...LISTEN, 'TRIBUTARY_REGISTRY_SCHEMA']],
  [
    monitorCommand,
    [
      ...ALL,
      ...POOL,
      ...LISTEN,
      'TRIBUTARY_REGISTRY_SCHEMA',
      'TRIBUTARY_MONITOR_SCHEMA',
      'TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL',
    ],
  ],
  [profileCommand, [...ALL, 'TRIBUTARY_MONITOR_SCHEMA']],
  [reportCommand, [...ALL, 'TRIBUTARY_MONITOR_SCHEMA']],
  [serveCommand, [...ALL, ...POOL, ...LISTEN, 'TRIBUTARY_REGISTRY_SCHEMA', 'TRIBUTARY_MONITOR_SCHEMA']],
  [getHistoricalFeaturesCommand, [...ALL, ...POOL, 'TRIBUTARY_REGISTRY_SCHEMA']],
];

/** Read by shared/config.ts but by no command's path. */
const READ_BY_NO_COMMAND: Record<string, string> = {
  TRIBUTARY_KAFKA_CLIENT:
    'openEventStream reads it; the commands build KafkaEventStream directly, only the stream conformance suite and benchmarks switch clients',
};

describe('--help names the environment a command reads', () => {
  it.each(READS.map(([c, vars]) => [c.name, c, vars] as const))('%s', (_name, command, vars) => {
    const missing = vars.filter((v) => !new RegExp(`\\b${v}\\b`).test(command.help));
    expect(missing).toEqual([]);
  });

  it('names every TRIBUTARY_* variable of shared/config.ts in some command, or says none reads it', () => {
    const config = readFileSync(new URL('../../../shared/config.ts', import.meta.url), 'utf8');
    const variables = [...new Set(config.match(/\bTRIBUTARY_[A-Z_]+\b/g))];
    expect(variables).toContain('TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL');
    const unnamed = variables.filter(
      (v) => !READ_BY_NO_COMMAND[v] && !READS.some(([c]) => new RegExp(`\\b${v}\\b`).test(c.help)),
    );
    expect(unnamed).toEqual([]);
  });
});
