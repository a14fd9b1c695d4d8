/**
 * The retraining policy: request retraining after N consecutive drifted windows of a model
 * version, at most once per cooldown. Pure; time is the windows' event time, so a replay or a
 * restart decides exactly as the first run did.
 */

import type { RetrainPolicySpec } from '../../shared/definitions/types.ts';

export interface PolicyState {
  /** Drifted windows in a row so far. */
  consecutive: number;
  /** Their drift event ids, oldest first (at most N kept). */
  driftIds: string[];
  /** Event time (window end) of the last request, or null. */
  lastRequestAt: number | null;
}

export const INITIAL_POLICY_STATE: PolicyState = Object.freeze({
  consecutive: 0,
  driftIds: [],
  lastRequestAt: null,
}) as PolicyState;

export interface PolicyDecision {
  state: PolicyState;
  /** Set when retraining should be requested now. */
  request: { windows: string[]; reason: string } | null;
}

/** Feeds one closed window into the policy. */
export function decideRetrain(
  policy: RetrainPolicySpec | null,
  state: PolicyState,
  window: { id: string; drifted: boolean; end: number; driftedShare: number },
): PolicyDecision {
  if (policy === null) return { state, request: null };
  if (!window.drifted) return { state: { ...state, consecutive: 0, driftIds: [] }, request: null };
  const n = Math.max(1, policy.consecutiveDriftedWindows);
  const consecutive = state.consecutive + 1;
  const driftIds = [...state.driftIds, window.id].slice(-n);
  if (consecutive < n) return { state: { ...state, consecutive, driftIds }, request: null };
  const cooling = state.lastRequestAt !== null && window.end - state.lastRequestAt < policy.cooldownMs;
  // In cooldown the run keeps counting, so a drift that outlasts the cooldown is requested as soon as it ends.
  if (cooling) return { state: { ...state, consecutive, driftIds }, request: null };
  return {
    state: { consecutive: 0, driftIds: [], lastRequestAt: window.end },
    request: {
      windows: driftIds,
      reason: `dataset drift in ${consecutive} consecutive windows (policy: ${n}); last drifted share ${window.driftedShare.toFixed(3)}`,
    },
  };
}
