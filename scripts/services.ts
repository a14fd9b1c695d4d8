/**
 * Real Kafka, Postgres and Redis for tests, benchmarks and development, without Docker.
 *
 *   tsx scripts/services.ts up     start throwaway instances (or reuse running ones), write .services.env
 *   tsx scripts/services.ts down   stop what `up` started and delete its data
 *   tsx scripts/services.ts status print what runs and where
 *
 * Kafka is the official broker from Maven Central (fetched once into ~/.cache/tributary), run
 * with `java` in KRaft mode. Postgres and Redis are Debian's packages, installed with apt-get
 * when missing. Each runs on a free loopback port with its data in a temp folder.
 * When KAFKA_BROKERS, DATABASE_URL and REDIS_URL are all set, those are used instead.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** The test broker's version. */
export const KAFKA_VERSION = '3.9.1';
/** The current Kafka 4 line, which the stream port's conformance suite also runs on (kafka4 test). */
export const KAFKA_4_VERSION = '4.4.0';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ENV_FILE = join(ROOT, '.services.env');
const STATE_FILE = join(ROOT, '.services.state.json');

export interface ServiceEnv {
  KAFKA_BROKERS: string;
  DATABASE_URL: string;
  REDIS_URL: string;
}

interface State {
  runDir: string;
  env: ServiceEnv;
  kafka: { pid: number; port: number };
  /** The other nodes of a Kafka cluster (`--kafka-brokers`), beyond `kafka`. */
  kafkaPeers?: { pid: number; port: number }[];
  postgres: { binDir: string; dataDir: string; port: number };
  redis: { pid: number; port: number };
  /** The primaries of a Redis Cluster (`--redis-cluster`), beside `redis`. */
  redisCluster?: RedisClusterNode[];
}

export interface ServicesHandle {
  env: ServiceEnv;
  /** 'external': from the environment; 'reused': a previous `up`; 'started': by this call. */
  origin: 'external' | 'reused' | 'started';
  /**
   * Stops what this call started and removes what it wrote; nothing for services it found.
   * With `persist` (the default) that is `servicesDown()`: the started services are the ones
   * `.services.env` names.
   */
  stop(): Promise<void>;
  /**
   * REDIS_CLUSTER_NODES of the Redis Cluster started with `redisCluster` (or found running).
   * Kept out of `env`: tests and benchmarks put `env` in their environment, and the variable
   * would move every online store they open onto the cluster.
   */
  redisClusterNodes?: string;
}

export interface ServicesUpOptions {
  /**
   * Record started services in `.services.env` and the state file, for later runs to reuse
   * (`services:up`, the test setup). false (benchmarks): services this call starts are its own,
   * nothing is written, and `stop` removes only them; a `.services.env` someone else wrote is
   * read, never overwritten or deleted.
   */
  persist?: boolean;
  /** The env file to reuse services from (default `.services.env`), for tests. */
  envFile?: string;
  /**
   * Kafka brokers to start (default 1): 3 makes a KRaft cluster whose topics are replicated
   * three times. Running services with another broker count are not reused: an error says so.
   */
  kafkaBrokers?: number;
  /**
   * Also start a Redis Cluster of 3 primaries (`startRedisCluster`), written to `.services.env`
   * as REDIS_CLUSTER_NODES. Running services without one are not reused: an error says so.
   */
  redisCluster?: boolean;
}

const log = (message: string) => process.stderr.write(`services: ${message}\n`);

