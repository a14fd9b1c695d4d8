/**
 * Log-gamma, the regularized incomplete gamma functions and the chi-square survival
 * function. Chi-square p-values of drift tests go down to 1e-300, so Q(a, x) is computed
 * directly (never as 1 − P) wherever it is small.
 */

const LOG_SQRT_2PI = 0.9189385332046728;
const MAX_ITER = 10_000;
const EPS = 2.220446049250313e-16;
const TINY = 1e-300;

// Stirling series coefficients B_2k / (2k (2k − 1)), k = 1…8.
const STIRLING = [1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400];

/** Natural log of Γ(x) for x > 0, to about 1e-15 relative. */
export function lgamma(x: number): number {
  if (!(x > 0)) return x === 0 ? Number.POSITIVE_INFINITY : Number.NaN;
  if (x === 1 || x === 2) return 0;
  // Chi-square tests only ask for integers and half-integers: a product is exact to the last
  // few ulps there, and far simpler to trust than a fitted approximation.
  if (x <= 100 && Number.isInteger(2 * x)) return Math.log(gammaHalfInteger(x));
  // Shift to x >= 15, where the truncated Stirling series is accurate to double precision.
  let shift = 1;
  let y = x;
  while (y < 15) {
    shift *= y;
    y += 1;
  }
  const r = 1 / (y * y);
  let series = 0;
  for (let k = STIRLING.length - 1; k >= 0; k--) series = series * r + STIRLING[k]!;
  const value = (y - 0.5) * Math.log(y) - y + LOG_SQRT_2PI + series / y;
  return shift === 1 ? value : value - Math.log(shift);
}

function gammaHalfInteger(x: number): number {
  // Γ(n) = (n − 1)!, Γ(n + ½) = √π · ½ · 3/2 · … · (n − ½)
  let g = Number.isInteger(x) ? 1 : Math.sqrt(Math.PI);
  for (let t = Number.isInteger(x) ? 1 : 0.5; t < x; t += 1) g *= t;
  return g;
}

/** exp(a ln x − x − ln Γ(a)), the common prefactor of P and Q. */
function prefactor(a: number, x: number): number {
  return Math.exp(a * Math.log(x) - x - lgamma(a));
}

/** Power series for P(a, x) divided by the prefactor; converges fast for x < a + 1. */
function lowerSeries(a: number, x: number): number {
  let term = 1 / a;
  let total = term;
  let ap = a;
  for (let n = 0; n < MAX_ITER; n++) {
    ap += 1;
    term *= x / ap;
    total += term;
    if (Math.abs(term) < Math.abs(total) * EPS) break;
  }
  return total;
}

/** Legendre continued fraction for Q(a, x) divided by the prefactor (modified Lentz); for x >= a + 1. */
export function upperFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITER; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return h;
}

/** Regularized lower incomplete gamma P(a, x). */
export function gammaP(a: number, x: number): number {
  if (Number.isNaN(a) || Number.isNaN(x) || a <= 0 || x < 0) return Number.NaN;
  if (x === 0) return 0;
  if (x === Number.POSITIVE_INFINITY) return 1;
  if (x < a + 1) return prefactor(a, x) * lowerSeries(a, x);
  return 1 - prefactor(a, x) * upperFraction(a, x);
}

/** Regularized upper incomplete gamma Q(a, x) = 1 − P(a, x), accurate when small. */
export function gammaQ(a: number, x: number): number {
  if (Number.isNaN(a) || Number.isNaN(x) || a <= 0 || x < 0) return Number.NaN;
  if (x === 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  if (x < a + 1) return 1 - prefactor(a, x) * lowerSeries(a, x);
  return prefactor(a, x) * upperFraction(a, x);
}

/** Survival function of the chi-square distribution with `dof` degrees of freedom (scipy `chi2.sf`). */
export function chi2Sf(statistic: number, dof: number): number {
  if (!(dof > 0) || Number.isNaN(statistic)) return Number.NaN;
  if (statistic <= 0) return 1;
  return gammaQ(dof / 2, statistic / 2);
}
