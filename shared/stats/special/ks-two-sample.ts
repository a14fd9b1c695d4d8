/**
 * The exact null distribution of the two-sample KS statistic, ported from scipy's
 * `ks_2samp` (`_compute_prob_outside_square` for equal sizes, and the pythran
 * `_compute_outer_prob_inside_method`, Hodges 1958 with Viehmann's 2021 recursion for
 * 1 − p, which stays accurate for tiny p-values).
 */

/** Greatest common divisor of two positive integers. */
export function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/** numpy's round: to nearest, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x % 1) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** P(D_{n,n} >= h/n) for two samples of equal size n. */
export function probOutsideSquare(n: number, h: number): number {
  // 2·(A0·(1 − A1·(1 − A2·(…)))) with A_k = binom(2n, n − kh)/binom(2n, n − (k−1)h), Horner-like.
  let P = 0.0;
  let k = Math.floor(n / h);
  while (k >= 0) {
    let p1 = 1.0;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1.0 - P);
    k -= 1;
  }
  return 2 * P;
}

/** Proportion of lattice paths from (0,0) to (m,n) leaving the band |x/m − y/n| < h/lcm(m,n). */
export function outerProbInside(m0: number, n0: number, g: number, h: number): number {
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = Math.floor(m / g);
  const ng = Math.floor(n / g);
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  for (let j = minj; j < maxj; j++) A[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.max(Math.floor((ng * i - h) / mg) + 1, 0);
    minj = Math.min(minj, n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1.0;
    let val = minj === 0 ? 0.0 : 1.0;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj]! * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) {
      // Carried-over entries beyond the new window are paths already outside: 1.
      const from = maxj - minj;
      const to = Math.min(from + (lastlen - curlen), lenA);
      for (let j = from; j < to; j++) A[j] = 1;
    }
  }
  return A[maxj - minj - 1]!;
}

/**
 * The exact two-sided p-value of the two-sample KS statistic d for sizes n1 and n2, and
 * d snapped to the lattice h/lcm(n1, n2) it lives on; `ok` is false when the computation
 * lost its accuracy (scipy then falls back to the asymptotic p-value).
 */
export function ksTwoSampleExact(n1: number, n2: number, d: number): { ok: boolean; d: number; p: number } {
  const g = gcd(n1, n2);
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  const dd = (h * 1.0) / lcm;
  if (h === 0) return { ok: true, d: dd, p: 1.0 };
  const p = n1 === n2 ? probOutsideSquare(n1, h) : outerProbInside(n1, n2, g, h);
  if (!Number.isFinite(p) || !(p >= 0 && p <= 1)) return { ok: false, d: dd, p };
  return { ok: true, d: dd, p };
}
