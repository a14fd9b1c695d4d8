import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';

/** The real services this test run uses (see test/global-setup.ts). */
export function services() {
  return inject('services');
}

/** A name no other test uses: for topics, consumer groups, schemas and key prefixes. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
}
