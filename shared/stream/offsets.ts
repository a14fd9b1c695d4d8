/** Kafka offsets are int64s, carried as decimal strings (`IncomingMessage.offset`). */

/** Orders two non-negative offsets written without leading zeros (as Kafka writes them), without parsing them. */
export function compareOffsets(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The offset after `offset`: what a consumer commits once it has handled `offset`. */
export function offsetAfter(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}
