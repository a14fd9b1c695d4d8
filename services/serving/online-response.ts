/**
 * The JSON text of a `POST /get-online-features` answer (Feast's shape, column-major, join keys
 * first), as UTF-8 bytes in one Buffer, written from the online store's records with their values
 * still as the stored JSON's bytes (`OnlineRecordJson`): each value is copied from the stored
 * array into the answer, never parsed and printed again, and the answer is never a string. Its
 * buffer comes from `AnswerBuffers` and goes back there once sent (`byte-writer.ts` says why).
 * docs/serving.md "Performance" has the figures.
 *
 * What the answer holds is exactly what decoding the values would give: float64, timestamp, bool
 * and string values are what `JSON.stringify` wrote, so copying their text is printing them
 * again; int64 values are stored as JSON strings and answered as JSON numbers while exact
 * (|v| < 2^53), else as the decimal string.
 */
import { TributaryError } from '../../shared/errors.ts';
import type { KeyValue } from '../../shared/retrieval/entities.ts';
import { isoTimestamp, jsonValue } from '../../shared/retrieval/json.ts';
import type { RetrievalPlan } from '../../shared/retrieval/plan.ts';
import { wordsOf } from '../../shared/stores/online/json-record.ts';
import type { OnlineRecordJson } from '../../shared/stores/online/port.ts';
import { type Answer, type AnswerBuffers, ByteWriter, copySpan } from './byte-writer.ts';

const EPOCH_JSON = '"1970-01-01T00:00:00Z"';
const PRESENT = '"PRESENT"';
const NULL_VALUE = '"NULL_VALUE"';
const NOT_FOUND = '"NOT_FOUND"';
const OUTSIDE_MAX_AGE = '"OUTSIDE_MAX_AGE"';

/** A feature or key value as JSON text: int64 as a number while exact, else a decimal string. */
export function valueJson(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return JSON.stringify(jsonValue(value)) ?? 'null';
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

/** Bytes of the answer's fixed parts. */
const ascii = (text: string) => Buffer.from(text, 'latin1');
const COMMA = 44;
const NULL_BYTES = ascii('null');
const NULL_WORDS = wordsOf(NULL_BYTES);
const PRESENT_BYTES = ascii(PRESENT);
const VALUES_OPEN = ascii('{"values":[');
const STATUSES_OPEN = ascii('],"statuses":[');
const STATUSES_CLOSE = ascii(']');
const STATUS_BYTES: Record<string, Buffer> = {
  [NULL_VALUE]: ascii(NULL_VALUE),
  [NOT_FOUND]: ascii(NOT_FOUND),
  [OUTSIDE_MAX_AGE]: ascii(OUTSIDE_MAX_AGE),
};
/** The largest |int64| answered as a JSON number, as digit bytes. */
const MAX_SAFE_BYTES = ascii(String(Number.MAX_SAFE_INTEGER));
const QUOTE = 34;
const utf8 = new TextDecoder();

/** One view's records, scanned: where each value sits in its record's stored bytes. */
interface ScannedView {
  /** Per row: the stored values bytes when the record is live, else null. */
  texts: (Uint8Array | null)[];
  /** Per row: `texts[i]`'s DataView (for `copySpan`), when live. */
  words: (DataView | null)[];
  /** Per row: how many values were found (0 for rows without a live record). */
  counts: Int32Array;
  /** Value k of row i spans `bounds[(i * tokens + k) * 2]` to `bounds[(i * tokens + k) * 2 + 1]`. */
  bounds: Int32Array;
  tokens: number;
  /** `],"statuses":[...]` when no live value is null: PRESENT for live rows, NOT_FOUND / OUTSIDE_MAX_AGE else. */
  statuses: Buffer;
  /** Per row: the status of a null value (NULL_VALUE for live rows). */
  nullStatus: Buffer[];
  /** `,"event_timestamps":[...]}`: the end of every feature of the view. */
  timestamps: Buffer;
  /** About how many bytes one feature's values take in the answer, commas included (to size it). */
  valuesBytes: number;
  /** The longest live record's bytes, or 4 (`null`): no value in the answer is longer. */
  longest: number;
}

function scanView(
  viewName: string,
  records: readonly (OnlineRecordJson | null)[],
  n: number,
  tokens: number,
  ttlMs: number,
  now: number,
): ScannedView {
  const texts: (Uint8Array | null)[] = new Array(n);
  const words: (DataView | null)[] = new Array(n);
  const counts = new Int32Array(n);
  const bounds = new Int32Array(n * tokens * 2);
  const nullStatus: Buffer[] = new Array(n);
  let statuses = '],"statuses":[';
  let timestamps = ',"event_timestamps":[';
  let live = 0;
  let longest = NULL_BYTES.length;
  let spanned = 0;
  let spans = 0;
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
    words[i] = null;
    if (record === null) {
      nullStatus[i] = STATUS_BYTES[NOT_FOUND]!;
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
      nullStatus[i] = STATUS_BYTES[OUTSIDE_MAX_AGE]!;
      statuses += OUTSIDE_MAX_AGE;
      continue;
    }
    nullStatus[i] = STATUS_BYTES[NULL_VALUE]!;
    statuses += PRESENT;
    texts[i] = record.valuesJson;
    words[i] = wordsOf(record.valuesJson);
    let count: number;
    try {
      count = record.valueSpans(words[i]!, bounds, i * tokens * 2, tokens);
    } catch (error) {
      throw undecodable(viewName, error);
    }
    counts[i] = count;
    live++;
    longest = Math.max(longest, record.valuesJson.length);
    if (count > 0) {
      spanned += bounds[(i * tokens + count - 1) * 2 + 1]! - bounds[i * tokens * 2]!;
      spans += count;
    }
  }
  return {
    texts,
    words,
    counts,
    bounds,
    tokens,
    statuses: Buffer.from(`${statuses}]`, 'utf8'),
    nullStatus,
    timestamps: Buffer.from(`${timestamps}]}`, 'utf8'),
    longest,
    valuesBytes: Math.ceil(spans > 0 ? (live * spanned) / spans : 0) + (n - live) * 4 + n,
  };
}

