import { debugFromEnv } from '../shared/config.ts';
import { isTributaryError } from '../shared/errors.ts';
import type { Command } from './command.ts';
import { commands } from './commands/index.ts';

function usage(all: readonly Command[]): string {
  const width = Math.max(...all.map((c) => c.name.length));
  return [
    'Usage: tributary <command> [options]',
    '',
    'Event-driven feature store and drift monitor.',
    '',
    'Commands:',
    ...all.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `tributary <command> --help` for a command’s options.',
    'Environment: KAFKA_BROKERS, DATABASE_URL, REDIS_URL, TRIBUTARY_REPO, TRIBUTARY_API_KEYS, PORT (see docs/configuration.md).',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage(commands));
    return name === undefined ? 1 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`tributary: unknown command '${name}'. Run 'tributary --help' for the list.`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  return command.run(rest);
}

/**
 * How long a failed command may take to let go of what it opened before the process exits
 * anyway. A command that failed half-way through starting (a taken port, a service that
 * answered and then did not) may still hold a Kafka client, a pool or a LISTEN connection
 * that retries for minutes; a failure must end the process, not leave it lingering.
 */
const FAILED_EXIT_GRACE_MS = 500;

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  // One line, with the code, for anything a command did not handle itself.
  const message = error instanceof Error ? error.message : String(error);
  const code = isTributaryError(error) ? `${error.code}: ` : '';
  console.error(`tributary: ${code}${message.split('\n')[0]}`);
  if (debugFromEnv()) console.error(error);
  process.exitCode = 1;
}
if (process.exitCode !== 0) {
  // Unref'd: a process with nothing left open exits at once, as before.
  setTimeout(() => process.exit(), FAILED_EXIT_GRACE_MS).unref();
}
