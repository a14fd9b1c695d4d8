import type { TestProject } from 'vitest/node';
import { servicesDown, servicesUp } from '../scripts/services.ts';

/**
 * Gives integration tests real services: the ones named by KAFKA_BROKERS / DATABASE_URL /
 * REDIS_URL, else those of a running `npm run services:up`, else throwaway ones started here
 * and stopped at the end, so `npm test` leaves nothing running. With TRIBUTARY_SERVICES=docker
 * (a Docker engine is needed) testcontainers starts them as containers instead.
 */
export default async function setup(project: TestProject) {
  if (process.env['TRIBUTARY_SERVICES'] === 'docker') {
    const { startDockerServices } = await import('../scripts/services-docker.ts');
    const { env, stop } = await startDockerServices();
    Object.assign(process.env, env);
    project.provide('services', env);
    return stop;
  }
  const { env, origin } = await servicesUp();
  Object.assign(process.env, env);
  project.provide('services', env);
  return async () => {
    if (origin === 'started') await servicesDown();
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: { KAFKA_BROKERS: string; DATABASE_URL: string; REDIS_URL: string };
  }
}
