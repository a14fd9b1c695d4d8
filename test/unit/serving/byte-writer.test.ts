import { describe, expect, it } from 'vitest';
import { AnswerBuffers, ByteWriter, copySpan } from '../../../services/serving/byte-writer.ts';

const KB = 1024;

describe('ByteWriter', () => {
  it('writes bytes, text and single bytes, growing past its first buffer', () => {
    const out = new ByteWriter(64);
    out.text('{"a":"é",');
    out.bytes(Buffer.from('"b":['));
    for (let i = 0; i < 100; i++) out.byte(i === 0 ? 48 : 44);
    out.byte(93);
    out.byte(125);
    const { bytes } = out.finish();
    expect(bytes.toString('utf8')).toBe(`{"a":"é","b":[0${','.repeat(99)}]}`);
  });
});

describe('AnswerBuffers', () => {
  it('hands a released buffer to the next answer, and an unreleased one to nobody', () => {
    const buffers = new AnswerBuffers();
    const first = new ByteWriter(20 * KB, buffers);
    first.text('x'.repeat(20 * KB));
    const sent = first.finish();
    // Not released yet (still being sent): the next answer gets a buffer of its own.
    const second = new ByteWriter(20 * KB, buffers);
    expect(second.buffer.buffer).not.toBe(sent.bytes.buffer);
    sent.release();
    sent.release(); // at most once, however often called
    expect(buffers.size).toBe(1);
    const third = new ByteWriter(20 * KB, buffers);
    expect(third.buffer.buffer).toBe(sent.bytes.buffer);
    expect(buffers.size).toBe(0);
  });

  it('gives a buffer outgrown while writing back at once: it was never handed out', () => {
    const buffers = new AnswerBuffers();
    const out = new ByteWriter(20 * KB, buffers);
    const small = out.buffer;
    out.text('y'.repeat(100 * KB));
    expect(out.buffer).not.toBe(small);
    expect(buffers.size).toBe(1);
    expect(out.finish().bytes.toString('latin1')).toBe('y'.repeat(100 * KB));
  });

  it('keeps neither small buffers, nor huge ones, nor more than its bound', () => {
    const buffers = new AnswerBuffers(100 * KB, 64 * KB);
    buffers.give(Buffer.allocUnsafe(4 * KB)); // below 16 KB: Node's pool does these
    buffers.give(Buffer.allocUnsafe(128 * KB)); // above the largest kept
    expect(buffers.size).toBe(0);
    buffers.give(Buffer.allocUnsafe(64 * KB));
    buffers.give(Buffer.allocUnsafe(64 * KB)); // past 100 KB in all
    expect(buffers.size).toBe(1);
    expect(buffers.take(32 * KB).length).toBe(64 * KB);
    // Sized up to a power of two, to fit the next answers of about the same size.
    expect(buffers.take(33 * KB).length).toBe(64 * KB);
  });
});

describe('copySpan', () => {
  it('copies spans of every short length exactly, overlapping the last word', () => {
    const source = Buffer.from('0123456789abcdefghij');
    const sourceWords = new DataView(source.buffer, source.byteOffset, source.length);
    for (let start = 0; start < 8; start++) {
      for (let end = start; end <= source.length; end++) {
        const target = Buffer.alloc(32, 0x2e);
        const targetWords = new DataView(target.buffer, target.byteOffset, target.length);
        const count = copySpan(source, sourceWords, start, end, target, targetWords, 3);
        expect(count).toBe(end - start);
        expect(target.toString('latin1')).toBe(
          `...${source.toString('latin1', start, end)}${'.'.repeat(29 - (end - start))}`,
        );
      }
    }
  });
});
