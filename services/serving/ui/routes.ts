/**
 * The dashboard at /ui, served by `tributary serve`: server-rendered pages (models, a model over
 * time, one window, feature views) whose charts a small client script draws with uPlot.
 *
 *   GET /ui                                  models
 *   GET /ui/models/:model?from&to&limit&model_version
 *   GET /ui/models/:model/windows/:id
 *   GET /ui/feature-views                    feature views
 *   GET /ui/feature-views/:name
 *   GET|POST /ui/login                       the API key, once, for a cookie
 *   GET /ui/assets/*                         uPlot and the dashboard's own script and style
 *
 * With TRIBUTARY_API_KEYS set, a page needs a key: `Authorization: Bearer`, or the cookie
 * /ui/login (or `?key=` on any page) sets. A browser cannot send a Bearer header when it
 * follows a link, hence the cookie.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { httpStatusOf, isTributaryError, TributaryError } from '../../../shared/errors.ts';
import { type MonitorQueries, parseTime } from '../../../shared/monitoring/queries.ts';
import type { DefinitionsSource } from '../../../shared/registry/live.ts';
import { assets, LINKED_ASSETS } from './assets.ts';
import { modelData, modelsData, windowData } from './data.ts';
import { type FeatureViewStats, featureViewBody, featureViewsBody, featureViewsOf } from './feature-views.ts';
import { DASHBOARD_LINKS, esc, loginBody, modelBody, modelsBody, page, windowBody } from './templates.ts';

export const COOKIE = 'tributary_ui';

/** Everything the pages need, itself included: no script, style, font or image from elsewhere. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export interface UiDeps {
  queries?: MonitorQueries | undefined;
  definitions: DefinitionsSource;
  featureViewStats?: FeatureViewStats | undefined;
  apiKeys: readonly string[];
}

/** The cookie's value for a key: a MAC of it, so the browser never stores the key itself. */
function tokenOf(key: string): string {
  return createHmac('sha256', key).update('tributary-ui-session').digest('base64url');
}

function cookieOf(request: FastifyRequest): string | null {
  const header = request.headers.cookie ?? '';
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) return rest.join('=');
  }
  return null;
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The /ui part of the API-key check (app.ts delegates /ui paths here): a Bearer key, the
 * session cookie, or `?key=` (which sets the cookie and redirects to the URL without it).
 * Answers the request itself (401 login page, or the redirect) and returns false when the
 * request may not go on. Assets and the login page are open: they hold no data.
 */
export function authorizeUi(
  request: FastifyRequest,
  reply: FastifyReply,
  path: string,
  keyMatches: (key: string) => boolean,
  keys: readonly string[],
): boolean {
  if (path === '/ui/login' || path.startsWith('/ui/assets/')) return true;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
  if (bearer && keyMatches(bearer[1]!)) return true;
  const cookie = cookieOf(request);
  let ok = false;
  if (cookie) for (const k of keys) if (equal(tokenOf(k), cookie)) ok = true;
  if (ok) return true;
  const url = new URL(request.url, 'http://ui');
  const given = url.searchParams.get('key');
  if (given !== null && keyMatches(given)) {
    url.searchParams.delete('key');
    setSession(request, reply, given);
    void reply.redirect(url.pathname + url.search, 303);
    return false;
  }
  const message =
    given !== null ? 'That key is not one of TRIBUTARY_API_KEYS.' : 'This dashboard needs an API key.';
  void reply
    .code(401)
    .header('content-security-policy', CSP)
    .type('text/html; charset=utf-8')
    .send(loginPage(message, request.url.replace(/([?&])key=[^&]*&?/, '$1')));
  return false;
}

function setSession(request: FastifyRequest, reply: FastifyReply, key: string): void {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  reply.header('set-cookie', `${COOKIE}=${tokenOf(key)}; Path=/ui; HttpOnly; SameSite=Strict${secure}`);
}

