import { describe, expect, it } from 'vitest';
import { signBody, verifySignature } from '../../../shared/monitoring/signature.ts';

describe('webhook signatures', () => {
  it('is sha256=<hex HMAC-SHA256> of the body (RFC 4231 test case 2)', () => {
    expect(signBody('what do ya want for nothing?', 'Jefe')).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('verifies the exact body and rejects anything else', () => {
    const body = JSON.stringify({ type: 'drift', id: 'x' });
    const header = signBody(body, 's3cret');
    expect(verifySignature(body, 's3cret', header)).toBe(true);
    expect(verifySignature(Buffer.from(body), 's3cret', header)).toBe(true);
    expect(verifySignature(`${body} `, 's3cret', header)).toBe(false);
    expect(verifySignature(body, 'other', header)).toBe(false);
    expect(verifySignature(body, 's3cret', undefined)).toBe(false);
    expect(verifySignature(body, 's3cret', 'sha256=00')).toBe(false);
  });
});
