/**
 * The package root: what feature repositories and client code import from 'tributary'.
 */

export type * from './definitions/types.ts';
export * from './errors.ts';
