/**
 * The first Wasserstein distance between two samples (scipy `wasserstein_distance`) and its
 * normed form, divided by the reference's population standard deviation so that one
 * threshold works for every feature whatever its unit.
 */

import { Accumulator, sum } from './sum.ts';

/** Floor on the reference's standard deviation: a constant reference would otherwise divide by 0. */
export const STD_FLOOR = 0.001;

/** Population standard deviation (numpy `std`, ddof = 0). */
export function stdPopulation(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return Number.NaN;
  const mean = sum(values) / n;
  const acc = new Accumulator();
  for (let i = 0; i < n; i++) {
    const d = values[i]! - mean;
    acc.add(d * d);
  }
  return Math.sqrt(acc.value() / n);
}

/** W1 between two ascending samples: the integral of |F_a − F_b| over the merged support. */
export function wasserstein(sortedA: ArrayLike<number>, sortedB: ArrayLike<number>): number {
  const n1 = sortedA.length;
  const n2 = sortedB.length;
  if (n1 === 0 || n2 === 0) return Number.NaN;
  const acc = new Accumulator();
  let i = 0;
  let j = 0;
  let prev = Math.min(sortedA[0]!, sortedB[0]!);
  while (i < n1 || j < n2) {
    const a = i < n1 ? sortedA[i]! : Number.POSITIVE_INFINITY;
    const b = j < n2 ? sortedB[j]! : Number.POSITIVE_INFINITY;
    const v = Math.min(a, b);
    // Between prev and v both ECDFs are flat at their values just after prev.
    if (v > prev) acc.add(Math.abs(i / n1 - j / n2) * (v - prev));
    while (i < n1 && sortedA[i]! <= v) i++;
    while (j < n2 && sortedB[j]! <= v) j++;
    prev = v;
  }
  return acc.value();
}

/**
 * What W1 is divided by: max(std, 0.001); NaN when the std is not a finite number — values whose
 * spread overflows a double (|x| near 1e154 and beyond) give NaN or ∞, and a profile stores it as
 * null — so the normed distance is undefined rather than 0 or huge.
 */
export function normingScale(std: number): number {
  return Number.isFinite(std) ? Math.max(std, STD_FLOOR) : Number.NaN;
}

/** W1 divided by max(std(reference, ddof 0), 0.001); NaN when either is not a finite number. */
export function wassersteinNormed(
  sortedReference: ArrayLike<number>,
  sortedCurrent: ArrayLike<number>,
): number {
  const normed = wasserstein(sortedReference, sortedCurrent) / normingScale(stdPopulation(sortedReference));
  return Number.isFinite(normed) ? normed : Number.NaN;
}
