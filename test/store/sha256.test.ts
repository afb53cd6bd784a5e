import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../src/store/sha256.ts';

const reference = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

describe('sha256Hex (the hash LiteLLM stores of every key)', () => {
  it('gives the known digests', () => {
    expect(sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('agrees with node:crypto on every block boundary (55, 56, 63, 64, 65 bytes ...)', () => {
    for (let n = 0; n <= 200; n++) expect(sha256Hex('k'.repeat(n)), `length ${n}`).toBe(reference('k'.repeat(n)));
  });

  it('agrees with node:crypto on arbitrary strings and bytes, multi-byte UTF-8 included', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => sha256Hex(s) === reference(s)), { numRuns: 500 });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => sha256Hex(b) === reference(b)), { numRuns: 300 });
  });
});
