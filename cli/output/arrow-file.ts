/**
 * The Arrow IPC *file* format (`.arrow`, Feather v2): what `pandas.read_feather`,
 * `pyarrow.ipc.open_file`, `polars.read_ipc` and DuckDB's arrow extension open. The stream
 * format (`.arrows`, `shared/retrieval/ipc.ts`) is refused by those readers: a file starts and
 * ends with the `ARROW1` magic and ends with a footer that indexes every record batch.
 *
 * apache-arrow's RecordBatchFileWriter writes into a queue that nobody drains until the file is
 * finished, so a large training set would sit whole in memory. It takes any `AsyncByteQueue` as
 * its sink, though: this one hands the bytes of each batch over as soon as the writer has
 * encoded it, so only the footer's index (24 bytes a batch) is kept to the end.
 */
import {
  AsyncByteQueue,
  type DataType,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  type Schema,
  Struct,
  vectorFromArray,
} from 'apache-arrow';

class DrainedSink extends AsyncByteQueue {
  private chunks: Uint8Array[] = [];

  override write(value: Uint8Array): void {
    if (value.byteLength > 0) this.chunks.push(value);
  }

  /** The bytes written since the last call. */
  take(): Uint8Array[] {
    const out = this.chunks;
    this.chunks = [];
    return out;
  }
}

/** Encodes batches of `schema` as an Arrow IPC file, pulling the next batch only when asked. */
export async function* arrowIpcFile(
  schema: Schema,
  batches: AsyncIterable<RecordBatch>,
): AsyncGenerator<Uint8Array> {
  const sink = new DrainedSink();
  const writer = new RecordBatchFileWriter();
  // Starting with the schema gives a valid file (schema, no batches, footer) for no entity rows.
  writer.reset(sink as never, schema);
  yield* sink.take();
  for await (const batch of batches) {
    writer.write(batch);
    yield* sink.take();
  }
  writer.close();
  yield* sink.take();
}

/** A record batch of `schema` with no rows (Parquet and CSV writers need one to say the schema). */
export function emptyBatch(schema: Schema): RecordBatch {
  const children = schema.fields.map((f) => vectorFromArray([], f.type as DataType).data[0]!);
  return new RecordBatch(
    schema,
    makeData({ type: new Struct(schema.fields), length: 0, nullCount: 0, children }),
  );
}