function cacheDir(): string {
  const base =
    process.env['TRIBUTARY_CACHE_DIR'] ??
    join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'tributary');
  mkdirSync(base, { recursive: true });
  return base;
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const server = createServer();
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? res(address.port) : rej(new Error('no port')),
      );
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The path of `command` on PATH, or undefined. */
export function which(command: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

let aptUpdated = false;
/**
 * Installs Debian's `pkg` (with `sudo -n` unless root): how the development tooling gets what a
 * machine lacks. `instead` ends the error when there is no apt-get: what else the user can do.
 */
export function aptInstall(pkg: string, instead = 'or set KAFKA_BROKERS, DATABASE_URL and REDIS_URL'): void {
  if (!which('apt-get'))
    throw new Error(`${pkg} is missing and apt-get is not available: install ${pkg} yourself, ${instead}`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  const run = (args: string[]) => {
    const [cmd, ...rest] = [...sudo, ...args];
    execFileSync(cmd!, rest, {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  log(`installing ${pkg} from Debian's packages (once per machine)…`);
  if (!aptUpdated) run(['apt-get', 'update', '-qq']);
  aptUpdated = true;
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', pkg]);
}

/** Polls `check` until it resolves true, or throws after `timeoutMs` with `what` and the log tail. */
async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  logFile?: string,
  alive?: () => boolean,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (alive && !alive()) break;
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail =
    logFile && existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-25).join('\n') : '';
  throw new Error(
    `${what} did not become ready${alive && !alive() ? ' (the process exited)' : ` within ${timeoutMs} ms`}\n${tail}`,
  );
}

function tcpSend(port: number, payload: string, expect: string): Promise<boolean> {
  return new Promise((res) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = '';
    socket.setTimeout(1000, () => {
      socket.destroy();
      res(false);
    });
    socket.on('error', () => res(false));
    socket.on('connect', () => socket.write(payload));
    socket.on('data', (chunk) => {
      data += chunk.toString();
      if (data.includes(expect)) {
        socket.destroy();
        res(true);
      }
    });
  });
}

// ---------------------------------------------------------------- Kafka

/**
 * The slf4j binding a broker's distribution ships and its pom leaves out: Kafka 3 logs through
 * reload4j, Kafka 4 through log4j2 (still on the slf4j 1.7 API).
 */
function loggingBinding(version: string): string[] {
  return Number(version.split('.')[0]) >= 4
    ? ['org.apache.logging.log4j', 'log4j-slf4j-impl', '2.24.3']
    : ['org.slf4j', 'slf4j-reload4j', '1.7.36'];
}

/** Resolves the broker's jars with Maven once per version; later runs reuse the cache. */
export function kafkaLibs(version = KAFKA_VERSION): string {
  const libs = join(cacheDir(), `kafka-${version}`, 'libs');
  if (existsSync(join(libs, '.complete'))) return libs;
  if (!which('mvn')) aptInstall('maven');
  if (!which('java')) aptInstall('openjdk-17-jre-headless');
  log(`fetching Apache Kafka ${version} from Maven Central into ${dirname(libs)} (once)…`);
  const [bindingGroup, bindingArtifact, bindingVersion] = loggingBinding(version);
  const staging = `${libs}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  execFileSync(
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      join(ROOT, 'scripts/kafka/pom.xml'),
      `-Dkafka.version=${version}`,
      `-Dbinding.groupId=${bindingGroup}`,
      `-Dbinding.artifactId=${bindingArtifact}`,
      `-Dbinding.version=${bindingVersion}`,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${staging}`,
      '-DincludeScope=runtime',
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  writeFileSync(join(staging, '.complete'), version);
  rmSync(libs, { recursive: true, force: true });
  renameSync(staging, libs);
  return libs;
}

export interface KafkaProcess {
  pid: number;
  port: number;
}

/**
 * A random KRaft cluster id: 16 bytes in base64url, as Kafka's own `Uuid.randomUuid()`, which
 * also draws again when the id starts with '-' — StorageTool would read such an id (one in 64)
 * as an option and refuse to format.
 */
export function kafkaClusterId(random: (size: number) => Buffer = randomBytes): string {
  for (;;) {
    const id = random(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** A node's version, written into its folder so a restart runs the same jars. */
const VERSION_FILE = 'kafka.version';

function kafkaJavaArgs(dir: string): string[] {
  const versionFile = join(dir, VERSION_FILE);
  const version = existsSync(versionFile) ? readFileSync(versionFile, 'utf8').trim() : KAFKA_VERSION;
  return [
    '-Xms256m',
    '-Xmx1g',
    '-XX:+UseG1GC',
    // Each line reads its own: reload4j (3.x) the first, log4j2 (4.x) the second.
    `-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`,
    `-Dlog4j2.configurationFile=${join(dir, 'log4j2.properties')}`,
    '-cp',
    `${kafkaLibs(version)}/*`,
  ];
}

/** One KRaft node's settings: broker and controller in one process. */
interface KafkaNode {
  nodeId: number;
  port: number;
  controllerPort: number;
}

/** Writes a node's server.properties and log4j settings into `dir` and formats its storage. */
function configureKafkaNode(
  dir: string,
  node: KafkaNode,
  voters: readonly KafkaNode[],
  clusterId: string,
  version: string,
): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, VERSION_FILE), version);
  const props = join(dir, 'server.properties');
  // Internal topics as replicated as the cluster allows; a cluster of 3 keeps writing with one node down.
  const replication = Math.min(voters.length, 3);
  const minIsr = Math.max(1, replication - 1);
  writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      `node.id=${node.nodeId}`,
      `controller.quorum.voters=${voters.map((v) => `${v.nodeId}@127.0.0.1:${v.controllerPort}`).join(',')}`,
      `listeners=PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${node.port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${join(dir, 'data')}`,
      'num.partitions=1',
      `default.replication.factor=${replication}`,
      `min.insync.replicas=${minIsr}`,
      `offsets.topic.replication.factor=${replication}`,
      'offsets.topic.num.partitions=5',
      `transaction.state.log.replication.factor=${replication}`,
      `transaction.state.log.min.isr=${minIsr}`,
      // Throwaway test broker: consumers join at once instead of waiting 3 s for peers.
      'group.initial.rebalance.delay.ms=0',
      'message.max.bytes=2097152',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'log4j.properties'),
    [
      'log4j.rootLogger=WARN, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'log4j2.properties'),
    [
      'rootLogger.level=WARN',
      'rootLogger.appenderRef.stdout.ref=STDOUT',
      'appender.stdout.type=Console',
      'appender.stdout.name=STDOUT',
      'appender.stdout.layout.type=PatternLayout',
      'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
      '',
    ].join('\n'),
  );
  execFileSync(
    'java',
    [...kafkaJavaArgs(dir), 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

/**
 * A single-node KRaft broker on free ports in `<runDir>/kafka`, formatted and started; of
 * `version` (default KAFKA_VERSION).
 */
export async function startKafka(runDir: string, version = KAFKA_VERSION): Promise<KafkaProcess> {
  const node = { nodeId: 1, port: await freePort(), controllerPort: await freePort() };
  configureKafkaNode(join(runDir, 'kafka'), node, [node], kafkaClusterId(), version);
  return await launchKafka(runDir, node.port);
}

/**
 * A KRaft cluster of `size` nodes (each broker and controller) on free ports, in
 * `<runDir>/kafka-<n>`, started side by side; internal topics and new topics replicated to
 * min(size, 3) nodes with min.insync.replicas one less, so it survives the loss of a node.
 */
export async function startKafkaCluster(runDir: string, size: number): Promise<KafkaProcess[]> {
  const nodes: KafkaNode[] = [];
  for (let nodeId = 1; nodeId <= size; nodeId++) {
    nodes.push({ nodeId, port: await freePort(), controllerPort: await freePort() });
  }
  const clusterId = kafkaClusterId();
  for (const node of nodes)
    configureKafkaNode(kafkaNodeDir(runDir, node.nodeId), node, nodes, clusterId, KAFKA_VERSION);
  // Side by side: a controller quorum forms only once a majority of its voters run.
  return await Promise.all(
    nodes.map((node) => launchKafkaNode(kafkaNodeDir(runDir, node.nodeId), node.port, size)),
  );
}

/** The folder of node `nodeId` of a cluster `startKafkaCluster` made in `runDir`. */
export function kafkaNodeDir(runDir: string, nodeId: number): string {
  return join(runDir, `kafka-${nodeId}`);
}

/**
 * Starts the broker `startKafka` configured in `<runDir>/kafka` (again, after a stop: same
 * ports, same data) and waits until it answers on `port`.
 */
export async function launchKafka(runDir: string, port: number): Promise<KafkaProcess> {
  return await launchKafkaNode(join(runDir, 'kafka'), port);
}

/** Starts the Kafka node configured in `dir` (again, after a stop: same ports and data); waits until it answers. */
export async function launchKafkaNode(dir: string, port: number, brokers = 1): Promise<KafkaProcess> {
  const java = kafkaJavaArgs(dir);
  const props = join(dir, 'server.properties');
  const logFile = join(dir, 'broker.log');
  const out = openSync(logFile, 'a');
  const child: ChildProcess = spawn('java', [...java, 'kafka.Kafka', props], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  child.unref();
  const pid = child.pid!;
  await waitFor(
    `Kafka on 127.0.0.1:${port}`,
    () => kafkaReady(port, brokers),
    90_000,
    logFile,
    () => isAlive(pid),
  );
  return { pid, port };
}

/**
 * A broker is ready when it answers a metadata request (what clients do first) listing
 * `brokers` brokers: a node of a cluster answers before its peers have registered, and a topic
 * created then gets fewer replicas than the cluster will have (its replication factor follows
 * the brokers listed), so min.insync.replicas fails it once a node goes.
 */
async function kafkaReady(port: number, brokers: number): Promise<boolean> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({
    brokers: [`127.0.0.1:${port}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length >= brokers;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

// ---------------------------------------------------------------- Postgres

function postgresBinDir(): string {
  const find = () => {
    const base = '/usr/lib/postgresql';
    if (!existsSync(base)) return undefined;
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    return versions[0] === undefined ? undefined : join(base, versions[0], 'bin');
  };
  const found = find();
  if (found) return found;
  aptInstall('postgresql');
  const installed = find();
  if (!installed)
    throw new Error('postgresql was installed but no initdb was found under /usr/lib/postgresql');
  return installed;
}

/** initdb and postgres refuse to run as root: run them as the `postgres` user there. */
function asPostgresUser(binDir: string, tool: string, args: string[]): void {
  const command = join(binDir, tool);
  const asRoot = process.getuid?.() === 0;
  const [cmd, ...rest] = asRoot ? ['runuser', '-u', 'postgres', '--', command, ...args] : [command, ...args];
  execFileSync(cmd!, rest, { stdio: ['ignore', 'ignore', 'inherit'] });
}

async function startPostgres(runDir: string): Promise<State['postgres']> {
  const binDir = postgresBinDir();
  const port = await freePort();
  const dataDir = join(runDir, 'postgres');
  mkdirSync(dataDir, { mode: 0o700 });
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:', dataDir]);
  asPostgresUser(binDir, 'initdb', [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '-A',
    'trust',
    '-E',
    'UTF8',
    '--no-locale',
    '--no-sync',
  ]);
  // A throwaway instance: durability settings off for speed (nothing here must survive a crash of the box).
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-k ${dataDir}`,
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c max_connections=300',
    '-c shared_buffers=512MB',
    '-c work_mem=64MB',
    '-c maintenance_work_mem=256MB',
  ].join(' ');
  asPostgresUser(binDir, 'pg_ctl', [
    '-D',
    dataDir,
    '-l',
    join(dataDir, 'server.log'),
    '-o',
    options,
    '-w',
    '-t',
    '60',
    'start',
  ]);
  const pg = await import('pg');
  const client = new pg.default.Client({
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
  });
  await client.connect();
  await client.query('CREATE DATABASE tributary');
  await client.end();
  return { binDir, dataDir, port };
}

// ---------------------------------------------------------------- Redis

async function startRedis(runDir: string): Promise<State['redis']> {
  if (!which('redis-server')) aptInstall('redis-server');
  const port = await freePort();
  const dir = join(runDir, 'redis');
  mkdirSync(dir);
  const logFile = join(dir, 'redis.log');
  const out = openSync(logFile, 'a');
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { detached: true, stdio: ['ignore', out, out] },
  );
  child.unref();
  const pid = child.pid!;
  await waitFor(
    `Redis on 127.0.0.1:${port}`,
    () => tcpSend(port, 'PING\r\n', '+PONG'),
    20_000,
    logFile,
    () => isAlive(pid),
  );
  return { pid, port };
}

/** One primary of a Redis Cluster `startRedisCluster` made. */
export interface RedisClusterNode {
  pid: number;
  port: number;
}

/**
 * A Redis Cluster of `size` primaries (default 3) on free ports, from the same Debian
 * `redis-server` package, in `runDir/redis-cluster`. No replicas: it tests the online store's
 * slot routing, not failover, and three processes is what the test machines can spare. Resolves
 * once every node reports `cluster_state:ok`; stop it with `stopRedisCluster`.
 */
export async function startRedisCluster(runDir: string, size = 3): Promise<RedisClusterNode[]> {
  if (!Number.isInteger(size) || size < 3 || size > 9)
    throw new Error(`a Redis Cluster needs 3 to 9 primaries, not ${size}`);
  if (!which('redis-server')) aptInstall('redis-server');
  // Debian's redis-server depends on redis-tools, which holds redis-cli.
  if (!which('redis-cli')) aptInstall('redis-tools');
  const nodes: RedisClusterNode[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const port = await freePort();
      const dir = join(runDir, 'redis-cluster', String(port));
      mkdirSync(dir, { recursive: true });
      const logFile = join(dir, 'redis.log');
      const out = openSync(logFile, 'a');
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '5000',
        ],
        { detached: true, stdio: ['ignore', out, out] },
      );
      child.unref();
      const node = { pid: child.pid!, port };
      nodes.push(node);
      await waitFor(
        `Redis Cluster node on 127.0.0.1:${port}`,
        () => tcpSend(port, 'PING\r\n', '+PONG'),
        20_000,
        logFile,
        () => isAlive(node.pid),
      );
    }
    execFileSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 },
    );
    for (const node of nodes) {
      await waitFor(
        `cluster_state:ok on 127.0.0.1:${node.port}`,
        () => tcpSend(node.port, 'CLUSTER INFO\r\n', 'cluster_state:ok'),
        30_000,
        join(runDir, 'redis-cluster', String(node.port), 'redis.log'),
        () => isAlive(node.pid),
      );
    }
    return nodes;
  } catch (error) {
    await stopRedisCluster(nodes);
    throw error;
  }
}

