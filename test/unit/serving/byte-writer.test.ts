import { describe, expect, it } from 'vitest';
import { ByteWriter, copySpan } from '../../../services/serving/byte-writer.ts';

describe('ByteWriter', () => {
  it('writes answer after answer into its kept buffer, each one whole and alone', () => {
    const out = new ByteWriter(64);
    const kept = out.buffer;
    out.start(16);
    out.text('{"a":"é"}');
    expect(out.finish()).toBe('{"a":"é"}');
    out.start(8);
    out.byte(91);
    out.bytes(Buffer.from('1,2'));
    out.byte(93);
    // The shorter second answer carries nothing of the first.
    expect(out.finish()).toBe('[1,2]');
    expect(out.buffer).toBe(kept);
  });

  it('grows for a long answer, keeping what was written, and lets a very large buffer go', () => {
    const out = new ByteWriter(64);
    out.start(64);
    out.text('x');
    out.reserve(5 * 1024 * 1024);
    out.text('y'.repeat(100));
    expect(out.buffer.length).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    expect(out.finish()).toBe(`x${'y'.repeat(100)}`);
    // Past 4 MiB the buffer is not kept: one odd answer does not pin megabytes for good.
    expect(out.buffer.length).toBeLessThan(1024 * 1024);
    out.start(4);
    out.text('ok');
    expect(out.finish()).toBe('ok');
  });
});

describe('copySpan', () => {
  it('copies spans of every short length exactly, overlapping the last word', () => {
    const source = Buffer.from('0123456789abcdefghij');
    for (let start = 0; start < 8; start++) {
      for (let end = start; end <= source.length; end++) {
        const target = Buffer.alloc(32, 0x2e);
        const count = copySpan(
          source,
          new DataView(source.buffer, source.byteOffset, source.length),
          start,
          end,
          target,
          new DataView(target.buffer, target.byteOffset, target.length),
          3,
        );
        expect(count).toBe(end - start);
        expect(target.toString('latin1')).toBe(
          `...${source.toString('latin1', start, end)}${'.'.repeat(29 - (end - start))}`,
        );
      }
    }
  });
});
