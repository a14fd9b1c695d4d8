/**
 * Webhook signatures: `X-Tributary-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed
 * with the webhook's secret. Receivers verify with `verifySignature` (or the same three lines of
 * their own, see docs/monitor.md) over the exact bytes they received.
 */

import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-tributary-signature';
export const DELIVERY_HEADER = 'x-tributary-delivery';
export const EVENT_TYPE_HEADER = 'x-tributary-event';

/** The header value for `body` under `secret`: `sha256=<hex>`. */
export function signBody(body: string | Buffer, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** True when `header` is the signature of `body` under `secret` (constant-time comparison). */
export function verifySignature(
  body: string | Buffer,
  secret: string,
  header: string | undefined | null,
): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(signBody(body, secret));
  const given = Buffer.from(header.trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
