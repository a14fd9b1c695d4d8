/**
 * Server-rendered HTML of the dashboard pages and of the report file. Every value from the
 * store goes through `esc`; the charts' numbers travel as JSON in a non-executed
 * `<script type="application/json">` that the client script (assets/dashboard.js) reads.
 */

import type { ColumnDrift } from '../../../shared/monitoring/events.ts';
import type { ModelData, ModelSummary, WindowData } from './data.ts';

export function esc(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

/** JSON safe inside a <script> element: no `</script>`, no `<!--`. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

export function isoTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

export function duration(ms: number | null): string {
  if (ms === null) return '–';
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

function num(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined) return '–';
  if (x !== 0 && Math.abs(x) < 10 ** -digits) return x.toExponential(2);
  return Number(x.toFixed(digits)).toString();
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

/** Where links point: the dashboard's URLs, or anchors inside a report file. */
export interface Links {
  models: string | null;
  model(model: string): string;
  /** Null: the window is not part of this document. */
  window(model: string, id: string): string | null;
  featureViews: string | null;
}

export const DASHBOARD_LINKS: Links = {
  models: '/ui',
  model: (m) => `/ui/models/${encodeURIComponent(m)}`,
  window: (m, id) => `/ui/models/${encodeURIComponent(m)}/windows/${encodeURIComponent(id)}`,
  featureViews: '/ui/feature-views',
};

export interface PageAssets {
  /** `<link>`/`<script src>` tags (dashboard) or inlined `<style>`/`<script>` (report). */
  head: string;
  /** The client script (tag), placed after the data. */
  script: string;
}

export function page(options: {
  title: string;
  crumbs: { label: string; href: string | null }[];
  body: string;
  data?: unknown;
  assets: PageAssets;
  links: Links;
  csp?: string;
}): string {
  const nav = [
    options.links.models ? `<a href="${esc(options.links.models)}">Models</a>` : '',
    options.links.featureViews ? `<a href="${esc(options.links.featureViews)}">Feature views</a>` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const crumbs = options.crumbs
    .map((c) => (c.href ? `<a href="${esc(c.href)}">${esc(c.label)}</a>` : `<span>${esc(c.label)}</span>`))
    .join(' <span aria-hidden="true">›</span> ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${options.csp ? `<meta http-equiv="Content-Security-Policy" content="${esc(options.csp)}">` : ''}
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${esc(options.title)} · Tributary</title>
${options.assets.head}
</head>
<body>
<header><strong class="brand">Tributary</strong> <nav aria-label="main">${nav}</nav></header>
<nav class="crumbs" aria-label="breadcrumb">${crumbs}</nav>
<main id="main">
${options.body}
</main>
${options.data === undefined ? '' : `<script type="application/json" id="tributary-data">${scriptJson(options.data)}</script>`}
${options.assets.script}
</body>
</html>
`;
}

const badge = (drifted: boolean) =>
  drifted ? '<span class="badge drifted">drifted</span>' : '<span class="badge ok">no drift</span>';

export function modelsBody(models: ModelSummary[], links: Links): string {
  if (models.length === 0) {
    return '<h1>Models</h1><p>No closed drift windows yet. Run <code>tributary monitor</code> on a prediction stream; models appear here once their first window closes.</p>';
  }
  const rows = models
    .map((m) => {
      const w = m.webhooks;
      return `<tr>
<td><a href="${esc(links.model(m.model))}">${esc(m.model)}</a></td>
<td>${esc(m.modelVersion ?? '–')}</td>
<td>${
        m.latest
          ? `${badge(m.latest.drifted)} <a href="${esc(links.window(m.model, m.latest.id) ?? '#')}">${esc(isoTime(m.latest.end))}</a>`
          : '–'
      }</td>
<td class="num">${m.latest ? pct(m.latest.share) : '–'}</td>
<td class="num">${m.windows}</td>
<td>${m.lastRetrain ? `${esc(isoTime(m.lastRetrain.at))} (v${esc(m.lastRetrain.modelVersion)})` : 'none'}</td>
<td class="num">${w ? w.pending : 0}</td>
<td class="num${w && w.failed > 0 ? ' bad' : ''}">${w ? w.failed : 0}</td>
<td class="num">${esc(duration(w?.oldestPendingMs ?? null))}</td>
</tr>`;
    })
    .join('\n');
  return `<h1>Models</h1>
<table class="grid" id="models">
<caption>Monitored models: the latest window's verdict, the last retraining request and webhook health</caption>
<thead><tr><th scope="col">model</th><th scope="col">model version</th><th scope="col">latest window</th><th scope="col">drift share</th><th scope="col">windows</th><th scope="col">last retraining request</th><th scope="col">webhooks pending</th><th scope="col">given up</th><th scope="col">oldest pending</th></tr></thead>
<tbody>
${rows}
</tbody></table>`;
}

function toLocalInput(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString().slice(0, 16);
}

/** The model over time: the dataset share chart, one score chart per column, the windows. */
export function modelBody(data: ModelData, links: Links, options: { picker: boolean }): string {
  const picker = options.picker
    ? `<form class="range" method="get" action="${esc(links.model(data.model))}">
<label>from (UTC) <input type="datetime-local" name="from" value="${esc(toLocalInput(data.range.from))}"></label>
<label>to (UTC) <input type="datetime-local" name="to" value="${esc(toLocalInput(data.range.to))}"></label>
<label>newest <input type="number" name="limit" min="1" max="1000" value="${data.range.limit}"> windows</label>
<button type="submit">Show</button>
<a href="${esc(links.model(data.model))}">reset</a>
</form>`
    : `<p>Windows ${esc(isoTime(data.windows[0]?.end))} to ${esc(isoTime(data.windows[data.windows.length - 1]?.end))}.</p>`;
  if (data.windows.length === 0) {
    return `<h1>${esc(data.model)}</h1>${picker}<p>No closed windows in this range.</p>`;
  }
  const drifted = data.windows.filter((w) => w.drifted).length;
  const columns = data.columns
    .map(
      (c, i) => `<section class="column" id="column-${esc(c.name)}">
<h3>${esc(c.name)} <small>${esc(c.kind)} · ${esc(c.methods.join(', ') || 'not measured')} · drifted in ${c.driftedWindows} of ${data.windows.length} windows</small></h3>
<div class="chart" data-chart="score" data-column="${i}" role="img" aria-label="score of ${esc(c.name)} per window, with its threshold; drifted windows marked"></div>
</section>`,
    )
    .join('\n');
  const newest = [...data.windows].reverse();
  const rows = newest
    .map((w) => {
      const href = links.window(data.model, w.id);
      const label = esc(isoTime(w.end));
      return `<tr class="${w.drifted ? 'drifted' : ''}"><td>${href ? `<a href="${esc(href)}">${label}</a>` : label}</td><td>${esc(w.modelVersion)}</td><td class="num">${w.rows}</td><td class="num">${pct(w.share)}</td><td>${badge(w.drifted)}</td></tr>`;
    })
    .join('\n');
  const retrains = data.retrains.length
    ? `<ul>${data.retrains
        .map((r) => `<li>${esc(isoTime(r.at))} — v${esc(r.modelVersion)}: ${esc(r.reason)}</li>`)
        .join('')}</ul>`
    : '<p>None in this range.</p>';
  return `<h1>${esc(data.model)}</h1>
${picker}
<p class="summary">${data.windows.length} windows, ${drifted} with dataset drift, ${data.retrains.length} retraining requests. Latest: ${badge(data.windows[data.windows.length - 1]!.drifted)}</p>
<section id="dataset"><h2>Dataset drift share</h2>
<div class="chart" data-chart="share" role="img" aria-label="share of drifted columns per window with the dataset threshold"></div>
<p class="legend">Dashed: threshold. Red points: windows with dataset drift. Violet lines: retraining requests. Click a point to open its window.</p>
</section>
<h2>Scores per column</h2>
<p class="legend">p-value methods (ks, chisquare, z) drift below their threshold; distances (wasserstein, psi, jensenshannon, hellinger) at or above it.</p>
${columns}
<section id="retrains"><h2>Retraining requests</h2>${retrains}</section>
<section id="windows"><h2>Windows</h2>
<table class="grid"><thead><tr><th scope="col">window end</th><th scope="col">model version</th><th scope="col">rows</th><th scope="col">drift share</th><th scope="col">dataset</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
}

function verdictRow(c: ColumnDrift, anchor: string): string {
  return `<tr class="${c.drifted ? 'drifted' : ''}"><td><a href="#${esc(anchor)}">${esc(c.name)}</a></td><td>${esc(c.kind)}</td><td>${esc(c.method ?? 'not measured')}</td><td class="num">${num(c.score)}</td><td class="num">${num(c.threshold)}</td><td>${c.measured ? badge(c.drifted) : esc(c.reason ?? '')}</td><td class="num">${pct(c.missing_share)}</td></tr>`;
}

/** One window: the verdicts, then per column its histograms or shares. */
export function windowBody(
  data: WindowData,
  links: Links,
  options: { heading: 'h1' | 'h2'; idPrefix: string },
): string {
  const w = data.window;
  const H = options.heading;
  const h = H === 'h1' ? 'h2' : 'h3';
  const columns = w.prediction ? [...w.features, w.prediction] : w.features;
  const anchor = (name: string) => `${options.idPrefix}col-${name}`;
  const verdicts = columns.map((c) => verdictRow(c, anchor(c.name))).join('\n');
  const details = columns
    .map((c) => {
      const d = data.detail?.columns.find((x) => x.name === c.name);
      const head = `<${h}>${esc(c.name)} <small>${esc(c.kind)} · ${esc(c.method ?? 'not measured')} · score ${num(c.score)} · threshold ${num(c.threshold)}</small> ${c.measured ? badge(c.drifted) : ''}</${h}>`;
      if (!d)
        return `<section class="column" id="${esc(anchor(c.name))}">${head}<p>No histogram kept for this column.</p></section>`;
      const missing = `<p>Missing: reference ${pct(d.missingShare.reference)}, window ${pct(d.missingShare.window)}.</p>`;
      if (d.kind === 'numeric') {
        const notes: string[] = [];
        if (d.aboveReference > 0)
          notes.push(
            `${d.aboveReference} window values above the reference maximum ${num(d.edges[d.edges.length - 1]!)} (up to ${num(d.windowMax)})`,
          );
        if (d.windowMin !== null && d.windowMin < d.edges[0]!)
          notes.push(
            `window values down to ${num(d.windowMin)}, below the reference minimum, are counted in the first bin`,
          );
        return `<section class="column" id="${esc(anchor(c.name))}">${head}
<div class="chart" data-chart="hist" data-window="${esc(w.id)}" data-column="${esc(c.name)}" role="img" aria-label="histograms of ${esc(c.name)}: reference and window, on the reference's bins"></div>
<p class="legend">Density per bin (share of values ÷ bin width) on bins cut at the reference's grid edges. Reference: ${d.referenceN} values; window: ${d.windowN}.${notes.length ? ` ${esc(notes.join('; '))}.` : ''}</p>${missing}</section>`;
      }
      const rows = d.categories
        .map(
          (k) =>
            `<tr><td>${esc(k.value)}</td><td class="num">${pct(k.referenceShare)}</td><td class="num">${pct(k.windowShare)}</td><td class="num">${k.window}</td></tr>`,
        )
        .join('');
      const named = (label: string, xs: string[]) =>
        `<p>${label}: ${xs.length ? xs.map((x) => `<code>${esc(x)}</code>`).join(', ') : 'none'}.</p>`;
      return `<section class="column" id="${esc(anchor(c.name))}">${head}
<div class="chart" data-chart="shares" data-window="${esc(w.id)}" data-column="${esc(c.name)}" role="img" aria-label="category shares of ${esc(c.name)}: reference and window side by side"></div>
${named('New in the window', d.newCategories)}${named('Missing from the window', d.missingCategories)}${missing}
<details><summary>Shares table</summary><table class="grid"><thead><tr><th scope="col">category</th><th scope="col">reference</th><th scope="col">window</th><th scope="col">window count</th></tr></thead><tbody>${rows}</tbody></table>${d.omitted ? `<p>${d.omitted} smaller categories not listed.</p>` : ''}</details>
</section>`;
    })
    .join('\n');
  const back = links.model(data.model);
  return `<${H} id="${esc(options.idPrefix)}window">Window ending ${esc(isoTime(w.window.end))}</${H}>
<p class="summary">${badge(w.dataset.drifted)} ${pct(w.dataset.drifted_share)} of columns drifted (dataset threshold ${pct(w.dataset.threshold)}). Model <a href="${esc(back)}">${esc(w.model)}</a> v${esc(w.model_version)}; ${w.window.rows} predictions from ${esc(isoTime(w.window.start))} to ${esc(isoTime(w.window.end))}. Window id <code>${esc(w.id)}</code>.</p>
${data.detail ? '' : '<p class="warn">This window is older than the newest ones whose histograms the monitor keeps (TRIBUTARY_MONITOR_KEEP_WINDOW_DETAIL): only its verdicts are shown.</p>'}
<table class="grid verdicts"><thead><tr><th scope="col">column</th><th scope="col">kind</th><th scope="col">method</th><th scope="col">score</th><th scope="col">threshold</th><th scope="col">verdict</th><th scope="col">missing</th></tr></thead>
<tbody>
${verdicts}
</tbody></table>
${details}`;
}

export function loginBody(message: string | null, next: string): string {
  return `<h1>Sign in</h1>
${message ? `<p class="warn" role="alert">${esc(message)}</p>` : ''}
<form method="post" action="/ui/login" class="login">
<input type="hidden" name="next" value="${esc(next)}">
<label>API key <input type="password" name="key" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form>
<p>One of <code>TRIBUTARY_API_KEYS</code>. The browser keeps a cookie derived from it (HttpOnly, SameSite=Strict) for the dashboard's pages only.</p>`;
}
