/**
 * The text of a `POST /get-online-features` answer (Feast's shape, column-major, join keys first),
 * written from the online store's records with their values still as stored JSON text
 * (`OnlineRecordJson`): each value is copied from the stored array into the answer, never parsed
 * and printed again. docs/serving.md "Performance" has the figures.
 *
 * What the answer holds is exactly what decoding the values would give: float64, timestamp, bool
 * and string values are what `JSON.stringify` wrote, so copying their text is printing them
 * again; int64 values are stored as JSON strings and answered as JSON numbers while exact
 * (|v| < 2^53), else as the decimal string.
 */
import { TributaryError } from '../../shared/errors.ts';
import type { KeyValue } from '../../shared/retrieval/entities.ts';
import { isoTimestamp, jsonValue } from '../../shared/retrieval/json.ts';
import { scanJsonArray } from '../../shared/retrieval/json-tokens.ts';
import type { RetrievalPlan } from '../../shared/retrieval/plan.ts';
import type { OnlineRecord, OnlineRecordJson } from '../../shared/stores/online/port.ts';

const EPOCH_JSON = '"1970-01-01T00:00:00Z"';
const PRESENT = '"PRESENT"';
const NULL_VALUE = '"NULL_VALUE"';
const NOT_FOUND = '"NOT_FOUND"';
const OUTSIDE_MAX_AGE = '"OUTSIDE_MAX_AGE"';
/** The largest |int64| answered as a JSON number, as digits. */
const MAX_SAFE_DIGITS = String(Number.MAX_SAFE_INTEGER);

/** A feature or key value as JSON text: int64 as a number while exact, else a decimal string. */
export function valueJson(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return JSON.stringify(jsonValue(value)) ?? 'null';
}

/** Decoded records as the stored text would be (for online stores without `readJson`). */
export function recordsAsJson(records: readonly (OnlineRecord | null)[]): (OnlineRecordJson | null)[] {
  return records.map((record) => {
    if (record === null) return null;
    let valuesJson = '[';
    record.values.forEach((value, i) => {
      if (i > 0) valuesJson += ',';
      // int64 arrives as bigint and is stored as a JSON string, like the Redis adapter writes it.
      valuesJson += typeof value === 'bigint' ? `"${value}"` : (JSON.stringify(value) ?? 'null');
    });
    return { eventTimestamp: record.eventTimestamp, created: record.created, valuesJson: `${valuesJson}]` };
  });
}

/** What every answer of one plan shares, computed once per plan. */
interface PlanText {
  /** `,"name"...` of the features' output names (after the join keys' names). */
  featureNamesJson: string;
  /** Per view of the plan: how many stored values to find per record (the highest index asked + 1). */
  tokensPerView: number[];
  /** Per feature: its view's index in `plan.views`, and whether its values are int64. */
  featureView: number[];
  featureInt64: boolean[];
}

const planTexts = new WeakMap<RetrievalPlan, PlanText>();

function planText(plan: RetrievalPlan): PlanText {
  let text = planTexts.get(plan);
  if (text) return text;
  const viewIndex = new Map(plan.views.map((view, v) => [view.spec.name, v]));
  const tokensPerView = plan.views.map(() => 0);
  const featureView = plan.features.map((feature) => {
    const v = viewIndex.get(feature.view)!;
    tokensPerView[v] = Math.max(tokensPerView[v]!, feature.schemaIndex + 1);
    return v;
  });
  text = {
    featureNamesJson: plan.features.map((f) => `,${JSON.stringify(f.outputName)}`).join(''),
    tokensPerView,
    featureView,
    featureInt64: plan.features.map((f) => f.type === 'int64'),
  };
  planTexts.set(plan, text);
  return text;
}

/** One view's records, scanned: where each value sits in its record's stored text. */
interface ScannedView {
  /** Per row: the stored values text when the record is live, else null. */
  texts: (string | null)[];
  /** Per row: how many values were found (0 for rows without a live record). */
  counts: Int32Array;
  /** Value k of row i spans `bounds[(i * tokens + k) * 2]` to `bounds[(i * tokens + k) * 2 + 1]`. */
  bounds: Int32Array;
  tokens: number;
  /** Statuses when no live value is null: PRESENT for live rows, NOT_FOUND / OUTSIDE_MAX_AGE else. */
  statusesJson: string;
  /** Per row: the status of a null value (NULL_VALUE for live rows). */
  nullStatus: string[];
  /** `event_timestamps` of every feature of the view. */
  timestampsJson: string;
}

function scanView(
  viewName: string,
  records: readonly (OnlineRecordJson | null)[],
  n: number,
  tokens: number,
  ttlMs: number,
  now: number,
): ScannedView {
  const texts: (string | null)[] = new Array(n);
  const counts = new Int32Array(n);
  const bounds = new Int32Array(n * tokens * 2);
  const nullStatus: string[] = new Array(n);
  let statuses = '[';
  let timestamps = '[';
  // Records of one lookup often share an event time (one batch): format each distinct one once.
  let lastTs = Number.NaN;
  let lastTsJson = '';
  for (let i = 0; i < n; i++) {
    const record = records[i] ?? null;
    if (i > 0) {
      statuses += ',';
      timestamps += ',';
    }
    texts[i] = null;
    if (record === null) {
      nullStatus[i] = NOT_FOUND;
      statuses += NOT_FOUND;
      timestamps += EPOCH_JSON;
      continue;
    }
    if (record.eventTimestamp !== lastTs) {
      lastTs = record.eventTimestamp;
      lastTsJson = `"${isoTimestamp(lastTs)}"`;
    }
    timestamps += lastTsJson;
    // Same boundary as the point-in-time join: valid while event time > now - ttl.
    if (ttlMs > 0 && record.eventTimestamp <= now - ttlMs) {
      nullStatus[i] = OUTSIDE_MAX_AGE;
      statuses += OUTSIDE_MAX_AGE;
      continue;
    }
    nullStatus[i] = NULL_VALUE;
    statuses += PRESENT;
    texts[i] = record.valuesJson;
    try {
      counts[i] = scanJsonArray(record.valuesJson, bounds, i * tokens * 2, tokens);
    } catch (error) {
      throw undecodable(viewName, error);
    }
  }
  return {
    texts,
    counts,
    bounds,
    tokens,
    statusesJson: `${statuses}]`,
    nullStatus,
    timestampsJson: `${timestamps}]`,
  };
}

