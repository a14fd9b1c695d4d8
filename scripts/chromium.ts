/**
 * Headless Debian `chromium` driven over the DevTools protocol (CDP over a WebSocket, `ws`):
 * no browser download, no puppeteer. Installs the `chromium` package with apt-get when it is
 * missing (`aptInstall`, as scripts/services.ts does for Postgres and Redis). Records, per page,
 * the console errors, uncaught exceptions and every request the page makes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { aptInstall, which } from './services.ts';

/** The chromium binary, installed from Debian's packages first when missing. */
export function ensureChromium(): string {
  const found = which('chromium') ?? which('chromium-browser');
  if (found) return found;
  aptInstall('chromium', 'or put a chromium binary on PATH');
  const installed = which('chromium');
  if (!installed) throw new Error('apt-get installed chromium but no chromium binary is on PATH');
  return installed;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

type Listener = (params: Record<string, unknown>, sessionId?: string) => void;

/** One CDP connection (the browser's), with flat sessions for its pages. */
class Connection {
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw) => {
      const message = JSON.parse(String(raw)) as {
        id?: number;
        result?: unknown;
        error?: { message: string };
        method?: string;
        params?: Record<string, unknown>;
        sessionId?: string;
      };
      if (message.id !== undefined) {
        const p = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) p?.reject(new Error(`CDP: ${message.error.message}`));
        else p?.resolve(message.result);
      } else if (message.method) {
        for (const l of this.listeners.get(message.method) ?? []) l(message.params ?? {}, message.sessionId);
      }
    });
  }

  send<T = Record<string, unknown>>(method: string, params: object = {}, sessionId?: string): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  on(method: string, listener: Listener): () => void {
    let set = this.listeners.get(method);
    if (!set) {
      set = new Set();
      this.listeners.set(method, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }

  close(): void {
    this.ws.close();
  }
}

export class Page {
  readonly consoleErrors: string[] = [];
  readonly requests: string[] = [];

  constructor(
    private readonly cdp: Connection,
    private readonly sessionId: string,
  ) {
    const mine =
      (fn: Listener): Listener =>
      (params, session) => {
        if (session === this.sessionId) fn(params);
      };
    cdp.on(
      'Runtime.consoleAPICalled',
      mine((p) => {
        if (p['type'] === 'error' || p['type'] === 'assert')
          this.consoleErrors.push(
            JSON.stringify(
              (p['args'] as { value?: unknown; description?: string }[]).map((a) => a.value ?? a.description),
            ),
          );
      }),
    );
    cdp.on(
      'Runtime.exceptionThrown',
      mine((p) => this.consoleErrors.push(`exception: ${JSON.stringify(p['exceptionDetails'])}`)),
    );
    cdp.on(
      'Log.entryAdded',
      mine((p) => {
        const entry = p['entry'] as { level: string; text: string; url?: string };
        if (entry.level === 'error') this.consoleErrors.push(`${entry.text} ${entry.url ?? ''}`);
      }),
    );
    cdp.on(
      'Network.requestWillBeSent',
      mine((p) => this.requests.push((p['request'] as { url: string }).url)),
    );
  }

  send<T = Record<string, unknown>>(method: string, params: object = {}): Promise<T> {
    return this.cdp.send<T>(method, params, this.sessionId);
  }

  async enable(): Promise<void> {
    await Promise.all(
      ['Page.enable', 'Runtime.enable', 'Log.enable', 'Network.enable'].map((m) => this.send(m)),
    );
  }

  /** Waits for the next load event, while `action` runs (a navigation, a click, a key press). */
  async loaded(action: () => Promise<unknown>, timeoutMs = 15_000): Promise<void> {
    let off = () => {};
    const load = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('page did not load')), timeoutMs);
      off = this.cdp.on('Page.loadEventFired', (_p, session) => {
        if (session !== this.sessionId) return;
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      await action();
      await load;
    } finally {
      off();
    }
  }

  async goto(url: string): Promise<void> {
    await this.loaded(() => this.send('Page.navigate', { url }));
  }

  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send<{ result: { value?: T }; exceptionDetails?: unknown }>('Runtime.evaluate', {
      expression,
      returnByValue: true,
      awaitPromise: true,
    });
    if (r.exceptionDetails) throw new Error(`evaluate failed: ${JSON.stringify(r.exceptionDetails)}`);
    return r.result.value as T;
  }

  /** Polls `expression` until it is truthy. */
  async waitFor<T>(expression: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await this.evaluate<T>(expression);
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async press(key: 'Tab' | 'Enter'): Promise<void> {
    const code = key === 'Tab' ? 9 : 13;
    const text = key === 'Enter' ? '\r' : undefined;
    await this.send('Input.dispatchKeyEvent', {
      type: 'keyDown',
      key,
      code: key,
      windowsVirtualKeyCode: code,
      ...(text ? { text } : {}),
    });
    await this.send('Input.dispatchKeyEvent', { type: 'keyUp', key, code: key, windowsVirtualKeyCode: code });
  }

  /** Sets the viewport's size in CSS pixels, at one device pixel each (small screenshots). */
  async viewport(width: number, height: number): Promise<void> {
    await this.send('Emulation.setDeviceMetricsOverride', {
      width,
      height,
      deviceScaleFactor: 1,
      mobile: false,
    });
  }

  /** A PNG of the whole page, or (`fullPage: false`) of what the viewport shows. */
  async screenshot(options: { fullPage?: boolean } = {}): Promise<Buffer> {
    const { data } = await this.send<{ data: string }>('Page.captureScreenshot', {
      format: 'png',
      captureBeyondViewport: options.fullPage ?? true,
    });
    return Buffer.from(data, 'base64');
  }
}

export class Browser {
  private constructor(
    private readonly process: ChildProcess,
    private readonly cdp: Connection,
    private readonly profile: string,
  ) {}

  static async launch(): Promise<Browser> {
    const binary = ensureChromium();
    const profile = await mkdtemp(path.join(os.tmpdir(), 'tributary-chromium-'));
    const child = spawn(
      binary,
      [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--remote-debugging-port=0',
        `--user-data-dir=${profile}`,
        '--no-first-run',
        '--no-default-browser-check',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--window-size=1200,900',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const endpoint = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(
        () => reject(new Error(`chromium did not start: ${err.slice(-2000)}`)),
        30_000,
      );
      child.stderr!.on('data', (chunk: Buffer) => {
        err += chunk.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`chromium exited with ${code}: ${err.slice(-2000)}`)));
    });
    const ws = new WebSocket(endpoint, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Browser(child, new Connection(ws), profile);
  }

  /** A new tab with its own cookie jar (a fresh browser context). */
  async page(): Promise<Page> {
    const { browserContextId } = await this.cdp.send<{ browserContextId: string }>(
      'Target.createBrowserContext',
    );
    const { targetId } = await this.cdp.send<{ targetId: string }>('Target.createTarget', {
      url: 'about:blank',
      browserContextId,
    });
    const { sessionId } = await this.cdp.send<{ sessionId: string }>('Target.attachToTarget', {
      targetId,
      flatten: true,
    });
    const page = new Page(this.cdp, sessionId);
    await page.enable();
    return page;
  }

  async close(): Promise<void> {
    await this.cdp.send('Browser.close').catch(() => undefined);
    this.cdp.close();
    await new Promise<void>((resolve) => {
      if (this.process.exitCode !== null) return resolve();
      const timer = setTimeout(() => {
        this.process.kill('SIGKILL');
        resolve();
      }, 5_000);
      this.process.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await rm(this.profile, { recursive: true, force: true });
  }
}
