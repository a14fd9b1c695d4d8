/** What the serving app is built from and what its routes share (kept apart from app.ts so routes do not import it). */
import type { Counter, Histogram, Registry } from 'prom-client';
import type { Logger } from '../../shared/logger.ts';
import type { MonitorQueries } from '../../shared/monitoring/queries.ts';
import type { DependencyCheck } from '../../shared/observability/health.ts';
import type { DefinitionsSource } from '../../shared/registry/live.ts';
import type { HistoricalFeatureSource } from '../../shared/retrieval/historical.ts';
import type { OnlineStore } from '../../shared/stores/online/port.ts';
import type { StreamProducer } from '../../shared/stream/port.ts';
import type { FeatureViewStats } from './ui/feature-views.ts';

export interface ServingLimits {
  /** Largest JSON body for online lookups and pushes; default 1 MiB. */
  bodyLimitBytes: number;
  /** Largest body for historical retrieval (JSON or Arrow entity rows); default 256 MiB. */
  historicalBodyLimitBytes: number;
  /** Most entity rows answered as JSON; more need an Arrow response. Default 100,000. */
  maxJsonResultRows: number;
  /** Most entity rows one online lookup may ask for; default 10,000. */
  maxOnlineRows: number;
}

export interface ServingDeps {
  definitions: DefinitionsSource;
  /** `readJson` when the store has it (the lookup copies stored values as text), else `read`. */
  online: Pick<OnlineStore, 'read' | 'readJson'>;
  historical: HistoricalFeatureSource;
  /** Pushes go through Kafka like every other event, so the materializer writes both stores. */
  producer: Pick<StreamProducer, 'send'>;
  config: { apiKeys: readonly string[] };
  logger: Logger;
  limits?: Partial<ServingLimits>;
  /** The dependencies /health checks (Postgres, Redis, Kafka): each resolves when reachable, throws when not. */
  health?: Record<string, DependencyCheck>;
  /** The drift monitor's windows and events (GET /monitors/...); the routes are absent without it. */
  monitorQueries?: MonitorQueries;
  /** Offline-store figures for the dashboard's feature views page; the page omits them without it. */
  featureViewStats?: FeatureViewStats;
  /** The clock for ttl checks, epoch ms; default `Date.now`. */
  now?: () => number;
}

/** What routes share: the deps, resolved limits and the metrics. */
export interface ServingContext extends ServingDeps {
  limits: ServingLimits;
  now: () => number;
  metrics: {
    registry: Registry;
    requests: Counter<'route' | 'method' | 'status'>;
    duration: Histogram<'route'>;
    rows: Counter<'route'>;
  };
}

export const DEFAULT_LIMITS: ServingLimits = {
  bodyLimitBytes: 1024 * 1024,
  historicalBodyLimitBytes: 256 * 1024 * 1024,
  maxJsonResultRows: 100_000,
  maxOnlineRows: 10_000,
};
