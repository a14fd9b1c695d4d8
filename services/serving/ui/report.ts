/**
 * `tributary report`: the dashboard's model page and window pages in one self-contained HTML
 * file (uPlot and the data inlined, a CSP that allows no request at all), or the same content as
 * JSON. Built from the same data builders as the dashboard, so both show the same numbers.
 */

import { TributaryError } from '../../../shared/errors.ts';
import type { MonitorQueries } from '../../../shared/monitoring/queries.ts';
import { inlineAssets } from './assets.ts';
import { type ModelData, modelData, type RangeOptions, type WindowData, windowData } from './data.ts';
import { esc, isoTime, type Links, modelBody, page, windowBody } from './templates.ts';

/** Windows drawn in full (histograms, shares): the latest and the most recent drifted ones. */
export const REPORT_WINDOW_DETAILS = 20;

export interface Report {
  generated_at: string;
  model: ModelData;
  /** The latest window and the newest drifted ones, with their detail; newest first. */
  windows: WindowData[];
}

export async function buildReport(
  queries: MonitorQueries,
  model: string,
  range: RangeOptions,
): Promise<Report> {
  const data = await modelData(queries, model, range);
  if (data.windows.length === 0) {
    throw new TributaryError(
      'TRIB_NOT_FOUND',
      `no closed drift windows for model '${model}'${range.modelVersion ? ` version ${range.modelVersion}` : ''} in that range`,
    );
  }
  const newest = [...data.windows].reverse();
  const chosen = [newest[0]!, ...newest.slice(1).filter((w) => w.drifted)].slice(0, REPORT_WINDOW_DETAILS);
  const windows = await Promise.all(chosen.map((w) => windowData(queries, model, w.id)));
  return { generated_at: new Date().toISOString(), model: data, windows };
}

/** No request of any kind: the file opens from disk, e-mail or a CI artifact alike. */
const REPORT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

export function reportHtml(report: Report): string {
  const included = new Set(report.windows.map((w) => w.window.id));
  const links: Links = {
    models: null,
    featureViews: null,
    model: () => '#model',
    window: (_m, id) => (included.has(id) ? `#w-${id}` : null),
  };
  const m = report.model;
  const windows = report.windows
    .map(
      (w) =>
        `<section class="report-window" id="w-${esc(w.window.id)}">${windowBody(w, links, { heading: 'h2', idPrefix: `w-${w.window.id}-` })}</section>`,
    )
    .join('\n');
  const body = `<div id="model">${modelBody(m, links, { picker: false })}</div>
<p class="legend">Report generated ${esc(report.generated_at)} by <code>tributary report</code>. Below: the latest window and up to ${REPORT_WINDOW_DETAILS - 1} most recent drifted ones, in full.</p>
${windows}`;
  return page({
    title: `Drift report: ${m.model}`,
    crumbs: [
      {
        label: `Drift report: ${m.model}, windows to ${isoTime(m.windows[m.windows.length - 1]?.end)}`,
        href: null,
      },
    ],
    body,
    data: {
      model: m,
      windows: report.windows,
      windowLinks: Object.fromEntries([...included].map((id) => [id, `#w-${id}`])),
    },
    assets: inlineAssets(),
    links,
    csp: REPORT_CSP,
  });
}
