/**
 * The complementary error function and the normal survival function at full double
 * precision, including the far tail (z-test p-values of 1e-15 and below).
 */

import { gammaQ, upperFraction } from './gamma.ts';

const EPS = 2.220446049250313e-16;
const TWO_OVER_SQRT_PI = 1.1283791670955126;
const SQRT_PI = 1.7724538509055159;

/** e^(−x²) without the error of rounding x² first: x = xs + (x − xs) with xs on a 1/16 grid (Cody). */
function expMinusSquare(x: number): number {
  const xs = Math.trunc(x * 16) / 16;
  const del = (x - xs) * (x + xs);
  return Math.exp(-xs * xs) * Math.exp(-del);
}

/** erf(x) for small |x| by its Taylor series. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let total = x;
  for (let n = 1; n < 200; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    total += add;
    if (Math.abs(add) < Math.abs(total) * EPS) break;
  }
  return TWO_OVER_SQRT_PI * total;
}

/** Complementary error function erfc(x), relative accuracy ~1e-15 down to underflow. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 0.5) return 1 - erfSeries(x);
  if (x < 1.25) return gammaQ(0.5, x * x);
  if (x > 27.3) return 0; // erfc underflows below the smallest subnormal
  return (expMinusSquare(x) * x * upperFraction(0.5, x * x)) / SQRT_PI;
}

/** Error function erf(x). */
export function erf(x: number): number {
  if (Math.abs(x) < 0.5) return erfSeries(x);
  return x > 0 ? 1 - erfc(x) : erfc(-x) - 1;
}

/** Survival function of the standard normal, P(Z > z) (scipy `norm.sf`). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z * Math.SQRT1_2);
}

/** Two-sided p-value of a standard normal statistic, 2·P(Z > |z|). */
export function normalTwoSided(z: number): number {
  return Math.min(1, erfc(Math.abs(z) * Math.SQRT1_2));
}
