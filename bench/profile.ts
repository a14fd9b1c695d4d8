/**
 * Optional CPU profile of one benchmark phase: with BENCH_PROFILE=<dir>, `profiled('name', fn)`
 * records V8's sampling profile of `fn` to `<dir>/<name>.cpuprofile` (open it in Chrome
 * DevTools or speedscope); without it, `fn` just runs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { textKnob } from './support.ts';

export async function profiled<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const dir = textKnob('BENCH_PROFILE');
  if (!dir) return await fn();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  try {
    return await fn();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}
