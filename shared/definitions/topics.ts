/**
 * How many partitions and replicas the topics of a repository get: the bounds validation
 * enforces and the defaults `apply` uses when a declaration says nothing (docs/definitions.md).
 */

/**
 * Partitions of a Kafka source's topic when the declaration gives none. More than one, or a second materializer in the group sits idle; 6
 * splits evenly over 1, 2, 3 or 6 consumers and costs little on one broker. Resolved when
 * topics are planned, not stored in the registry, so a repository that declares nothing keeps
 * the hash (and registry version) it had before partitions could be declared.
 */
export const DEFAULT_PARTITIONS = 6;

/**
 * Partitions of dead-letter, drift, retraining and prediction topics. Dead letters, drift events
 * and retraining requests are few, and one partition keeps them in the order they were written
 * (the order a replay of dead letters wants). A prediction topic is read by one monitor process
 * at a time (it holds the monitor's lock), so more partitions would add no reader, and a row
 * window then holds predictions in the order they were produced rather than interleaved.
 */
export const SINGLE_PARTITION = 1;

/** The most partitions a declaration may ask for: beyond this a typo is likelier than a need. */
export const MAX_PARTITIONS = 10_000;

/**
 * The most replicas a declaration may ask for; a cluster needs at least as many brokers. Absent,
 * the stream adapter gives min(3, brokers) (shared/stream/topics.ts).
 */
export const MAX_REPLICATION_FACTOR = 10;
