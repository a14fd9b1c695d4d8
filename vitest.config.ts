import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure logic and needs nothing running; `integration` (and e2e)
// talk to real Kafka, Postgres and Redis, which test/global-setup.ts provides.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          sequence: { groupOrder: 1 },
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Two cores share the broker, Postgres and Redis: run integration files two at a time.
          maxWorkers: 2,
        },
      },
    ],
  },
});
