/**
 * Arrow IPC stream encoding with backpressure. apache-arrow's writers queue every batch written
 * to them, so a slow client would let a large result pile up in memory; here each batch is
 * encoded on its own when the consumer asks for it: the schema message once, then each batch's
 * messages, then the end-of-stream marker, which is byte for byte the IPC stream format.
 */
import { type RecordBatch, RecordBatchStreamWriter, type Schema } from 'apache-arrow';

/** The 8-byte end-of-stream marker: continuation token then a zero length. */
const EOS_BYTES = 8;

function schemaMessage(schema: Schema): Uint8Array {
  const writer = new RecordBatchStreamWriter();
  writer.reset(undefined, schema);
  writer.finish();
  const bytes = writer.toUint8Array(true);
  return bytes.subarray(0, bytes.length - EOS_BYTES);
}

/** Encodes batches of `schema` as an Arrow IPC stream, pulling the next batch only when asked. */
export async function* arrowIpcStream(
  schema: Schema,
  batches: AsyncIterable<RecordBatch>,
): AsyncGenerator<Uint8Array> {
  const head = schemaMessage(schema);
  yield head;
  for await (const batch of batches) {
    const writer = new RecordBatchStreamWriter();
    writer.write(batch);
    writer.finish();
    const bytes = writer.toUint8Array(true);
    yield bytes.subarray(head.length, bytes.length - EOS_BYTES);
  }
  const eos = new Uint8Array(EOS_BYTES);
  new DataView(eos.buffer).setUint32(0, 0xffffffff, true);
  yield eos;
}
