/**
 * Entity rows of one `int64` join key, put in probe order and encoded for COPY.
 *
 * Probe order is by join key, the leading column of the offline table's index, so consecutive
 * probes land on the index pages the previous one touched (ordering by time within a key as
 * well measured no faster). Sorting here, before the rows go to Postgres, spares each backend a
 * sort of its range (measured: about a fifth of a probing query). Only this common case is
 * sorted here; rows with other keys go as they are and Postgres sorts them.
 *
 * Memory access is what costs here, not arithmetic: a read at a random place in a large array
 * is a cache and TLB miss, worth a hundred sequential ones. So rows are packed into records
 * (key, time, row number) read in input order, sorted by moving whole records with an LSD radix
 * sort on 8-bit digits (256 write streams stay in cache), and encoded by reading the records
 * in order: no pass reads at random.
 */

import { copyHeader, copyTrailer, setTimestampField } from './copy-binary.ts';

/** A record: key low word, key high word, time (float64, two words), row number, padding. */
const RECORD_WORDS = 6;
const TIME_WORD = 2;
const ROW_WORD = 4;
const DIGIT_BITS = 8;
const BUCKETS = 1 << DIGIT_BITS;

/**
 * Rows `from…to-1` as records sorted by key ascending (signed 64-bit order); rows with equal keys
 * keep their input order.
 */
export function sortedByKey(keys: BigInt64Array, times: Float64Array, from: number, to: number): Uint32Array {
  const n = to - from;
  const keyWords = new Uint32Array(keys.buffer, keys.byteOffset, keys.length * 2);
  let records = new Uint32Array(n * RECORD_WORDS);
  const recordTimes = new Float64Array(records.buffer);
  // One pass in input order packs the records and counts every digit of the key.
  const counts = new Int32Array(8 * BUCKETS);
  for (let i = 0; i < n; i++) {
    const row = from + i;
    const low = keyWords[row * 2]!;
    // The sign bit flipped, so negative keys sort first.
    const high = keyWords[row * 2 + 1]! ^ 0x8000_0000;
    const r = i * RECORD_WORDS;
    records[r] = low;
    records[r + 1] = high;
    recordTimes[(r + TIME_WORD) / 2] = times[row]!;
    records[r + ROW_WORD] = row;
    for (let d = 0; d < 4; d++) {
      counts[d * BUCKETS + ((low >>> (d * DIGIT_BITS)) & 0xff)]!++;
      counts[(d + 4) * BUCKETS + ((high >>> (d * DIGIT_BITS)) & 0xff)]!++;
    }
  }
  let spare = new Uint32Array(n * RECORD_WORDS);
  const starts = new Int32Array(BUCKETS);
  for (let d = 0; d < 8; d++) {
    const word = d < 4 ? 0 : 1;
    const shift = (d % 4) * DIGIT_BITS;
    const base = d * BUCKETS;
    // A digit every row shares (the high word, mostly) changes nothing.
    if (n === 0 || counts[base + ((records[word]! >>> shift) & 0xff)] === n) continue;
    let sum = 0;
    for (let b = 0; b < BUCKETS; b++) {
      starts[b] = sum;
      sum += counts[base + b]!;
    }
    for (let i = 0; i < n; i++) {
      const r = i * RECORD_WORDS;
      const to = starts[(records[r + word]! >>> shift) & 0xff]!++ * RECORD_WORDS;
      for (let w = 0; w < RECORD_WORDS; w++) spare[to + w] = records[r + w]!;
    }
    [records, spare] = [spare, records];
  }
  return records;
}

/** Past this many months between the earliest and latest row, rows are not grouped by month. */
const MAX_MONTH_GROUPS = 36;
const DAY_US = 86_400_000_000;

/** The UTC month start at or before `us` (epoch microseconds), in microseconds. */
function monthStartUs(us: number): number {
  const day = new Date(Math.floor(us / 1000));
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), 1) * 1000;
}

/** Records of one month group: their probe windows all lie in `[from, to)` (epoch µs), or anywhere when null. */
export interface MonthGroup {
  month: [from: number, to: number] | null;
  records: Uint32Array;
}

/**
 * Regroups records (sorted by key) by the UTC month their probe window `(t - windowUs, t]` lies
 * in, each group still sorted by key; rows whose window reaches into an earlier month form a last
 * group with no month. Offline tables are partitioned by month, so a probe bounded by constant
 * month bounds lets Postgres keep one partition at plan time, instead of an `Append` pruned again
 * on every probe (measured: about a tenth of a probing query). Rows spread over more than
 * `MAX_MONTH_GROUPS` months are left as one group: a query per month would cost more.
 */
