/**
 * Parquet output through parquet-wasm: the Rust `parquet` crate's Arrow writer compiled to
 * WebAssembly, fed Arrow record batches as IPC bytes. Its streaming writer
 * (`transformParquetStream`) pulls one batch at a time and writes each row group out once it
 * holds `ROW_GROUP_ROWS` rows, so memory stays at about one row group (plus one batch) whatever
 * the training set's size. WebAssembly memory grows to that peak and is not given back to the
 * system before the process ends.
 */
import { type RecordBatch, RecordBatchStreamWriter, type Schema } from 'apache-arrow';
import { emptyBatch } from './arrow-file.ts';

/** Two of retrieval's 65,536-row batches: row groups of a few MiB for a few features. */
export const ROW_GROUP_ROWS = 131_072;

/** One batch as an IPC stream of its own (schema, batch, end marker): what the wasm side reads. */
function ipcOf(batch: RecordBatch): Uint8Array {
  const writer = new RecordBatchStreamWriter();
  writer.write(batch);
  writer.finish();
  return writer.toUint8Array(true);
}

/** Encodes batches of `schema` as a Parquet file (Snappy-compressed), pulling batches as the output is read. */
export async function* parquetFile(
  schema: Schema,
  batches: AsyncIterable<RecordBatch>,
): AsyncGenerator<Uint8Array> {
  // Loaded here, not at start: compiling the module costs every other command's start-up too.
  const wasm = await import('parquet-wasm');
  const iterator = batches[Symbol.asyncIterator]();
  let sent = 0;
  const input = new ReadableStream({
    async pull(controller) {
      const next = await iterator.next();
      // The writer learns the schema from its first batch: no rows still needs one, empty.
      const batch = next.done ? (sent === 0 ? emptyBatch(schema) : undefined) : next.value;
      if (batch === undefined) {
        controller.close();
        return;
      }
      sent += 1;
      const table = wasm.Table.fromIPCStream(ipcOf(batch));
      for (const wasmBatch of table.recordBatches()) controller.enqueue(wasmBatch);
      table.free();
      if (next.done) controller.close();
    },
    async cancel() {
      await iterator.return?.();
    },
  });
  const properties = new wasm.WriterPropertiesBuilder()
    .setCompression(wasm.Compression.SNAPPY)
    .setMaxRowGroupSize(ROW_GROUP_ROWS)
    .setCreatedBy('tributary get-historical-features (parquet-wasm)')
    .build();
  const output = (await wasm.transformParquetStream(input, properties)) as ReadableStream<Uint8Array>;
  yield* output;
}