function loginPage(message: string | null, next: string): string {
  return page({
    title: 'Sign in',
    crumbs: [{ label: 'Sign in', href: null }],
    body: loginBody(message, next),
    assets: {
      head: LINKED_ASSETS.head
        .split('\n')
        .filter((l) => l.includes('.css'))
        .join('\n'),
      script: '',
    },
    links: { ...DASHBOARD_LINKS, models: null, featureViews: null },
  });
}

/** Only a path inside the dashboard: `next` never sends the browser elsewhere. */
function safeNext(next: unknown): string {
  return typeof next === 'string' && /^\/ui(\/|\?|$)/.test(next) && !next.startsWith('//') ? next : '/ui';
}

function html(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-security-policy', CSP)
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(body);
}

function errorPage(reply: FastifyReply, error: unknown): FastifyReply {
  const e = isTributaryError(error)
    ? error
    : new TributaryError('TRIB_INTERNAL', 'internal error: the server log has the details');
  const status = httpStatusOf(e.code);
  if (status >= 500) reply.log.error({ err: error }, 'dashboard page failed');
  return html(
    reply,
    status,
    page({
      title: e.code,
      crumbs: [{ label: 'Models', href: '/ui' }],
      body: `<h1>${esc(e.code)}</h1><p>${esc(e.message)}</p>`,
      assets: LINKED_ASSETS,
      links: DASHBOARD_LINKS,
    }),
  );
}

function noMonitor(): TributaryError {
  return new TributaryError('TRIB_NOT_FOUND', 'this server has no drift monitor queries configured');
}