/** Stops the nodes `startRedisCluster` started (their folders go with the run folder). */
export async function stopRedisCluster(nodes: readonly RedisClusterNode[]): Promise<void> {
  await Promise.all(nodes.map((node) => killAndWait(node.pid)));
}

/** `REDIS_CLUSTER_NODES` for a cluster `startRedisCluster` started. */
export function redisClusterNodesOf(nodes: readonly RedisClusterNode[]): string {
  return nodes.map((node) => `127.0.0.1:${node.port}`).join(',');
}

// ---------------------------------------------------------------- up / down

function readState(): State | undefined {
  if (!existsSync(STATE_FILE)) return undefined;
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as State;
  } catch {
    return undefined;
  }
}

async function stateIsHealthy(state: State): Promise<boolean> {
  if (!isAlive(state.kafka.pid) || !isAlive(state.redis.pid)) return false;
  if ((state.redisCluster ?? []).some((node) => !isAlive(node.pid))) return false;
  if ((state.kafkaPeers ?? []).some((peer) => !isAlive(peer.pid))) return false;
  const pgUp = await tcpSend(state.postgres.port, '', '').catch(() => false);
  const redisUp = await tcpSend(state.redis.port, 'PING\r\n', '+PONG');
  const kafkaUp = await kafkaReady(state.kafka.port, 1 + (state.kafkaPeers?.length ?? 0)).catch(() => false);
  return redisUp && kafkaUp && (pgUp || existsSync(join(state.postgres.dataDir, 'postmaster.pid')));
}

