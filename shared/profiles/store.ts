import type { ReferenceProfile } from './types.ts';

/** Where reference profiles live; one per model and model version. */
export interface ProfileStore {
  /** Creates what the store needs (idempotent). */
  ensureSchema(): Promise<void>;
  /** Stores a profile, replacing one of the same model and version. */
  put(profile: ReferenceProfile): Promise<void>;
  /** The profile of that model version, or null. */
  get(model: string, modelVersion: string): Promise<ReferenceProfile | null>;
  /** The model's newest profile (greatest `createdAt`, when it was built), or null. */
  latest(model: string): Promise<ReferenceProfile | null>;
  /** Versions with a profile, newest first in `latest`'s order: the first is the one `latest` returns. */
  list(model: string): Promise<{ modelVersion: string; createdAt: string; rows: number }[]>;
  close(): Promise<void>;
}
