/** The entity rows of a retrieval, written into its temp table with binary COPY. */
import type { Writable } from 'node:stream';
import type { EntityFrame, KeyColumn } from '../../../retrieval/entities.ts';
import type { RetrievalPlan } from '../../../retrieval/plan.ts';
import { copyHeader, copyTrailer, setTimestampField } from './copy-binary.ts';

/** Writes entity rows `from…to-1` in Postgres binary COPY format: (rn int4, k0…, ts timestamptz). */
export function* encodeEntities(
  plan: RetrievalPlan,
  entities: EntityFrame,
  from: number,
  to: number,
  rowsPerBuffer = 65_536,
): Generator<Buffer> {
  const keys = plan.joinKeys.map((k) => entities.keys.get(k.name)!);
  // int64 keys as little-endian 32-bit word pairs, aligned with `keys`.
  const int64Words = keys.map((k) =>
    k.type === 'int64'
      ? new Uint32Array(k.values.buffer, k.values.byteOffset, k.values.length * 2)
      : undefined,
  );
  yield copyHeader();
  const encoder = new TextEncoder();
  for (let start = from; start < to; start += rowsPerBuffer) {
    const end = Math.min(to, start + rowsPerBuffer);
    let size = 0;
    // Encoded strings per key column (undefined for other types), aligned with `keys`.
    const strings: (Uint8Array[] | undefined)[] = [];
    const fixed = 2 + 8 + 12; // field count, rn, ts
    for (const key of keys) {
      if (key.type === 'string') {
        const encoded = key.values.slice(start, end).map((value) => encoder.encode(value));
        strings.push(encoded);
        for (const e of encoded) size += 4 + e.length;
      } else {
        strings.push(undefined);
        size += (4 + (key.type === 'bool' ? 1 : 8)) * (end - start);
      }
    }
    size += fixed * (end - start);
    const buf = Buffer.alloc(size);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let at = 0;
    for (let row = start; row < end; row++) {
      view.setInt16(at, keys.length + 2);
      view.setInt32(at + 2, 4);
      view.setInt32(at + 6, row);
      at += 10;
      for (let k = 0; k < keys.length; k++) {
        at = writeKey(buf, view, at, keys[k]!, row, row - start, strings[k], int64Words[k]);
      }
      setTimestampField(view, at, entities.timestamps[row]!);
      at += 12;
    }
    yield buf;
  }
  yield copyTrailer();
}

/** One join key field (length word and value) of entity row `row` at `at`; returns where the next field starts. */
export function writeKey(
  buf: Buffer,
  view: DataView,
  at: number,
  key: KeyColumn,
  row: number,
  local: number,
  strings: Uint8Array[] | undefined,
  words: Uint32Array | undefined,
): number {
  switch (key.type) {
    case 'int64':
      // Copied as its two 32-bit words: reading a BigInt64Array makes a BigInt per value.
      view.setInt32(at, 8);
      view.setUint32(at + 4, words![row * 2 + 1]!);
      view.setUint32(at + 8, words![row * 2]!);
      return at + 12;
    case 'float64':
      view.setInt32(at, 8);
      view.setFloat64(at + 4, key.values[row]!);
      return at + 12;
    case 'timestamp':
      setTimestampField(view, at, key.values[row]!);
      return at + 12;
    case 'bool':
      view.setInt32(at, 1);
      view.setUint8(at + 4, key.values[row]!);
      return at + 5;
    case 'string': {
      const bytes = strings![local]!;
      view.setInt32(at, bytes.length);
      buf.set(bytes, at + 4);
      return at + 4 + bytes.length;
    }
  }
}

/** Writes `buffers` to a COPY stream, with backpressure, and waits until it finished. */
export async function writeAll(stream: Writable, buffers: Iterable<Buffer>): Promise<void> {
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onError = (error: Error) => {
    failure = error;
    wake?.();
  };
  stream.on('error', onError);
  const finished = new Promise<void>((resolve) => stream.once('finish', resolve));
  try {
    for (const buf of buffers) {
      if (failure) throw failure;
      if (!stream.write(buf)) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          stream.once('drain', resolve);
        });
        stream.removeAllListeners('drain');
      }
    }
    if (failure) throw failure;
    stream.end();
    await Promise.race([finished, new Promise<void>((resolve) => (wake = resolve))]);
    if (failure) throw failure;
  } finally {
    stream.off('error', onError);
  }
}
