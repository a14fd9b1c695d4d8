import { afterEach, describe, expect, it } from 'vitest';
import { servicesUp } from '../../scripts/services.ts';

/** `servicesUp({ redisCluster })` with the services named by the environment (nothing started). */
describe('services: --redis-cluster', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of ['KAFKA_BROKERS', 'DATABASE_URL', 'REDIS_URL', 'REDIS_CLUSTER_NODES']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  const external = (cluster?: string) => {
    process.env['KAFKA_BROKERS'] = '127.0.0.1:1';
    process.env['DATABASE_URL'] = 'postgres://postgres@127.0.0.1:2/tributary';
    process.env['REDIS_URL'] = 'redis://127.0.0.1:3';
    if (cluster === undefined) delete process.env['REDIS_CLUSTER_NODES'];
    else process.env['REDIS_CLUSTER_NODES'] = cluster;
  };

  it('reuses a cluster the environment names, kept out of the services env', async () => {
    external('127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002');
    const handle = await servicesUp({ persist: false, redisCluster: true });
    expect(handle.origin).toBe('external');
    expect(handle.redisClusterNodes).toBe('127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002');
    // Tests put `env` in their environment: the cluster must not move their stores onto it.
    expect(Object.keys(handle.env).sort()).toEqual(['DATABASE_URL', 'KAFKA_BROKERS', 'REDIS_URL']);
  });

  it('refuses running services without a cluster when one is asked for', async () => {
    external();
    await expect(servicesUp({ persist: false, redisCluster: true })).rejects.toThrow(
      /no Redis Cluster: stop them with 'npm run services:down' first/,
    );
    // Not asked for: the same services are fine.
    expect((await servicesUp({ persist: false })).redisClusterNodes).toBeUndefined();
  });
});
