import { writeFile } from 'node:fs/promises';
import { buildReport, REPORT_WINDOW_DETAILS, reportHtml } from '../../services/serving/ui/report.ts';
import { loadConfig } from '../../shared/config.ts';
import { TributaryError } from '../../shared/errors.ts';
import { openMonitorQueries, parseTime } from '../../shared/monitoring/queries.ts';
import type { Command } from '../command.ts';
import { MONITOR_SCHEMA, reportError, withOptions } from '../options.ts';

const OPTIONS = {
  model: { type: 'string' },
  'model-version': { type: 'string' },
  last: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  out: { type: 'string' },
  format: { type: 'string', default: 'html' },
  ...MONITOR_SCHEMA.option,
} as const;

export const reportCommand: Command = {
  name: 'report',
  summary: "Write a model's drift report: one self-contained HTML file (or JSON) to send on",
  help: `Usage: tributary report --model <name> [--model-version <v>] [--last <n> | --from <t> --to <t>] --out <file> [--format html|json]

Writes the dashboard's drift pictures of a model to one file: the dataset drift share and every
column's score per window with its threshold, drifted windows and retraining requests marked, then
the latest window and up to ${REPORT_WINDOW_DETAILS - 1} most recent drifted ones in full (overlaid histograms per
numeric column, category shares side by side, new and missing categories). The HTML file carries
its chart library, styles and data inline and makes no request: it opens from disk, an e-mail or a
CI artifact. --format json writes the same content as JSON.

Options:
  --model <name>              the model (required)
  --model-version <v>         only windows of this model version
  --last <n>                  the newest n windows, 1–1000 (default: 500)
  --from <time>               windows ending at or after (epoch ms or ISO-8601)
  --to <time>                 windows ending before (epoch ms or ISO-8601)
  --out <file>                where to write (required)
  --format html|json          html (default) or json
  --monitor-schema <name>     Postgres schema of the monitor ${MONITOR_SCHEMA.default}
  -h, --help                  show this help

Environment: DATABASE_URL, TRIBUTARY_MONITOR_SCHEMA, TRIBUTARY_DEBUG (set: a failure prints its stack).

Examples:
  tributary report --model driver_model --out drift.html
  tributary report --model driver_model --model-version 3 --last 100 --out drift.html
  tributary report --model driver_model --from 2026-11-01 --to 2026-11-08 --format json --out drift.json`,

  run: withOptions('report', OPTIONS, async (values) => {
    for (const required of ['model', 'out'] as const) {
      if (!values[required]) {
        console.error(`tributary report: --${required} is required. Run 'tributary report --help'.`);
        return 2;
      }
    }
    let close: (() => Promise<void>) | null = null;
    try {
      const format = values.format;
      if (format !== 'html' && format !== 'json') {
        throw new TributaryError('TRIB_BAD_REQUEST', `--format ${format}: expected html or json`);
      }
      if (values.last !== undefined && (values.from !== undefined || values.to !== undefined)) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          '--last and --from/--to exclude each other: give one or the other',
        );
      }
      const limit = values.last === undefined ? 500 : Number(values.last);
      if (!/^\d+$/.test(values.last ?? '1') || limit < 1 || limit > 1000) {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `--last ${values.last}: expected an integer from 1 to 1000`,
        );
      }
      const from = parseTime('--from', values.from);
      const to = parseTime('--to', values.to);
      const config = loadConfig();
      const opened = openMonitorQueries({
        databaseUrl: config.databaseUrl,
        schema: MONITOR_SCHEMA.of(values['monitor-schema']),
      });
      close = opened.close;
      const started = performance.now();
      const report = await buildReport(opened.queries, values.model!, {
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
        ...(values['model-version'] ? { modelVersion: values['model-version'] } : {}),
        limit,
      });
      const text = format === 'json' ? `${JSON.stringify(report)}\n` : reportHtml(report);
      await writeFile(values.out!, text).catch((error: unknown) => {
        throw new TributaryError(
          'TRIB_BAD_REQUEST',
          `cannot write ${values.out}: ${(error as Error).message}`,
        );
      });
      const m = report.model;
      console.log(
        `Wrote the drift report of ${m.model} to ${values.out}: ${m.windows.length} windows (${m.windows.filter((w) => w.drifted).length} drifted), ${report.windows.length} in full, ${m.retrains.length} retraining requests, ${(text.length / 1024).toFixed(0)} KiB in ${((performance.now() - started) / 1000).toFixed(2)} s`,
      );
      return 0;
    } catch (error) {
      return reportError('report', error);
    } finally {
      await close?.();
    }
  }),
};