function writeEnvFile(env: ServiceEnv, redisClusterNodes?: string): void {
  writeFileSync(
    ENV_FILE,
    `KAFKA_BROKERS=${env.KAFKA_BROKERS}\nDATABASE_URL=${env.DATABASE_URL}\nREDIS_URL=${env.REDIS_URL}\n${
      redisClusterNodes ? `REDIS_CLUSTER_NODES=${redisClusterNodes}\n` : ''
    }`,
  );
}

/** REDIS_CLUSTER_NODES as `.services.env` names it, if it does. */
function readEnvFileClusterNodes(file: string = ENV_FILE): string | undefined {
  if (!existsSync(file)) return undefined;
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('REDIS_CLUSTER_NODES='));
  return line?.slice('REDIS_CLUSTER_NODES='.length).trim() || undefined;
}

/** The services `.services.env` names, when it exists and names all three. */
export function readEnvFile(file: string = ENV_FILE): ServiceEnv | undefined {
  if (!existsSync(file)) return undefined;
  const vars: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) vars[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  const { KAFKA_BROKERS, DATABASE_URL, REDIS_URL } = vars;
  return KAFKA_BROKERS && DATABASE_URL && REDIS_URL ? { KAFKA_BROKERS, DATABASE_URL, REDIS_URL } : undefined;
}

