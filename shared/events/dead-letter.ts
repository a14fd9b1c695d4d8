/**
 * Dead-lettering: a message that cannot be decoded goes, byte for byte, to `<topic>.dlq` with the
 * reason in headers, so nothing is dropped silently and the message can be fixed and replayed.
 */

import type { ErrorCode } from '../errors.ts';
import type { IncomingMessage, OutgoingMessage } from '../stream/port.ts';

/** The headers Tributary sets on a dead-lettered message. */
export const DLQ_HEADERS = {
  reason: 'x-tributary-reason',
  errorCode: 'x-tributary-error-code',
  sourceTopic: 'x-tributary-source-topic',
  sourcePartition: 'x-tributary-source-partition',
  sourceOffset: 'x-tributary-source-offset',
  field: 'x-tributary-field',
  failedAt: 'x-tributary-failed-at',
} as const;

const OWN_HEADERS = new Set<string>(Object.values(DLQ_HEADERS));

/** What went wrong; a `DecodeRejection` fits, and so does any coded failure. */
export interface DeadLetterCause {
  code: ErrorCode;
  reason: string;
  field?: string;
}

/** Longest reason kept in a header; reasons quote values, which are already truncated, so this is a backstop. */
const MAX_REASON_CHARS = 1000;

/** The dead-letter topic of a source topic: `<topic>.dlq`. */
export function dlqTopicOf(topic: string): string {
  return `${topic}.dlq`;
}

/**
 * The message to produce to `dlqTopicOf(message.topic)`: the original key, value and headers, plus
 * the `x-tributary-*` headers that say what failed and where the message came from. Headers of an
 * earlier dead-lettering (a replayed message failing again) are replaced, not kept stale.
 */
export function deadLetterMessage(
  message: IncomingMessage,
  cause: DeadLetterCause,
  failedAt: number | Date = Date.now(),
): OutgoingMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers)) {
    if (!OWN_HEADERS.has(name)) headers[name] = value;
  }
  headers[DLQ_HEADERS.reason] =
    cause.reason.length > MAX_REASON_CHARS ? `${cause.reason.slice(0, MAX_REASON_CHARS)}…` : cause.reason;
  headers[DLQ_HEADERS.errorCode] = cause.code;
  headers[DLQ_HEADERS.sourceTopic] = message.topic;
  headers[DLQ_HEADERS.sourcePartition] = String(message.partition);
  headers[DLQ_HEADERS.sourceOffset] = message.offset;
  if (cause.field !== undefined) headers[DLQ_HEADERS.field] = cause.field;
  headers[DLQ_HEADERS.failedAt] = new Date(failedAt).toISOString();
  return { key: message.key, value: message.value, headers };
}
