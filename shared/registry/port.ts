/**
 * The registry as the rest of Tributary needs it: versions of the whole repository, an
 * apply lock, and change notifications. `postgres.ts` is the adapter; the plan logic and the
 * watcher depend only on this.
 */
import type { RepoSpec } from '../definitions/types.ts';
import type { Plan } from './plan.ts';

/** A recorded version, without its spec. */
export interface RegistryVersionInfo {
  /** 1, 2, 3… in apply order. */
  version: number;
  /** sha256 of the spec's canonical JSON. */
  hash: string;
  appliedAt: Date;
  /** `user@host`, or TRIBUTARY_APPLIED_BY. */
  appliedBy: string;
}

export interface RegistryVersion extends RegistryVersionInfo {
  spec: RepoSpec;
}

export interface NewVersion {
  spec: RepoSpec;
  hash: string;
  appliedBy: string;
  /** The plan that led here, kept with the version for `history`. */
  plan: Plan;
}

/** What an apply may do while it holds the registry's lock; everything commits together. */
export interface ApplyTransaction {
  latest(): Promise<RegistryVersion | null>;
  /** Records a version and its current objects, and notifies watchers when the transaction commits. */
  record(version: NewVersion): Promise<RegistryVersionInfo>;
  /** Remembers that a view's table was archived. */
  recordArchive(view: string, table: string, reason: string): Promise<void>;
  /**
   * Removes literal webhook secrets (recorded before `secretEnv`) from every stored version
   * and object; resolves to how many rows of each held one.
   */
  scrubSecrets(): Promise<{ versions: number; objects: number }>;
}

/** A registry event a watcher reacts to. */
export type RegistryEvent =
  | { type: 'version'; version: number; hash: string }
  /** The notification connection came back after a loss: versions may have been missed. */
  | { type: 'reconnected' };

export interface RegistrySubscription {
  close(): Promise<void>;
}

export interface RegistryStore {
  /** The current version with its spec; null when nothing was applied yet. */
  latest(): Promise<RegistryVersion | null>;
  /** The current version's number and hash; null when nothing was applied yet. */
  latestInfo(): Promise<RegistryVersionInfo | null>;
  /** The most recent versions, newest first. */
  history(limit?: number): Promise<RegistryVersionInfo[]>;
  /** A given version, or null. */
  version(version: number): Promise<RegistryVersion | null>;
  /** Runs `work` holding the apply lock, in one transaction; two applies never interleave. */
  withApplyLock<T>(work: (tx: ApplyTransaction) => Promise<T>): Promise<T>;
  /** Calls `listener` on every new version and after a reconnect, until closed. */
  subscribe(listener: (event: RegistryEvent) => void): Promise<RegistrySubscription>;
  close(): Promise<void>;
}
