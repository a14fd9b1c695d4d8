/**
 * Dead-lettering: a message that cannot be decoded goes, byte for byte, to `<topic>.dlq` with the
 * reason in headers, so nothing is dropped silently and the message can be fixed and replayed.
 */

import { createHash } from 'node:crypto';
import { type ErrorCode, isTributaryError, TributaryError } from '../errors.ts';
import type { IncomingMessage, OutgoingMessage, StreamProducer } from '../stream/port.ts';

/** The headers Tributary sets on a dead-lettered message. */
export const DLQ_HEADERS = {
  reason: 'x-tributary-reason',
  errorCode: 'x-tributary-error-code',
  sourceTopic: 'x-tributary-source-topic',
  sourcePartition: 'x-tributary-source-partition',
  sourceOffset: 'x-tributary-source-offset',
  field: 'x-tributary-field',
  failedAt: 'x-tributary-failed-at',
  /** Set on a letter whose payload was cut to fit the dead-letter topic: the payload's original byte size… */
  originalSize: 'x-tributary-original-size',
  /** …and the sha256 (hex) of the original payload, to find or check the original. */
  originalSha256: 'x-tributary-original-sha256',
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

/**
 * What one produce request of dead letters may weigh at most, before the broker's own limit
 * (1 MB by default for a topic, `max.message.bytes`) is learnt from a refusal. Letters of a
 * batch used to go out in one request: three 900 KB letters were refused as too large, the
 * refusal was retried as an outage, and the partition never moved again.
 */
export const DEAD_LETTER_REQUEST_BYTES = 512 * 1024;

/** A record's weight on the wire, near enough to pack requests: payload, key, headers, framing. */
function recordBytes(letter: OutgoingMessage): number {
  let bytes = 70 + Buffer.byteLength(letter.value ?? '') + Buffer.byteLength(letter.key ?? '');
  for (const [name, value] of Object.entries(letter.headers ?? {}))
    bytes += 4 + name.length + Buffer.byteLength(value);
  return bytes;
}

/** Letters in runs whose summed weight stays within `budget` (a heavier letter goes alone). */
export function packDeadLetters(
  letters: readonly OutgoingMessage[],
  budget = DEAD_LETTER_REQUEST_BYTES,
): OutgoingMessage[][] {
  const requests: OutgoingMessage[][] = [];
  let current: OutgoingMessage[] = [];
  let weight = 0;
  for (const letter of letters) {
    const bytes = recordBytes(letter);
    if (current.length > 0 && weight + bytes > budget) {
      requests.push(current);
      current = [];
      weight = 0;
    }
    current.push(letter);
    weight += bytes;
  }
  if (current.length > 0) requests.push(current);
  return requests;
}

/**
 * The letter with its payload cut to `maxBytes` bytes, and headers giving the original's size
 * and sha256: a letter is never dropped for its size, and the original can still be found
 * (in the source topic, at the offset the headers give) and checked.
 */
export function truncateDeadLetter(letter: OutgoingMessage, maxBytes: number): OutgoingMessage {
  const value = Buffer.from(letter.value ?? '');
  const headers = { ...letter.headers };
  // A letter cut twice keeps the first cut's description of the original.
  if (headers[DLQ_HEADERS.originalSize] === undefined) {
    headers[DLQ_HEADERS.originalSize] = String(value.length);
    headers[DLQ_HEADERS.originalSha256] = createHash('sha256').update(value).digest('hex');
  }
  return { ...letter, value: value.subarray(0, Math.max(0, maxBytes)), headers };
}

/** A letter the dead-letter topic refused for good, with why: to be logged and counted, not retried. */
export interface RefusedDeadLetter {
  letter: OutgoingMessage;
  error: TributaryError;
}

/** What `publishDeadLetters` did: the letters as published (some perhaps cut), and those refused for good. */
export interface DeadLetterOutcome {
  published: OutgoingMessage[];
  refused: RefusedDeadLetter[];
}

/** The letter with only Tributary's own headers: what is left to cut once its payload is empty. */
function withOwnHeadersOnly(letter: OutgoingMessage): OutgoingMessage {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(letter.headers ?? {}))
    if (OWN_HEADERS.has(name)) headers[name] = value;
  return { ...letter, headers };
}

/**
 * Publishes dead letters in requests bounded by size. A request the broker refuses as too
 * large is split in two; a single letter it refuses is cut to half its payload until it fits
 * (then, if need be, stripped of the original's headers, keeping Tributary's). A letter the
 * broker refuses for any other reason sending again cannot fix (TRIB_STREAM_REFUSED, or a
 * letter too large even when bare) is returned in `refused`, not thrown: a dead letter must
 * never stall its partition, and its original stays in the source topic at the offset its
 * headers give. Anything retriable (the broker unreachable) propagates for the caller's retry;
 * `onSettled` has by then been told of each letter published (or refused), so a caller that retries
 * only the rest publishes and counts each letter once.
 */
export async function publishDeadLetters(
  producer: Pick<StreamProducer, 'send'>,
  topic: string,
  letters: readonly OutgoingMessage[],
  onSettled?: (landed: readonly OutgoingMessage[], original: readonly OutgoingMessage[]) => void,
): Promise<DeadLetterOutcome> {
  const outcome: DeadLetterOutcome = { published: [], refused: [] };
  // `originals[i]` is the letter as the caller gave it, for `request[i]` as (perhaps) cut.
  const send = async (request: OutgoingMessage[], originals: OutgoingMessage[]): Promise<void> => {
    try {
      await producer.send(topic, request);
      outcome.published.push(...request);
      onSettled?.(request, originals);
      return;
    } catch (thrown) {
      const error = isTributaryError(thrown) ? thrown : undefined;
      if (error === undefined || error.retriable) throw thrown;
      if (error.code !== 'TRIB_MESSAGE_TOO_LARGE') {
        // Refused for good: each letter of the request alone may still fare differently.
        if (request.length > 1) {
          for (let i = 0; i < request.length; i++) await send([request[i]!], [originals[i]!]);
          return;
        }
        outcome.refused.push({ letter: originals[0]!, error });
        onSettled?.([], originals);
        return;
      }
      if (request.length > 1) {
        const half = Math.ceil(request.length / 2);
        await send(request.slice(0, half), originals.slice(0, half));
        await send(request.slice(half), originals.slice(half));
        return;
      }
      const letter = request[0]!;
      const size = Buffer.byteLength(letter.value ?? '');
      if (size > 0) return send([truncateDeadLetter(letter, Math.floor(size / 2))], originals);
      const bare = withOwnHeadersOnly(letter);
      if (Object.keys(bare.headers ?? {}).length < Object.keys(letter.headers ?? {}).length)
        return send([bare], originals);
      outcome.refused.push({
        letter: originals[0]!,
        error: new TributaryError(
          'TRIB_MESSAGE_TOO_LARGE',
          `dead letter refused by ${topic} even without its payload and the original's headers: raise the topic's max.message.bytes`,
          { cause: error, details: { topic } },
        ),
      });
      onSettled?.([], originals);
    }
  };
  for (const request of packDeadLetters(letters)) await send(request, request);
  return outcome;
}
