/**
 * The one-sided Kolmogorov–Smirnov (Smirnov) distribution, P(D+_n >= x): a port of
 * scipy's `scipy.special.smirnov` (cephes `kolmogorov.c`, van Mulbregt 2018), which sums
 * the Birnbaum–Tingey series in double-double arithmetic. scipy's `kstwo.sf` uses
 * 2·smirnov(n, x) in the tail, so the asymptotic two-sample KS p-value depends on it.
 */

import type { DD } from './double-double.ts';
import * as D from './double-double.ts';

const SMIRNOV_MAX_COMPUTE_N = 1_000_000;
const SM_UPPER_MAX_TERMS = 3;
const SM_UPPERSUM_MIN_N = 10;
const MAX_EXPONENT = 960;
const MINLOG = -708.3964185322641; // cephes MINLOG = log(2^-1022)
const DBL_EPSILON = 2.220446049250313e-16;
const ONE: DD = D.dd(1);
const ZERO: DD = D.dd(0);

/** The one-sided KS survival, CDF and density at x for samples of size n. */
export interface SmirnovProbs {
  sf: number;
  cdf: number;
  pdf: number;
}

function nextPowerOf2(x: number): number {
  const q = D.ldexp(x, 1 - 53);
  let L = Math.abs(q + x);
  if (L === 0) L = Math.abs(x);
  else if (Math.trunc(L) === L) L = Math.trunc(L);
  return L;
}

// (1 + r)^m for a double-double: pow() on hi, then correct for lo (as scipy's pow_D does).
function powD(a: DD, m: number): DD {
  if (m <= 0) {
    if (m === 0) return ONE;
    return D.inv(powD(a, -m));
  }
  if (D.isZero(a)) return ZERO;
  const ans = a.hi ** m;
  const r = a.lo / a.hi;
  let adj = m * r;
  if (Math.abs(adj) > 1e-8) {
    if (Math.abs(adj) < 1e-4) adj += m * r * (((m - 1) / 2.0) * r);
    else adj = Math.expm1(m * Math.log1p(r));
  }
  return D.addDd(ans, ans * adj);
}

function pow2(a: number, b: number, m: number): number {
  return D.toDouble(powD(D.addDd(a, b), m));
}

// a^m as mantissa · 2^exponent, splitting the power so that nothing underflows.
function pow2ScaledD(a: DD, m: number): [DD, number] {
  if (m <= 0) {
    if (m === 0) return [ONE, 0];
    const [ans0, aE1] = pow2ScaledD(a, -m);
    const [ans, aE2] = D.frexpDD(D.inv(ans0));
    return [ans, -aE1 + aE2];
  }
  const [y, yE] = D.frexpDD(a);
  if (m === 1) return [y, yE];
  let maxExpt = MAX_EXPONENT;
  if ((m * (y.hi - 1)) / y.hi < -MAX_EXPONENT * Math.LN2) {
    const lg2y = Math.log(y.hi) / Math.LN2;
    const lgAns = m * lg2y;
    if (lgAns <= -MAX_EXPONENT) maxExpt = Math.trunc(nextPowerOf2(-MAX_EXPONENT / lg2y + 1) / 2);
  }
  if (m <= maxExpt) {
    const [ans, ansE] = D.frexpDD(powD(y, m));
    return [ans, ansE + m * yE];
  }
  const q = Math.trunc(m / maxExpt);
  const r = m % maxExpt;
  const [y2r, y2rE] = pow2ScaledD(y, r);
  const [y2m, y2mE] = pow2ScaledD(y, maxExpt);
  const [y2mq, y2mqE0] = pow2ScaledD(y2m, q);
  const [ans, ansE0] = D.frexpDD(D.mul(y2r, y2mq));
  const y2mqE = y2mqE0 + y2mE * q;
  return [ans, ansE0 + y2mqE + y2rE + m * yE];
}

// ((a + b) / (c + d))^m
function pow4D(a: number, b: number, c: number, d: number, m: number): DD {
  if (m <= 0) {
    if (m === 0) return ONE;
    return pow4D(c, d, a, b, -m);
  }
  const A = D.addDd(a, b);
  const C = D.addDd(c, d);
  if (D.isZero(A)) return D.isZero(C) ? D.dd(Number.NaN) : ZERO;
  if (D.isZero(C)) return D.dd(A.hi < 0 ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY);
  return powD(D.div(A, C), m);
}

// floor(n·x) and the fractional part, computed exactly.
function modNX(n: number, x: number): { alpha: number; nxfl: number; nx: number } {
  const nxD = D.mulDd(n, x);
  const nxfloorD = D.floor(nxD);
  const alphaD = D.sub(nxD, nxfloorD);
  let alpha = alphaD.hi;
  let nxfl = Math.round(D.toDouble(nxfloorD));
  if (alpha === 1) {
    nxfl += 1;
    alpha = 0;
  }
  return { alpha, nxfl, nx: D.toDouble(nxD) };
}