function undecodable(viewName: string, cause: unknown): TributaryError {
  return new TributaryError('TRIB_INTERNAL', `online store: undecodable value for view '${viewName}'`, {
    cause,
  });
}

/**
 * An int64 value's answer text from its stored text `text.slice(start, end)`: a JSON string of
 * canonical decimal digits becomes the bare digits while |v| < 2^53 and stays the string past
 * it; anything else takes the slow way (parse, BigInt, print) so the answer is the same.
 */
function int64Json(viewName: string, text: string, start: number, end: number): string {
  const length = end - start;
  if (length >= 3 && text.charCodeAt(start) === 34 && text.charCodeAt(end - 1) === 34) {
    const negative = text.charCodeAt(start + 1) === 45; // -
    const first = negative ? start + 2 : start + 1;
    const digits = end - 1 - first;
    let canonical = digits > 0 && (text.charCodeAt(first) !== 48 || (digits === 1 && !negative));
    for (let i = first; canonical && i < end - 1; i++) {
      const c = text.charCodeAt(i);
      canonical = c >= 48 && c <= 57;
    }
    if (canonical) {
      if (digits < MAX_SAFE_DIGITS.length) return text.slice(start + 1, end - 1);
      if (digits === MAX_SAFE_DIGITS.length && text.slice(first, end - 1) <= MAX_SAFE_DIGITS) {
        return text.slice(start + 1, end - 1);
      }
      if (digits >= MAX_SAFE_DIGITS.length) return text.slice(start, end);
    }
  }
  try {
    return valueJson(BigInt(JSON.parse(text.slice(start, end)) as string | number));
  } catch (error) {
    throw undecodable(viewName, error);
  }
}

/**
 * The answer's JSON text. `keyNames` are the request's entity columns in its order,
 * `keyColumns` their coerced values; `records[v]` holds the records of `plan.views[v]`, one per
 * entity row (null where nothing is stored).
 */
export function onlineResponseJson(
  plan: RetrievalPlan,
  keyNames: readonly string[],
  keyColumns: ReadonlyMap<string, readonly KeyValue[]>,
  records: readonly (readonly (OnlineRecordJson | null)[])[],
  n: number,
  now: number,
): string {
  const text = planText(plan);
  const views = plan.views.map((view, v) =>
    scanView(view.spec.name, records[v] ?? [], n, text.tokensPerView[v]!, view.layout.ttlMs, now),
  );
  const cells: string[] = new Array(n);
  const results: string[] = [];
  // Join keys first, in the order the request gave them; then features in request order.
  if (keyNames.length > 0) {
    const present = `[${new Array<string>(n).fill(PRESENT).join(',')}]`;
    const epochs = `[${new Array<string>(n).fill(EPOCH_JSON).join(',')}]`;
    for (const name of keyNames) {
      const column = keyColumns.get(name)!;
      for (let i = 0; i < n; i++) cells[i] = valueJson(column[i]);
      results.push(`{"values":[${cells.join(',')}],"statuses":${present},"event_timestamps":${epochs}}`);
    }
  }
  plan.features.forEach((feature, f) => {
    const view = views[text.featureView[f]!]!;
    const int64 = text.featureInt64[f]!;
    const k = feature.schemaIndex;
    let nulls = false;
    for (let i = 0; i < n; i++) {
      const stored = view.texts[i];
      if (stored === null || stored === undefined) {
        cells[i] = 'null';
        continue;
      }
      // Positional: a feature appended to the view after this value was written reads as null.
      if (k >= view.counts[i]!) {
        cells[i] = 'null';
        nulls = true;
        continue;
      }
      const at = (i * view.tokens + k) * 2;
      const start = view.bounds[at]!;
      const end = view.bounds[at + 1]!;
      if (end - start === 4 && stored.charCodeAt(start) === 110 /* n */) {
        cells[i] = 'null';
        nulls = true;
      } else {
        cells[i] = int64 ? int64Json(feature.view, stored, start, end) : stored.slice(start, end);
      }
    }
    let statuses = view.statusesJson;
    if (nulls) {
      statuses = '[';
      for (let i = 0; i < n; i++) {
        if (i > 0) statuses += ',';
        statuses += cells[i] === 'null' ? view.nullStatus[i] : PRESENT;
      }
      statuses += ']';
    }
    results.push(
      `{"values":[${cells.join(',')}],"statuses":${statuses},"event_timestamps":${view.timestampsJson}}`,
    );
  });
  return `{"metadata":{"feature_names":[${keyNames.map((name) => JSON.stringify(name)).join(',')}${
    keyNames.length > 0 ? text.featureNamesJson : text.featureNamesJson.slice(1)
  }]},"results":[${results.join(',')}]}`;
}
