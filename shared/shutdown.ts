import type { Logger } from './logger.ts';

type Closer = () => Promise<void>;

/**
 * Runs `closers` in reverse registration order on the first SIGTERM or SIGINT, then exits.
 * A second signal exits at once, so an operator is never stuck behind a hung close.
 */
export function onShutdown(logger: Logger, closers: Closer[], timeoutMs = 30_000): void {
  let closing = false;
  const handler = (signal: NodeJS.Signals) => {
    if (closing) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    closing = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown timed out: exiting');
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    void (async () => {
      let code = 0;
      for (const close of [...closers].reverse()) {
        try {
          await close();
        } catch (error) {
          code = 1;
          logger.error({ err: error }, 'error while shutting down');
        }
      }
      process.exit(code);
    })();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
