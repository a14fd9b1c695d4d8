/**
 * SCAN over every primary of a Redis Cluster, as one cursor: the key counter of the dashboard
 * (key-count.ts) walks a single keyspace, and a cluster's keyspace is split over its primaries,
 * each with its own cursor. The cursor here is `<primary index>-<that primary's cursor>`, `0`
 * at the start and the end, so the counter's loop and budget work unchanged.
 */
import { Cluster } from 'ioredis';
import type { Logger } from '../../logger.ts';
import { parseClusterNodes } from './cluster-slots.ts';
import type { ScanClient } from './key-count.ts';

export class ClusterScanClient implements ScanClient {
  private readonly cluster: Cluster;

  constructor(nodes: readonly string[], options: { connectionName: string; logger?: Logger }) {
    // A connection of its own, opened on the first page that asks, as RedisKeyCounter's.
    this.cluster = new Cluster(parseClusterNodes(nodes), {
      lazyConnect: true,
      scaleReads: 'master',
      redisOptions: {
        connectionName: options.connectionName,
        connectTimeout: 2_000,
        commandTimeout: 2_000,
        maxRetriesPerRequest: 1,
      },
    });
    this.cluster.on('error', (error: Error) =>
      options.logger?.debug({ err: error }, 'online key count: Redis Cluster connection error'),
    );
  }

  get status(): string {
    return this.cluster.status;
  }

  async scan(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    n: number,
  ): Promise<[cursor: string, elements: string[]]> {
    if (this.cluster.status === 'wait') await this.cluster.connect();
    // Sorted, so the index of a primary means the same node from one call to the next.
    const primaries = this.cluster
      .nodes('master')
      .sort((a, b) =>
        `${a.options.host}:${a.options.port}`.localeCompare(`${b.options.host}:${b.options.port}`),
      );
    const dash = cursor.indexOf('-');
    const index = dash < 0 ? 0 : Number(cursor.slice(0, dash));
    const at = dash < 0 ? cursor : cursor.slice(dash + 1);
    const node = primaries[index];
    if (!node) return ['0', []];
    const [next, keys] = await node.scan(at, match, pattern, count, n);
    if (next !== '0') return [`${index}-${next}`, keys];
    return [index + 1 < primaries.length ? `${index + 1}-0` : '0', keys];
  }

  quit(): Promise<unknown> {
    return this.cluster.quit();
  }

  disconnect(): void {
    this.cluster.disconnect();
  }
}