/** Computes the one-sided Smirnov survival, CDF and density (scipy `_smirnov`). */
export function smirnovProbs(n: number, x: number): SmirnovProbs {
  if (!(n > 0 && x >= 0 && x <= 1)) return { sf: Number.NaN, cdf: Number.NaN, pdf: Number.NaN };
  if (n === 1) return { sf: 1 - x, cdf: x, pdf: 1 };
  if (x === 0) return { sf: 1, cdf: 0, pdf: 1 };
  if (x === 1) return { sf: 0, cdf: 1, pdf: 0 };

  const { alpha, nxfl, nx } = modNX(n, x);
  let n1mxfl = n - nxfl - (alpha === 0 ? 0 : 1);
  let n1mxceil = n - nxfl;
  // With alpha = 0 the last term belongs to neither sum.
  if (alpha === 0) {
    n1mxfl -= 1;
    n1mxceil += 1;
  }

  if (nxfl === 0 || (nxfl === 1 && alpha === 0)) {
    const t = pow2(1, x, n - 1);
    let pdf = ((nx + 1) * t) / (1 + x);
    const cdf = x * t;
    if (nxfl === 1) pdf -= 0.5;
    return { sf: 1 - cdf, cdf, pdf };
  }
  if (-2 * n * x * x < MINLOG) return { sf: 0, cdf: 1, pdf: 0 };
  if (nxfl >= n - 1) {
    const sf = pow2(1, -x, n);
    return { sf, cdf: 1 - sf, pdf: (n * sf) / (1 - x) };
  }
  if (n > SMIRNOV_MAX_COMPUTE_N) {
    const logp = -((6.0 * n * x + 1) ** 2) / 18.0 / n;
    let sf: number;
    let cdf: number;
    if (logp < -Math.LN2) {
      sf = Math.exp(logp);
      cdf = 1 - sf;
    } else {
      cdf = -Math.expm1(logp);
      sf = 1 - cdf;
    }
    return { sf, cdf, pdf: ((6.0 * n * x + 1) * 2 * sf) / 3 };
  }

  // The upper sum alternates in sign; use it only when it has very few terms.
  const nUpperTerms = n - n1mxceil + 1;
  let useUpper = nUpperTerms <= 1 && x < 0.5;
  useUpper =
    useUpper || (n >= SM_UPPERSUM_MIN_N && nUpperTerms <= SM_UPPER_MAX_TERMS && x <= 0.5 / Math.sqrt(n));

  let start = 0;
  let step = 1;
  let nTerms = n1mxfl + 1;
  const vmid = Math.trunc(n / 2);
  let Cman: DD = ONE;
  let Cexpt = 0;
  const oneOverX = D.divDd(1, x);
  let Aj: DD;
  let dAjCoeff: DD;
  if (useUpper) {
    start = n;
    step = -1;
    nTerms = n - n1mxceil + 1;
    Aj = pow4D(1, x, 1, 0, n - 1);
    dAjCoeff = D.div(D.dd(n - 1), D.addDd(1, x));
    dAjCoeff = D.add(dAjCoeff, oneOverX);
  } else {
    const t2 = pow4D(1, -x, 1, 0, n);
    Aj = D.div(t2, D.dd(x));
    dAjCoeff = D.div(D.sub(D.dd(-1), D.mulDd(n - 1, x)), D.addDd(1, -x));
    dAjCoeff = D.div(dAjCoeff, D.dd(x));
    dAjCoeff = D.add(dAjCoeff, oneOverX);
  }
  let AjSum = Aj;
  let dAjSum = D.mul(Aj, dAjCoeff);

  const updateBinomial = (j: number): void => {
    const rat = D.divDd(n - j, j + 1.0);
    const [man, expt] = D.frexpDD(D.mul(Cman, rat));
    Cexpt += expt;
    Cman = man;
  };
  updateBinomial(0);

  for (let j = 1; j < nTerms; j++) {
    const v = start + j * step;
    // A_v = C(n, v) · (1 − x − v/n)^(n−v) · (x + v/n)^(v−1)
    const t2x = D.sub(D.divDd(n - v, n), D.dd(x));
    const [t2, t2E] = pow2ScaledD(t2x, n - v);
    const t1x = D.add(D.divDd(v, n), D.dd(x));
    const [t1, t1E] = pow2ScaledD(t1x, v - 1);
    Aj = D.ldexpDD(D.mul(D.mul(t1, t2), Cman), Cexpt + t1E + t2E);

    if (D.isFiniteDD(Aj) && !D.isZero(Aj)) {
      dAjCoeff = D.sub(
        D.div(D.dd(n * (v - 1)), D.addDd(nxfl + v, alpha)),
        D.div(D.dd((n - v) * n), D.addDd(n - nxfl - v, -alpha)),
      );
      dAjCoeff = D.add(dAjCoeff, oneOverX);
      AjSum = D.add(AjSum, Aj);
      dAjSum = D.add(dAjSum, D.mul(Aj, dAjCoeff));
    }
    if (!D.isZero(Aj)) {
      if (4 * (nTerms - j) * Math.abs(D.toDouble(Aj)) < DBL_EPSILON * D.toDouble(AjSum) && j !== nTerms - 1)
        break;
    } else if (j > vmid) {
      break;
    }
    updateBinomial(j);
  }

  const deriv = D.toDouble(D.mul(D.dd(x), dAjSum));
  const prob = D.toDouble(D.mul(D.dd(x), AjSum));
  let sf: number;
  let cdf: number;
  let pdf: number;
  if (step < 0) {
    cdf = prob;
    sf = 1 - prob;
    pdf = deriv;
  } else {
    cdf = 1 - prob;
    sf = prob;
    pdf = -deriv;
  }
  return { sf: clip01(sf), cdf: clip01(cdf), pdf: Math.max(0, pdf) };
}

function clip01(p: number): number {
  return p < 0 ? 0 : Math.min(p, 1);
}

/** One-sided KS survival P(D+_n >= x) (scipy `special.smirnov`). */
export function smirnov(n: number, x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  return smirnovProbs(n, x).sf;
}
