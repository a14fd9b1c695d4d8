import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/** docker-compose.yml, checked as far as a machine without Docker can: its parsed structure. */
const ROOT = resolve(import.meta.dirname, '../..');
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      environment?: Record<string, string | number>;
      ports?: string[];
      volumes?: string[];
      restart?: string;
      healthcheck?: { test: string[] };
      depends_on?: Record<string, { condition: string }>;
    }
  >;
  volumes?: Record<string, unknown>;
};
const services = compose.services;

describe('docker-compose.yml', () => {
  it('gives Kafka a listener for containers and one for the host, each advertised where it is reachable', () => {
    const env = services['kafka']!.environment!;
    const listeners = String(env['KAFKA_LISTENERS']).split(',');
    const advertised = Object.fromEntries(
      String(env['KAFKA_ADVERTISED_LISTENERS'])
        .split(',')
        .map((l) => l.split('://') as [string, string]),
    );
    expect(advertised['INTERNAL']).toBe('kafka:9092');
    expect(advertised['EXTERNAL']).toMatch(/^localhost:(\d+)$/);
    const hostPort = advertised['EXTERNAL']!.split(':')[1]!;
    expect(listeners).toContain(`EXTERNAL://:${hostPort}`);
    expect(services['kafka']!.ports).toContain(`${hostPort}:${hostPort}`);
    for (const name of ['INTERNAL', 'EXTERNAL', 'CONTROLLER']) {
      expect(String(env['KAFKA_LISTENER_SECURITY_PROTOCOL_MAP'])).toContain(`${name}:`);
    }
    // The services in containers use the internal listener.
    expect(services['serving']!.environment!['KAFKA_BROKERS']).toBe('kafka:9092');
  });

  it('keeps Kafka and Postgres data in named volumes', () => {
    const named = Object.keys(compose.volumes ?? {});
    for (const [service, path] of [
      ['kafka', String(services['kafka']!.environment!['KAFKA_LOG_DIRS'])],
      ['postgres', '/var/lib/postgresql/data'],
    ] as const) {
      const mount = services[service]!.volumes?.find((v) => v.endsWith(`:${path}`));
      expect(mount, service).toBeDefined();
      expect(named).toContain(mount!.split(':')[0]);
    }
  });

  it('restarts every long-running service and health-checks each', () => {
    for (const name of ['kafka', 'postgres', 'redis', 'materializer', 'serving', 'monitor']) {
      expect(services[name]!.restart, name).toBe('unless-stopped');
      expect(services[name]!.healthcheck?.test.length, name).toBeGreaterThan(0);
    }
    expect(services['apply']!.restart ?? 'no').toBe('no');
  });

  it('requires API keys for serving, which binds 0.0.0.0', () => {
    const env = services['serving']!.environment!;
    expect(env['HOST']).toBe('0.0.0.0');
    // ${VAR:?message}: compose refuses to start without it.
    expect(String(env['TRIBUTARY_API_KEYS'])).toMatch(/^\$\{TRIBUTARY_API_KEYS:\?.+\}$/);
  });

  it('binds beyond loopback only with API keys required, never by opting out of auth', () => {
    // Tributary's listeners bind HOST (default 127.0.0.1) and refuse a non-loopback HOST without
    // TRIBUTARY_API_KEYS unless TRIBUTARY_ALLOW_UNAUTHENTICATED is set (shared/config.ts).
    const tributary = Object.entries(services).filter(
      ([name]) => !['kafka', 'postgres', 'redis'].includes(name),
    );
    expect(tributary.map(([name]) => name).sort()).toEqual(['apply', 'materializer', 'monitor', 'serving']);
    for (const [name, service] of tributary) {
      const env = service.environment ?? {};
      expect(env['TRIBUTARY_ALLOW_UNAUTHENTICATED'], name).toBeUndefined();
      const host = String(env['HOST'] ?? '127.0.0.1');
      if (!/^(127\.|localhost$|::1$)/.test(host)) {
        expect(String(env['TRIBUTARY_API_KEYS']), name).toMatch(/^\$\{TRIBUTARY_API_KEYS:\?.+\}$/);
      }
      // Health checks run inside the container, so they reach a loopback listener too.
      const check = service.healthcheck?.test.join(' ') ?? '';
      if (check.includes('http://')) expect(check, name).toContain('http://127.0.0.1:');
    }
  });

  it('starts the services only once what they need is healthy or applied', () => {
    expect(services['apply']!.depends_on!['postgres']!.condition).toBe('service_healthy');
    for (const name of ['materializer', 'serving', 'monitor']) {
      expect(services[name]!.depends_on!['apply']!.condition, name).toBe('service_completed_successfully');
    }
  });
});