function undecodable(viewName: string, cause: unknown): TributaryError {
  return new TributaryError('TRIB_INTERNAL', `online store: undecodable value for view '${viewName}'`, {
    cause,
  });
}

/**
 * Whether value `k` of a live record, found at `stored[start..end)` of its `count` values, answers
 * null: a stored `null`, or a feature appended to the view after the value was written
 * (values are positional).
 */
function isNullValue(stored: Uint8Array, start: number, end: number, k: number, count: number): boolean {
  return k >= count || (end - start === 4 && stored[start] === 110); /* n */
}

/**
 * How an int64 value's answer is cut from its stored bytes `bytes[start..end)`: 1 (trim a byte
 * off each end) for a JSON string of canonical decimal digits with |v| < 2^53, which is answered
 * as those digits, a JSON number; 0 (as stored) for such a string past 2^53; -1 for any other
 * spelling, which `int64Json` answers the slow way.
 */
function int64Trim(bytes: Uint8Array, start: number, end: number): number {
  if (end - start < 3 || bytes[start] !== QUOTE || bytes[end - 1] !== QUOTE) return -1;
  const negative = bytes[start + 1] === 45; // -
  const first = negative ? start + 2 : start + 1;
  const digits = end - 1 - first;
  if (digits === 0 || (bytes[first] === 48 && (digits > 1 || negative))) return -1; // leading 0, "-0"
  for (let i = first; i < end - 1; i++) {
    const c = bytes[i]!;
    if (c < 48 || c > 57) return -1;
  }
  if (digits < MAX_SAFE_BYTES.length) return 1;
  return digits === MAX_SAFE_BYTES.length && notAboveMaxSafe(bytes, first) ? 1 : 0;
}

/** An int64 value's answer from stored bytes in another spelling: parse, BigInt, print (as decoding would). */
function int64Json(viewName: string, bytes: Uint8Array, start: number, end: number): string {
  try {
    return valueJson(BigInt(JSON.parse(utf8.decode(bytes.subarray(start, end))) as string | number));
  } catch (error) {
    throw undecodable(viewName, error);
  }
}

/** Whether the 16 digits at `bytes[first..]` are at most 2^53 - 1's (same length: compare digit by digit). */
function notAboveMaxSafe(bytes: Uint8Array, first: number): boolean {
  for (let i = 0; i < MAX_SAFE_BYTES.length; i++) {
    const difference = bytes[first + i]! - MAX_SAFE_BYTES[i]!;
    if (difference !== 0) return difference < 0;
  }
  return true;
}

/**
 * The answer's JSON text, UTF-8. `keyNames` are the request's entity columns in its order,
 * `keyColumns` their coerced values; `records[v]` holds the records of `plan.views[v]`, one per
 * entity row (null where nothing is stored). Written into a buffer of `buffers` when given
 * (release it once sent), else a fresh one.
 */