/** Registers the /ui routes (in an encapsulated context: the login form's parser stays here). */
export async function registerUiRoutes(app: FastifyInstance, deps: UiDeps): Promise<void> {
  await app.register(async (ui) => {
    ui.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_req, body, done) => {
        done(null, Object.fromEntries(new URLSearchParams(body as string)));
      },
    );

    ui.get<{ Params: { name: string } }>(
      '/ui/assets/:name',
      { schema: { hide: true } },
      async (request, reply) => {
        const asset = assets()[request.params.name];
        if (!asset)
          return errorPage(reply, new TributaryError('TRIB_NOT_FOUND', `no asset ${request.params.name}`));
        return reply.type(asset.type).header('cache-control', 'public, max-age=3600').send(asset.body);
      },
    );

    ui.get<{ Querystring: { next?: string } }>(
      '/ui/login',
      { schema: { hide: true } },
      async (request, reply) => html(reply, 200, loginPage(null, safeNext(request.query.next))),
    );

    ui.post<{ Body: { key?: string; next?: string } }>(
      '/ui/login',
      { schema: { hide: true } },
      async (request, reply) => {
        const key = typeof request.body?.key === 'string' ? request.body.key : '';
        const next = safeNext(request.body?.next);
        if (deps.apiKeys.length === 0) return reply.redirect(next, 303);
        if (!deps.apiKeys.some((k) => equal(k, key))) {
          return html(reply, 401, loginPage('That key is not one of TRIBUTARY_API_KEYS.', next));
        }
        setSession(request, reply, key);
        return reply.redirect(next, 303);
      },
    );

    ui.get('/ui', { schema: { hide: true } }, async (_request, reply) => {
      try {
        if (!deps.queries) throw noMonitor();
        const models = await modelsData(deps.queries);
        return html(
          reply,
          200,
          page({
            title: 'Models',
            crumbs: [{ label: 'Models', href: null }],
            body: modelsBody(models, DASHBOARD_LINKS),
            assets: LINKED_ASSETS,
            links: DASHBOARD_LINKS,
          }),
        );
      } catch (error) {
        return errorPage(reply, error);
      }
    });
    ui.get('/ui/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/ui', 301));

    ui.get<{
      Params: { model: string };
      Querystring: { from?: string; to?: string; limit?: string; model_version?: string };
    }>('/ui/models/:model', { schema: { hide: true } }, async (request, reply) => {
      try {
        if (!deps.queries) throw noMonitor();
        const q = request.query;
        // datetime-local inputs send no zone: the page labels them UTC and reads them so.
        const utc = (v: string | undefined) => (v && /T\d\d:\d\d(:\d\d)?$/.test(v) ? `${v}Z` : v);
        const from = parseTime('from', utc(q.from));
        const to = parseTime('to', utc(q.to));
        const limit = q.limit === undefined || q.limit === '' ? 500 : Number(q.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
          throw new TributaryError(
            'TRIB_BAD_REQUEST',
            `limit=${JSON.stringify(q.limit)}: expected an integer from 1 to 1000`,
          );
        }
        const model = request.params.model;
        const data = await modelData(deps.queries, model, {
          ...(from === undefined ? {} : { from }),
          ...(to === undefined ? {} : { to }),
          ...(q.model_version ? { modelVersion: q.model_version } : {}),
          limit,
        });
        const windowLinks = Object.fromEntries(
          data.windows.map((w) => [w.id, DASHBOARD_LINKS.window(model, w.id)]),
        );
        return html(
          reply,
          200,
          page({
            title: model,
            crumbs: [
              { label: 'Models', href: '/ui' },
              { label: model, href: null },
            ],
            body: modelBody(data, DASHBOARD_LINKS, { picker: true }),
            data: { model: data, windowLinks },
            assets: LINKED_ASSETS,
            links: DASHBOARD_LINKS,
          }),
        );
      } catch (error) {
        return errorPage(reply, error);
      }
    });

    ui.get<{ Params: { model: string; id: string } }>(
      '/ui/models/:model/windows/:id',
      { schema: { hide: true } },
      async (request, reply) => {
        try {
          if (!deps.queries) throw noMonitor();
          const { model, id } = request.params;
          const data = await windowData(deps.queries, model, id);
          return html(
            reply,
            200,
            page({
              title: `${model} window ${data.window.window.end}`,
              crumbs: [
                { label: 'Models', href: '/ui' },
                { label: model, href: DASHBOARD_LINKS.model(model) },
                { label: `window ${new Date(data.window.window.end).toISOString()}`, href: null },
              ],
              body: windowBody(data, DASHBOARD_LINKS, { heading: 'h1', idPrefix: '' }),
              data: { windows: [data] },
              assets: LINKED_ASSETS,
              links: DASHBOARD_LINKS,
            }),
          );
        } catch (error) {
          return errorPage(reply, error);
        }
      },
    );

    ui.get('/ui/feature-views', { schema: { hide: true } }, async (_request, reply) => {
      try {
        const views = await featureViewsOf(deps.definitions.current(), deps.featureViewStats);
        return html(
          reply,
          200,
          page({
            title: 'Feature views',
            crumbs: [{ label: 'Feature views', href: null }],
            body: featureViewsBody(views, Boolean(deps.featureViewStats)),
            assets: LINKED_ASSETS,
            links: DASHBOARD_LINKS,
          }),
        );
      } catch (error) {
        return errorPage(reply, error);
      }
    });

    ui.get<{ Params: { name: string } }>(
      '/ui/feature-views/:name',
      { schema: { hide: true } },
      async (request, reply) => {
        try {
          const name = request.params.name;
          const [view] = await featureViewsOf(deps.definitions.current(), deps.featureViewStats, name);
          if (!view) throw new TributaryError('TRIB_NOT_FOUND', `no feature view '${name}' in the registry`);
          return html(
            reply,
            200,
            page({
              title: name,
              crumbs: [
                { label: 'Feature views', href: '/ui/feature-views' },
                { label: name, href: null },
              ],
              body: featureViewBody(view, Boolean(deps.featureViewStats)),
              assets: LINKED_ASSETS,
              links: DASHBOARD_LINKS,
            }),
          );
        } catch (error) {
          return errorPage(reply, error);
        }
      },
    );
  });
}
