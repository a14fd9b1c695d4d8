/**
 * Dependency checks for `/health`: each process names what it depends on and how to reach it,
 * and the answer says which one is down (503), each check bounded in time so that a hung
 * dependency makes /health answer "down" instead of hanging the orchestrator's probe.
 */

/** Resolves when the dependency answers; throws (or times out) when it does not. */
export type DependencyCheck = () => Promise<unknown>;

export interface DependencyReport {
  ok: boolean;
  /** Per dependency: "ok", or why not. */
  dependencies: Record<string, string>;
  /** The names of the dependencies that are down. */
  down: string[];
}

/** How long one check may take before its dependency counts as down. */
export const HEALTH_CHECK_TIMEOUT_MS = 2_000;

/** `work`, or a rejection saying it gave no answer within `timeoutMs`. */
export async function withinTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs every check in parallel, each within `timeoutMs`. */
export async function checkDependencies(
  checks: Record<string, DependencyCheck>,
  timeoutMs = HEALTH_CHECK_TIMEOUT_MS,
): Promise<DependencyReport> {
  const dependencies: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await withinTimeout(check(), timeoutMs);
        dependencies[name] = 'ok';
      } catch (error) {
        dependencies[name] = error instanceof Error ? error.message : String(error);
      }
    }),
  );
  const down = Object.keys(dependencies).filter((name) => dependencies[name] !== 'ok');
  return { ok: down.length === 0, dependencies, down };
}
