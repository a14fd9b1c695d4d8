/** Running `node bin/tributary.mjs` from tests: one-shot commands, long-running processes, the example repository. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { KafkaEventStream } from '../../shared/stream/kafka.ts';
import { services } from './env.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = path.join(ROOT, 'bin', 'tributary.mjs');

/** The test run's services for a CLI process, plus `extra`. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: services().DATABASE_URL,
    KAFKA_BROKERS: services().KAFKA_BROKERS,
    REDIS_URL: services().REDIS_URL,
    ...extra,
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `tributary <args>` to its end. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = cliEnv()): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env }, (error, stdout, stderr) =>
      resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export interface CliProcess {
  process: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output: () => string;
  exited: Promise<number | null>;
}

/** Starts a long-running `tributary <args>`. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = cliEnv()): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { process: child, output: () => output, exited };
}

/** Sends SIGTERM unless it has exited already; resolves to the exit code. */
export async function stopCli(child: CliProcess | undefined): Promise<number | null | undefined> {
  if (!child || child.process.exitCode !== null) return child?.process.exitCode;
  child.process.kill('SIGTERM');
  return child.exited;
}

/** Retries `attempt` every 250 ms until it resolves to a value; throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * A temporary copy of the example repository (feature-defs/driver.ts) that imports `tributary`
 * from this checkout, with its topics under `prefix`. Returns the folder.
 */
export async function exampleRepo(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'trib-repo-'));
  await writeFile(path.join(dir, 'package.json'), '{"type":"module"}');
  await mkdir(path.join(dir, 'node_modules'));
  await symlink(ROOT, path.join(dir, 'node_modules', 'tributary'));
  const example = await readFile(path.join(ROOT, 'feature-defs', 'driver.ts'), 'utf8');
  await writeFile(
    path.join(dir, 'driver.ts'),
    example
      .replace("topic: 'driver_stats'", `topic: '${prefix}.driver_stats'`)
      .replace('predictions.driver_model', `${prefix}.predictions`),
  );
  return dir;
}

/** Removes what a CLI test left: its folder, its Postgres schemas, its topics (those starting with `topicPrefix`). */
export async function cleanUpCli(options: {
  dir?: string;
  schemas: string[];
  topicPrefix: string;
}): Promise<void> {
  if (options.dir) await rm(options.dir, { recursive: true, force: true });
  const db = new pg.Client({ connectionString: services().DATABASE_URL });
  await db.connect();
  for (const schema of options.schemas) await db.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await db.end();
  const admin = await new KafkaEventStream(services().KAFKA_BROKERS.split(',')).admin();
  await admin.deleteTopics((await admin.listTopics()).filter((t) => t.startsWith(options.topicPrefix)));
  await admin.close();
}
