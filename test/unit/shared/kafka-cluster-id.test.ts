import { describe, expect, it } from 'vitest';
import { kafkaClusterId } from '../../../scripts/services.ts';

describe('kafkaClusterId', () => {
  it('draws again when the id would start with "-", which StorageTool reads as an option', () => {
    // 0xf8 in the first byte encodes to '-' (index 62 of base64url) as the first character.
    const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
    let calls = 0;
    const id = kafkaClusterId(() => draws[calls++]!);
    expect(Buffer.alloc(16, 0xf8).toString('base64url').startsWith('-')).toBe(true);
    expect(calls).toBe(2);
    expect(id).toBe(Buffer.alloc(16, 0x01).toString('base64url'));
  });

  it('gives 22-character base64url ids that never start with "-"', () => {
    for (let i = 0; i < 2_000; i++) {
      const id = kafkaClusterId();
      expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
    }
  });
});
