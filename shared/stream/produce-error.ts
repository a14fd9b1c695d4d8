/**
 * A produce failure as a coded error, for every Kafka adapter: too large, refused for another
 * reason sending again cannot fix (a protocol error the client marks final: INVALID_RECORD, an
 * authorization or policy refusal), or else the stream unavailable (retriable). A caller retrying
 * only what is retriable never loops on a refusal as if it were an outage. Each adapter says how
 * to read its client's errors (`KafkaErrorFacts`); the mapping is the same.
 */
import { TributaryError } from '../errors.ts';

/** Kafka's errors for a record or request the broker will never take, whatever the retries. */
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/** What an adapter reads off one error of a failure: Kafka's error name, if it is a protocol error, and whether the client says retrying cannot help. */
export interface KafkaErrorFacts {
  name?: string | undefined;
  final: boolean;
}

/**
 * The facts of every error in `error`: itself, its `cause`s and its aggregated `errors` (one per
 * partition), for the refusal may sit in a retry wrapper's cause or among per-partition errors.
 */
export function kafkaErrorFacts(
  error: unknown,
  factsOf: (error: unknown) => KafkaErrorFacts,
): KafkaErrorFacts[] {
  const facts: KafkaErrorFacts[] = [];
  const pending: unknown[] = [error];
  for (let e = pending.pop(); e; e = pending.pop()) {
    facts.push(factsOf(e));
    const { cause, errors } = e as { cause?: unknown; errors?: unknown[] };
    if (cause) pending.push(cause);
    if (Array.isArray(errors)) pending.push(...errors);
  }
  return facts;
}

/** Kafka's error names anywhere in `error` (see `kafkaErrorFacts`). */
export function kafkaErrorNames(error: unknown, factsOf: (error: unknown) => KafkaErrorFacts): string[] {
  return kafkaErrorFacts(error, factsOf).flatMap(({ name }) => (name ? [name] : []));
}

/** The mapping, over every error in `error` (see `kafkaErrorFacts`). */
export function produceError(
  topic: string,
  error: unknown,
  factsOf: (error: unknown) => KafkaErrorFacts,
): TributaryError {
  if (error instanceof TributaryError) return error;
  const facts = kafkaErrorFacts(error, factsOf);
  const tooLarge = facts.find(({ name }) => name && TOO_LARGE.has(name))?.name;
  if (tooLarge) {
    return new TributaryError(
      'TRIB_MESSAGE_TOO_LARGE',
      `${topic} refused the records as too large (${tooLarge})`,
      {
        cause: error,
        details: { topic, kafkaError: tooLarge },
      },
    );
  }
  // Only a protocol error (it has a name) says what the broker decided; a wrapper saying
  // "retries exhausted" is final too, but its cause (a lost connection) is not.
  const refused = facts.find(({ name, final }) => name && final)?.name;
  const reason = error instanceof Error ? error.message : String(error);
  if (refused !== undefined) {
    return new TributaryError('TRIB_STREAM_REFUSED', `${topic} refused the records (${refused}): ${reason}`, {
      cause: error,
      details: { topic, kafkaError: refused },
    });
  }
  return new TributaryError('TRIB_STREAM_UNAVAILABLE', `could not produce to ${topic}: ${reason}`, {
    cause: error,
  });
}
