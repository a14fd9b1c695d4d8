/**
 * Dead letters counted by feature view and error code, for the dashboard's feature views page.
 * The materializer records each letter once it is published; the counts live in Postgres, so
 * they survive restarts and add up over every materializer process. What one letter says is
 * read from the headers `deadLetterMessage` sets (dead-letter.ts).
 */

import type { OutgoingMessage } from '../stream/port.ts';
import { DLQ_HEADERS } from './dead-letter.ts';

/** On a dead letter: the feature view whose decoder refused the message (set by the materializer). */
export const FEATURE_VIEW_HEADER = 'x-tributary-feature-view';

/** One published dead letter, as counted. */
export interface DeadLetterFact {
  /** The view that refused it; null when the message failed before any view (not JSON, a bad header). */
  view: string | null;
  code: string;
  reason: string;
  sourceTopic: string;
  sourcePartition: number;
  /** The source offset, a decimal int64. */
  sourceOffset: string;
  failedAt: number;
}

/** Dead letters of one (view, code) of a source topic. */
export interface DeadLetterTally {
  /** null: the message failed before any view, so it is a dead letter of every view of the topic. */
  view: string | null;
  code: string;
  count: number;
  latestReason: string;
  latestAt: number;
}

export interface DeadLetterCounts {
  /** Counts published letters; a letter recorded again (a batch replayed after a crash) counts once. */
  record(letters: readonly OutgoingMessage[]): Promise<void>;
  /** The tallies of the letters of one source topic (its `<topic>.dlq`). */
  ofTopic(sourceTopic: string): Promise<DeadLetterTally[]>;
}

/** What a letter's headers say, or null for a letter without Tributary's headers (none is counted). */
export function factOf(letter: OutgoingMessage): DeadLetterFact | null {
  const h = letter.headers ?? {};
  const code = h[DLQ_HEADERS.errorCode];
  const sourceTopic = h[DLQ_HEADERS.sourceTopic];
  const partition = Number(h[DLQ_HEADERS.sourcePartition]);
  const offset = h[DLQ_HEADERS.sourceOffset];
  if (!code || !sourceTopic || !Number.isInteger(partition) || !offset || !/^\d+$/.test(offset)) return null;
  const failedAt = Date.parse(h[DLQ_HEADERS.failedAt] ?? '');
  return {
    view: h[FEATURE_VIEW_HEADER] || null,
    code,
    reason: h[DLQ_HEADERS.reason] ?? '',
    sourceTopic,
    sourcePartition: partition,
    sourceOffset: offset,
    failedAt: Number.isFinite(failedAt) ? failedAt : Date.now(),
  };
}
