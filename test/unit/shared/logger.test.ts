import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../shared/config.ts';
import { createLogger, formatPretty, OutageLog, resolveLogFormat } from '../../../shared/logger.ts';

/** A destination that records what the logger wrote, a terminal or not. */
function sink(isTTY: boolean) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  stream.isTTY = isTTY;
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.length > 0),
  };
}

async function flushed(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe('log format', () => {
  it('auto is pretty on a terminal and JSON otherwise; json and pretty force it', () => {
    expect(resolveLogFormat(undefined, true)).toBe('pretty');
    expect(resolveLogFormat(undefined, false)).toBe('json');
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  it('writes JSON with the level name and an ISO time when the destination is not a terminal', async () => {
    const out = sink(false);
    createLogger('materializer', 'info', { format: 'auto', destination: out.stream }).warn(
      { target: 'online' },
      'write failed',
    );
    await flushed();
    const [line] = out.lines();
    const entry = JSON.parse(line!) as Record<string, unknown>;
    expect(entry).toMatchObject({
      level: 'warn',
      service: 'materializer',
      target: 'online',
      msg: 'write failed',
    });
    expect(new Date(entry['time'] as string).toISOString()).toBe(entry['time']);
  });

  it('writes one readable line on a terminal, JSON when LOG_FORMAT=json says so', async () => {
    const tty = sink(true);
    const error = Object.assign(new Error('Redis is down'), { code: 'TRIB_ONLINE_UNAVAILABLE' });
    createLogger('materializer', 'info', { format: 'auto', destination: tty.stream }).warn(
      { err: error, target: 'online', attempt: 3 },
      'online store write failed',
    );
    await flushed();
    expect(tty.lines()).toHaveLength(1);
    expect(tty.lines()[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z .*WARN.* materializer: online store write failed err="TRIB_ONLINE_UNAVAILABLE: Redis is down" target=online attempt=3$/,
    );

    const forced = sink(true);
    createLogger('serving', 'info', { format: 'json', destination: forced.stream }).info('ready');
    await flushed();
    expect(JSON.parse(forced.lines()[0]!)).toMatchObject({ level: 'info', msg: 'ready' });
  });

  it('shows a stack only at error level', () => {
    const stack = 'Error: boom\n    at f (x.ts:1:1)';
    const line = (level: string) =>
      formatPretty(
        JSON.stringify({
          level,
          time: 't',
          service: 's',
          msg: 'm',
          err: { type: 'Error', message: 'boom', stack },
        }),
      );
    expect(line('warn').trim().split('\n')).toHaveLength(1);
    expect(line('error')).toContain('at f (x.ts:1:1)');
  });

  it('LOG_FORMAT other than auto, json or pretty stops the start naming the variable', () => {
    expect(() => loadConfig({ LOG_FORMAT: 'yaml' })).toThrow(/LOG_FORMAT="yaml" is invalid/);
    expect(() => loadConfig({ LOG_FORMAT: 'pretty' })).not.toThrow();
  });
});

describe('OutageLog', () => {
  it('logs the first failure at warn, retries at debug, and one recovery line', async () => {
    const out = sink(false);
    const outages = new OutageLog(createLogger('t', 'debug', { format: 'json', destination: out.stream }));
    outages.recovered('online'); // nothing open: nothing logged
    for (let i = 0; i < 5; i++) outages.failed('online', { target: 'online' }, 'online store down');
    outages.recovered('online', {}, 'online store back');
    outages.recovered('online', {}, 'online store back');
    await flushed();
    const all = out.lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(all.map((e) => e['level'])).toEqual(['warn', 'debug', 'debug', 'debug', 'debug', 'info']);
    const entries = all.filter((e) => e['level'] !== 'debug');
    expect(entries.map((e) => [e['level'], e['msg']])).toEqual([
      ['warn', 'online store down (further attempts log at debug until it recovers)'],
      ['info', 'online store back'],
    ]);
    expect(entries[1]).toMatchObject({ failedAttempts: 5 });
    expect(typeof entries[1]!['outageMs']).toBe('number');
  });
});
