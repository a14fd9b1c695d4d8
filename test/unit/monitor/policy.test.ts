import { describe, expect, it } from 'vitest';
import { decideRetrain, INITIAL_POLICY_STATE, type PolicyState } from '../../../services/monitor/policy.ts';

const policy = { consecutiveDriftedWindows: 2, cooldownMs: 10_000 };

function run(windows: { drifted: boolean; end: number }[], p: typeof policy | null = policy) {
  let state: PolicyState = INITIAL_POLICY_STATE;
  const requests: { at: number; windows: string[] }[] = [];
  windows.forEach((w, i) => {
    const d = decideRetrain(p, state, { id: `w${i}`, drifted: w.drifted, end: w.end, driftedShare: 1 });
    state = d.state;
    if (d.request) requests.push({ at: w.end, windows: d.request.windows });
  });
  return requests;
}

describe('retrain policy', () => {
  it('requests after N consecutive drifted windows, naming them', () => {
    expect(
      run([
        { drifted: true, end: 1 },
        { drifted: true, end: 2 },
      ]),
    ).toEqual([{ at: 2, windows: ['w0', 'w1'] }]);
  });

  it('restarts the count after a window without drift', () => {
    expect(
      run([
        { drifted: true, end: 1 },
        { drifted: false, end: 2 },
        { drifted: true, end: 3 },
      ]),
    ).toEqual([]);
  });

  it('holds further requests during the cooldown, then requests as soon as it ends', () => {
    const requests = run([
      { drifted: true, end: 1_000 },
      { drifted: true, end: 2_000 }, // request
      { drifted: true, end: 3_000 },
      { drifted: true, end: 4_000 }, // in cooldown
      { drifted: true, end: 11_999 }, // still in cooldown
      { drifted: true, end: 12_000 }, // cooldown over: request
      { drifted: true, end: 13_000 },
    ]);
    expect(requests.map((r) => r.at)).toEqual([2_000, 12_000]);
    expect(requests[1]!.windows).toEqual(['w4', 'w5']);
  });

  it('never requests without a policy', () => {
    expect(
      run(
        [
          { drifted: true, end: 1 },
          { drifted: true, end: 2 },
        ],
        null,
      ),
    ).toEqual([]);
  });
});
