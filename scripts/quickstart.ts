/**
 * npm run quickstart — starts local Kafka/Postgres/Redis (or reuses them, or uses
 * KAFKA_BROKERS/DATABASE_URL/REDIS_URL when set), then runs `tributary quickstart`.
 * The services keep running afterwards for development; `npm run services:down` stops them.
 */
import { quickstartCommand } from '../cli/commands/quickstart.ts';
import { ENV_FILE, servicesUp } from './services.ts';

const { env, origin } = await servicesUp();
Object.assign(process.env, env);
if (origin !== 'external') {
  console.log(
    `services ${origin === 'started' ? 'started' : 'reused'}: ${env.KAFKA_BROKERS}, ${env.DATABASE_URL}, ${env.REDIS_URL}`,
  );
  console.log(`(addresses in ${ENV_FILE}; load them with: set -a; . ./.services.env; set +a)`);
}
process.exitCode = await quickstartCommand.run(process.argv.slice(2));
// Kafka and pg clients may hold the event loop open a little longer than needed.
setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
