import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config.ts';
import { isTributaryError } from '../../../shared/errors.ts';
import { bucketOf, CLUSTER_BUCKETS, keySlot } from '../../../shared/stores/online/cluster-slots.ts';
import { onlineTarget } from '../../../shared/stores/online/redis.ts';

describe('REDIS_CLUSTER_NODES', () => {
  it('is empty by default: the single Redis of REDIS_URL', () => {
    const config = loadConfig({});
    expect(config.redisClusterNodes).toEqual([]);
    expect(onlineTarget(config)).toEqual({
      connection: { url: 'redis://127.0.0.1:6379' },
      variable: 'REDIS_URL',
    });
  });

  it('wins over REDIS_URL when set', () => {
    const config = loadConfig({
      REDIS_URL: 'redis://127.0.0.1:6390',
      REDIS_CLUSTER_NODES: ' 10.0.0.1:7000, [::1]:7001 ,',
    });
    expect(config.redisClusterNodes).toEqual(['10.0.0.1:7000', '[::1]:7001']);
    expect(onlineTarget(config)).toEqual({
      connection: { clusterNodes: ['10.0.0.1:7000', '[::1]:7001'] },
      variable: 'REDIS_CLUSTER_NODES',
    });
  });

  it('refuses what is not host:port with TRIB_CONFIG_INVALID naming the variable', () => {
    for (const bad of ['redis://10.0.0.1:7000', '10.0.0.1', ',', '10.0.0.1:99999']) {
      let caught: unknown;
      try {
        loadConfig({ REDIS_CLUSTER_NODES: bad });
      } catch (error) {
        caught = error;
      }
      expect(isTributaryError(caught) && caught.code, bad).toBe('TRIB_CONFIG_INVALID');
      expect((caught as Error).message).toContain('REDIS_CLUSTER_NODES');
    }
  });
});

describe('cluster layout', () => {
  it('buckets are stable (part of the key) and spread', () => {
    // FNV-1a of the UTF-8 bytes, mod 256 (checked against an independent implementation): a
    // change here moves every key of a deployed cluster.
    expect([bucketOf('1001'), bucketOf('abc'), bucketOf('ünï'), bucketOf('a:b')]).toEqual([87, 11, 86, 64]);
    const used = new Set(Array.from({ length: 5000 }, (_, i) => bucketOf(String(i))));
    expect(used.size).toBe(CLUSTER_BUCKETS);
  });

  it('slots follow Redis: the hash tag, else the whole key', () => {
    // Values from Redis's CLUSTER KEYSLOT.
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    // An empty tag is no tag: the whole key.
    expect(keySlot('a{}b')).toBe(13694);
    // CRC16-XMODEM's check value: 0x31C3.
    expect(keySlot('123456789')).toBe(0x31c3);
  });
});
