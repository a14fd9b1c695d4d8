import { createHash } from 'node:crypto';
import type { RepoSpec } from '../definitions/types.ts';

/** JSON with object keys sorted at every level, so equal specs give equal text and hashes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** The sha256 (hex) of a value's canonical JSON: a repository's identity in the registry. */
export function specHash(spec: RepoSpec | unknown): string {
  return createHash('sha256').update(canonicalJson(spec)).digest('hex');
}