export function byWindowMonth(records: Uint32Array, windowUs: number): MonthGroup[] {
  const n = records.length / RECORD_WORDS;
  // A record's time is float64 number `i * 3 + 1` of its buffer (RECORD_WORDS = 6, TIME_WORD = 2).
  const times = new Float64Array(records.buffer, records.byteOffset, n * 3);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const t = times[i * 3 + 1]!;
    if (t < min) min = t;
    if (t > max) max = t;
  }
  if (n === 0) return [];
  // Month starts from the earliest row's month to the first one after the latest row.
  const starts = [monthStartUs(min)];
  while (starts[starts.length - 1]! <= max) {
    if (starts.length > MAX_MONTH_GROUPS) return [{ month: null, records }];
    // A month start plus 32 days falls in the next month.
    starts.push(monthStartUs(starts[starts.length - 1]! + 32 * DAY_US));
  }
  const months = starts.length - 1;
  // The month of each day since the first month start: a row's month in one lookup.
  const monthOfDay = new Uint8Array(Math.ceil((starts[months]! - starts[0]!) / DAY_US));
  for (let m = 0; m < months; m++)
    monthOfDay.fill(m, (starts[m]! - starts[0]!) / DAY_US, (starts[m + 1]! - starts[0]!) / DAY_US);
  // Group `months` holds the rows whose window crosses a month start.
  const groupOf = new Uint8Array(n);
  const counts = new Int32Array(months + 1);
  for (let i = 0; i < n; i++) {
    const t = times[i * 3 + 1]!;
    const month = monthOfDay[Math.floor((t - starts[0]!) / DAY_US)]!;
    const group = t - windowUs >= starts[month]! ? month : months;
    groupOf[i] = group;
    counts[group]!++;
  }
  const offsets = new Int32Array(months + 1);
  for (let g = 1; g <= months; g++) offsets[g] = offsets[g - 1]! + counts[g - 1]!;
  const grouped = new Uint32Array(records.length);
  const next = offsets.slice();
  for (let i = 0; i < n; i++) {
    const to = next[groupOf[i]!]!++ * RECORD_WORDS;
    for (let w = 0; w < RECORD_WORDS; w++) grouped[to + w] = records[i * RECORD_WORDS + w]!;
  }
  const groups: MonthGroup[] = [];
  for (let g = 0; g <= months; g++) {
    if (counts[g] === 0) continue;
    groups.push({
      month: g < months ? [starts[g]!, starts[g + 1]!] : null,
      records: grouped.subarray(offsets[g]! * RECORD_WORDS, (offsets[g]! + counts[g]!) * RECORD_WORDS),
    });
  }
  return groups;
}

/** Cuts sorted records into `count` runs of (nearly) equal length, in order. */
export function splitRecords(records: Uint32Array, count: number): Uint32Array[] {
  const n = records.length / RECORD_WORDS;
  const size = Math.ceil(n / count);
  return Array.from({ length: count }, (_, p) => {
    const begin = Math.min(n, p * size);
    return records.subarray(begin * RECORD_WORDS, Math.min(n, begin + size) * RECORD_WORDS);
  });
}

/**
 * The records as binary COPY tuples `(rn int4, k0 int8, ts timestamptz)`, header and trailer
 * included, in buffers of at most `rowsPerBuffer` rows.
 */
export function* encodeRecords(records: Uint32Array, rowsPerBuffer = 65_536): Generator<Buffer> {
  const n = records.length / RECORD_WORDS;
  const times = new Float64Array(records.buffer, records.byteOffset, n * 3);
  yield copyHeader();
  const TUPLE = 2 + 8 + 12 + 12;
  for (let start = 0; start < n; start += rowsPerBuffer) {
    const end = Math.min(n, start + rowsPerBuffer);
    const buf = Buffer.allocUnsafe((end - start) * TUPLE);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 0;
    for (let i = start; i < end; i++) {
      const r = i * RECORD_WORDS;
      view.setInt16(at, 3);
      view.setInt32(at + 2, 4);
      view.setInt32(at + 6, records[r + ROW_WORD]!);
      view.setInt32(at + 10, 8);
      view.setUint32(at + 14, records[r + 1]! ^ 0x8000_0000);
      view.setUint32(at + 18, records[r]!);
      setTimestampField(view, at + 22, times[(r + TIME_WORD) / 2]!);
      at += TUPLE;
    }
    yield buf;
  }
  yield copyTrailer();
}
