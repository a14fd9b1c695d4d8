/**
 * The serving app over a real online store and nothing else, for tests that check what the
 * online route answers: historical reads yield nothing and pushes go nowhere.
 */
import type { FastifyInstance } from 'fastify';
import { staticDefinitions } from '../../fixtures/driver-spec.ts';
import { buildApp } from '../../services/serving/app.ts';
import type { RepoSpec } from '../../shared/definitions/types.ts';
import { createLogger } from '../../shared/logger.ts';
import type { OnlineStore } from '../../shared/stores/online/port.ts';

export function onlineApp(spec: RepoSpec, online: OnlineStore): Promise<FastifyInstance> {
  return buildApp({
    definitions: staticDefinitions(spec),
    online,
    historical: { readFeatures: () => (async function* () {})() },
    producer: { send: async () => undefined },
    config: { apiKeys: [] },
    logger: createLogger('test', 'silent'),
  });
}