/** True when something accepts a TCP connection at host:port within a second. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const socket = createConnection({ host, port });
    socket.setTimeout(1000, () => {
      socket.destroy();
      res(false);
    });
    socket.on('error', () => res(false));
    socket.on('connect', () => {
      socket.destroy();
      res(true);
    });
  });
}

/** True when each of the three services answers on its port. */
async function envIsReachable(env: ServiceEnv, redisClusterNodes?: string): Promise<boolean> {
  const broker = env.KAFKA_BROKERS.split(',')[0]!.trim();
  const at = broker.lastIndexOf(':');
  const pg = new URL(env.DATABASE_URL);
  const redis = new URL(env.REDIS_URL);
  const checks = await Promise.all([
    accepts(broker.slice(0, at).replace(/^\[|\]$/g, ''), Number(broker.slice(at + 1))),
    accepts(pg.hostname.replace(/^\[|\]$/g, ''), Number(pg.port || 5432)),
    accepts(redis.hostname.replace(/^\[|\]$/g, ''), Number(redis.port || 6379)),
    ...(redisClusterNodes ?? '')
      .split(',')
      .filter((node) => node.length > 0)
      .map((node) => {
        const colon = node.lastIndexOf(':');
        return accepts(node.slice(0, colon).replace(/^\[|\]$/g, ''), Number(node.slice(colon + 1)));
      }),
  ]);
  return checks.every(Boolean);
}

