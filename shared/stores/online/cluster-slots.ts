/**
 * Where a key lives in a Redis Cluster, and the bucket part of the online store's cluster
 * layout (docs/online-store.md, "Redis Cluster"). Computed here rather than asked of the
 * driver: the store groups a batch's keys by slot before it builds a single command, and
 * every multi-key command and script call must stay within one slot.
 */

/** Slots of a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

/**
 * Buckets each view's entities are spread over in cluster mode: a key's hash tag is its
 * bucket, so a batch's keys fall into at most this many slots, i.e. at most this many
 * commands per batch, however many entities. 256 keeps a 500-entity lookup to a few hundred
 * small MGETs spread over the nodes, and still balances a cluster of tens of primaries.
 * Changing it moves every key: it is part of the layout.
 */
export const CLUSTER_BUCKETS = 256;

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** CRC16-CCITT (XMODEM) of `text`'s UTF-8 bytes, as Redis Cluster hashes keys. */
function crc16(text: string): number {
  let crc = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    // ASCII (every tag the store writes) without a Buffer per key; the rest by its UTF-8 bytes.
    if (code >= 0x80) return crc16Bytes(Buffer.from(text, 'utf8'));
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ code) & 0xff]!;
  }
  return crc;
}

function crc16Bytes(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

/** The slot of `key` by Redis's rule: the text of its first non-empty `{...}`, else the whole key. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16(key.slice(open + 1, close)) % CLUSTER_SLOTS;
  }
  return crc16(key) % CLUSTER_SLOTS;
}

/**
 * The bucket of an entity: FNV-1a (32 bit) of its encoded join keys' UTF-8 bytes, modulo
 * `CLUSTER_BUCKETS`. Stable across versions and processes (it is part of the key).
 */
export function bucketOf(encodedKeys: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < encodedKeys.length; i++) {
    const code = encodedKeys.charCodeAt(i);
    if (code < 0x80) {
      hash = Math.imul(hash ^ code, 0x01000193);
      continue;
    }
    // Non-ASCII: the code point's UTF-8 bytes, so the hash does not depend on JS's UTF-16.
    const point = encodedKeys.codePointAt(i)!;
    if (point > 0xffff) i++;
    const bytes = Buffer.from(String.fromCodePoint(point), 'utf8');
    for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  }
  return (hash >>> 0) % CLUSTER_BUCKETS;
}

/** `host:port,host:port` (REDIS_CLUSTER_NODES) as ioredis's startup nodes. */
export function parseClusterNodes(nodes: readonly string[]): { host: string; port: number }[] {
  return nodes.map((node) => {
    const at = node.lastIndexOf(':');
    return { host: node.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(node.slice(at + 1)) };
  });
}