export function onlineResponseJson(
  plan: RetrievalPlan,
  keyNames: readonly string[],
  keyColumns: ReadonlyMap<string, readonly KeyValue[]>,
  records: readonly (readonly (OnlineRecordJson | null)[])[],
  n: number,
  now: number,
  buffers?: AnswerBuffers,
): Answer {
  const text = planText(plan);
  const views = plan.views.map((view, v) =>
    scanView(view.spec.name, records[v] ?? [], n, text.tokensPerView[v]!, view.layout.ttlMs, now),
  );
  const header = `{"metadata":{"feature_names":[${keyNames.map((name) => JSON.stringify(name)).join(',')}${
    keyNames.length > 0 ? text.featureNamesJson : text.featureNamesJson.slice(1)
  }]},"results":[`;
  // What the answer will take, about: the buffer grows (a copy) when values run longer.
  let capacity = header.length * 3 + 2 + keyNames.length * n * 32;
  for (const v of text.featureView) {
    const view = views[v]!;
    capacity += 2 + VALUES_OPEN.length + view.valuesBytes + view.statuses.length + view.timestamps.length;
  }
  const out = new ByteWriter(capacity, buffers);
  out.text(header);
  // Join keys first, in the order the request gave them; then features in request order.
  if (keyNames.length > 0) {
    const cells: string[] = new Array(n);
    const tail = `],"statuses":[${new Array<string>(n).fill(PRESENT).join(',')}],"event_timestamps":[${new Array<string>(n).fill(EPOCH_JSON).join(',')}]}`;
    keyNames.forEach((name, position) => {
      const column = keyColumns.get(name)!;
      for (let i = 0; i < n; i++) cells[i] = valueJson(column[i]);
      out.text(`${position > 0 ? ',' : ''}{"values":[${cells.join(',')}${tail}`);
    });
  }
  plan.features.forEach((feature, f) => {
    const view = views[text.featureView[f]!]!;
    const { texts, words, bounds, counts, tokens } = view;
    const int64 = text.featureInt64[f]!;
    const k = feature.schemaIndex;
    if (f > 0 || keyNames.length > 0) out.byte(COMMA);
    out.bytes(VALUES_OPEN);
    let buffer = out.buffer;
    let bufferWords = out.words;
    let limit = buffer.length;
    let at = out.length;
    let nulls = false;
    // Room for a comma and any value: none is longer than its stored array.
    const most = 1 + view.longest;
    for (let i = 0; i < n; i++) {
      if (at + most > limit) {
        out.length = at;
        out.reserve(most);
        buffer = out.buffer;
        bufferWords = out.words;
        limit = buffer.length;
      }
      if (i > 0) buffer[at++] = COMMA;
      const stored = texts[i];
      const bound = (i * tokens + k) * 2;
      const start = bounds[bound]!;
      const end = bounds[bound + 1]!;
      if (stored === null || stored === undefined || isNullValue(stored, start, end, k, counts[i]!)) {
        // A live record's null value (not a missing or expired record's) changes the statuses.
        nulls ||= stored !== null && stored !== undefined;
        at += copySpan(NULL_BYTES, NULL_WORDS, 0, 4, buffer, bufferWords, at);
        continue;
      }
      const trim = int64 ? int64Trim(stored, start, end) : 0;
      if (trim >= 0) {
        at += copySpan(stored, words[i]!, start + trim, end - trim, buffer, bufferWords, at);
        continue;
      }
      // Rare: the answer may be longer than the stored bytes, so back to the writer's checks.
      out.length = at;
      out.text(int64Json(feature.view, stored, start, end));
      buffer = out.buffer;
      bufferWords = out.words;
      limit = buffer.length;
      at = out.length;
    }
    out.length = at;
    if (nulls) {
      out.bytes(STATUSES_OPEN);
      for (let i = 0; i < n; i++) {
        if (i > 0) out.byte(COMMA);
        const stored = texts[i];
        const bound = (i * tokens + k) * 2;
        const live = stored !== null && stored !== undefined;
        const nullCell = !live || isNullValue(stored, bounds[bound]!, bounds[bound + 1]!, k, counts[i]!);
        out.bytes(nullCell ? view.nullStatus[i]! : PRESENT_BYTES);
      }
      out.bytes(STATUSES_CLOSE);
    } else {
      out.bytes(view.statuses);
    }
    out.bytes(view.timestamps);
  });
  out.text(']}');
  return out.finish();
}