const nothing = async () => undefined;

/**
 * Reuses, in this order, the services KAFKA_BROKERS/DATABASE_URL/REDIS_URL name, those of a
 * `.services.env` that answer, those of a previous `up`; else starts the three (see
 * `ServicesUpOptions` for what it then writes).
 */
export async function servicesUp(options: ServicesUpOptions = {}): Promise<ServicesHandle> {
  const persist = options.persist ?? true;
  const brokers = options.kafkaBrokers ?? 1;
  if (!Number.isInteger(brokers) || brokers < 1 || brokers > 9) {
    throw new Error(`--kafka-brokers ${brokers}: expected 1 to 9`);
  }
  // A request for a cluster is only met by services with that many brokers.
  const sized = (env: ServiceEnv): ServiceEnv => {
    const count = env.KAFKA_BROKERS.split(',').length;
    if (options.kafkaBrokers === undefined || count === brokers) return env;
    throw new Error(
      `the running services have ${count} Kafka broker(s), not ${brokers}: stop them with 'npm run services:down' first`,
    );
  };
  // A request for a Redis Cluster is only met by services with one.
  const clustered = (nodes: string | undefined): { redisClusterNodes?: string } => {
    if (nodes) return { redisClusterNodes: nodes };
    if (!options.redisCluster) return {};
    throw new Error(
      "the running services have no Redis Cluster: stop them with 'npm run services:down' first, or set REDIS_CLUSTER_NODES",
    );
  };
  const { KAFKA_BROKERS, DATABASE_URL, REDIS_URL, REDIS_CLUSTER_NODES } = process.env;
  if (KAFKA_BROKERS && DATABASE_URL && REDIS_URL) {
    return {
      env: sized({ KAFKA_BROKERS, DATABASE_URL, REDIS_URL }),
      origin: 'external',
      stop: nothing,
      ...clustered(REDIS_CLUSTER_NODES || undefined),
    };
  }
  const written = readEnvFile(options.envFile);
  const writtenCluster = readEnvFileClusterNodes(options.envFile);
  if (written && (await envIsReachable(written, writtenCluster)))
    return { env: sized(written), origin: 'reused', stop: nothing, ...clustered(writtenCluster) };
  const previous = readState();
  if (previous && (await stateIsHealthy(previous))) {
    sized(previous.env);
    const cluster = clustered(previous.redisCluster ? redisClusterNodesOf(previous.redisCluster) : undefined);
    if (persist) writeEnvFile(previous.env, cluster.redisClusterNodes);
    return { env: previous.env, origin: 'reused', stop: nothing, ...cluster };
  }
  // A dead previous `up` is cleaned by the next persistent one; a benchmark leaves it alone.
  if (previous && persist) await stopState(previous);

  const started = Date.now();
  const runDir = mkdtempSync(join(tmpdir(), 'tributary-services-'));
  chmodSync(runDir, 0o755); // the postgres user must reach its data folder inside
  const partial: Partial<State> & { runDir: string } = { runDir };
  try {
    // Postgres and Redis start in a second or two; Kafka's JVM is the long pole, so they overlap it.
    const [kafka, postgres, redis] = await Promise.all([
      (brokers === 1
        ? startKafka(runDir)
        : startKafkaCluster(runDir, brokers).then(([first, ...peers]) => {
            partial.kafkaPeers = peers;
            return first!;
          })
      ).then((k) => (partial.kafka = k)),
      startPostgres(runDir).then((p) => (partial.postgres = p)),
      startRedis(runDir).then((r) => (partial.redis = r)),
      options.redisCluster
        ? startRedisCluster(runDir).then((nodes) => (partial.redisCluster = nodes))
        : undefined,
    ]);
    const redisClusterNodes = partial.redisCluster ? redisClusterNodesOf(partial.redisCluster) : undefined;
    const env: ServiceEnv = {
      KAFKA_BROKERS: [kafka, ...(partial.kafkaPeers ?? [])].map((k) => `127.0.0.1:${k.port}`).join(','),
      DATABASE_URL: `postgres://postgres@127.0.0.1:${postgres.port}/tributary`,
      REDIS_URL: `redis://127.0.0.1:${redis.port}`,
    };
    const state: State = {
      runDir,
      env,
      kafka,
      ...(partial.kafkaPeers ? { kafkaPeers: partial.kafkaPeers } : {}),
      postgres,
      redis,
      ...(partial.redisCluster ? { redisCluster: partial.redisCluster } : {}),
    };
    if (persist) {
      writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
      writeEnvFile(env, redisClusterNodes);
    }
    log(
      `Kafka ${env.KAFKA_BROKERS}, Postgres ${env.DATABASE_URL}, Redis ${env.REDIS_URL}${redisClusterNodes ? `, Redis Cluster ${redisClusterNodes}` : ''} (up in ${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
    const stop = persist
      ? async () => {
          await servicesDown();
        }
      : () => stopState(state);
    return { env, origin: 'started', stop, ...(redisClusterNodes ? { redisClusterNodes } : {}) };
  } catch (error) {
    await stopState(partial);
    throw error;
  }
}

/** SIGTERM, then SIGKILL when `pid` has not exited within `timeoutMs`. */
export async function killAndWait(pid: number, timeoutMs = 15_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function stopState(state: Partial<State> & { runDir: string }): Promise<void> {
  const stops: Promise<void>[] = [];
  if (state.kafka) stops.push(killAndWait(state.kafka.pid));
  for (const peer of state.kafkaPeers ?? []) stops.push(killAndWait(peer.pid));
  if (state.redis) stops.push(killAndWait(state.redis.pid));
  if (state.redisCluster) stops.push(stopRedisCluster(state.redisCluster));
  if (state.postgres && existsSync(join(state.postgres.dataDir, 'postmaster.pid'))) {
    const { binDir, dataDir } = state.postgres;
    stops.push(
      Promise.resolve().then(() => {
        try {
          asPostgresUser(binDir, 'pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
        } catch (error) {
          log(`postgres did not stop cleanly: ${(error as Error).message}`);
        }
      }),
    );
  }
  await Promise.all(stops);
  rmSync(state.runDir, { recursive: true, force: true });
}

/** Stops what `servicesUp` started and removes its data, state and env files. */
export async function servicesDown(): Promise<boolean> {
  const state = readState();
  if (state) await stopState(state);
  rmSync(STATE_FILE, { force: true });
  rmSync(ENV_FILE, { force: true });
  return state !== undefined;
}

async function main(command: string | undefined, args: string[]): Promise<number> {
  switch (command) {
    case 'up': {
      const { values } = parseArgs({
        args,
        options: { 'kafka-brokers': { type: 'string' }, 'redis-cluster': { type: 'boolean' } },
      });
      const kafkaBrokers =
        values['kafka-brokers'] === undefined ? undefined : Number(values['kafka-brokers']);
      const { env, origin, redisClusterNodes } = await servicesUp({
        ...(kafkaBrokers === undefined ? {} : { kafkaBrokers }),
        ...(values['redis-cluster'] ? { redisCluster: true } : {}),
      });
      if (origin === 'external') writeEnvFile(env, redisClusterNodes);
      if (origin !== 'started')
        log(
          `${origin === 'external' ? 'using the services from the environment' : 'reusing running services'}: ${env.KAFKA_BROKERS}, ${env.DATABASE_URL}, ${env.REDIS_URL}${redisClusterNodes ? `, Redis Cluster ${redisClusterNodes}` : ''}`,
        );
      log(`wrote ${ENV_FILE}; load it with: set -a; . ./.services.env; set +a`);
      return 0;
    }
    case 'down':
      log((await servicesDown()) ? 'stopped' : 'nothing was running');
      return 0;
    case 'status': {
      const state = readState();
      if (!state) log('nothing started by services:up');
      else log(`${(await stateIsHealthy(state)) ? 'healthy' : 'NOT healthy'}: ${JSON.stringify(state.env)}`);
      return 0;
    }
    default:
      process.stderr.write(
        'Usage: tsx scripts/services.ts up [--kafka-brokers N] [--redis-cluster]|down|status\n\n  up      start throwaway Kafka, Postgres and Redis (or reuse them) and write .services.env;\n          --kafka-brokers 3 starts a 3-node KRaft cluster, topics replicated 3 times;\n          --redis-cluster also starts a Redis Cluster of 3 primaries (REDIS_CLUSTER_NODES)\n  down    stop them and delete their data\n  status  tell whether they run\n',
      );
      return command === '--help' || command === '-h' ? 0 : 2;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv[2], process.argv.slice(3)).then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`services: ${error.message}\n`);
      process.exit(1);
    },
  );
}
