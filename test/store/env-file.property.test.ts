/**
 * Properties of the .env editor, for generated files: what dotenv reads after
 * an edit is what it read before with the one variable changed; every byte
 * outside the edited assignment is untouched; editing again is a no-op; and
 * for arbitrary bytes the editor edits correctly or refuses, never worse.
 */
import { parse } from 'dotenv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnvDocument } from '../../src/store/env-file.ts';
import { EnvFileError } from '../../src/errors.ts';

const RUNS = Number(process.env.ENV_FILE_PROPERTY_RUNS ?? 600);
const KEYS = ['OPENAI_API_KEY', 'A', 'B_2', 'x.y', 'K-1'] as const;

type Eol = '\n' | '\r\n';

/** One generated piece of a file: its bytes (without the line break after it) and, for an assignment, what dotenv must read. */
interface Item {
  bytes: Buffer;
  assignment?: { key: string; value: string };
}

const chars = (alphabet: string, maxLength = 12) => fc.array(fc.constantFrom(...alphabet), { maxLength }).map((a) => a.join(''));

/** An assignment, written in one of the ways people write them; `eol` joins the lines of a multi-line value. */
const assignment = (eol: Eol): fc.Arbitrary<Item> =>
  fc
    .record({
      key: fc.constantFrom(...KEYS),
      indent: fc.constantFrom('', '', '  ', '\t'),
      exported: fc.constantFrom('', '', 'export ', 'export\t'),
      form: fc.oneof(
        // unquoted: no quote first, no #; dotenv trims it
        chars('abcXYZ019_-./:=+@ \t', 16).map((s) => ({ text: s, value: s.trim(), colonOk: s.trim() !== '' && !/^\s/.test(s) })),
        chars(`abc019 #"\`=$`, 12).map((s) => ({ text: `'${s}'`, value: s, colonOk: true })),
        chars("abc019 #'`=$", 12).map((s) => ({ text: `"${s}"`, value: s, colonOk: true })),
        chars(`abc019 #'"=$`, 12).map((s) => ({ text: `\`${s}\``, value: s, colonOk: true })),
        // double quotes: \n and \r escapes
        fc.array(fc.constantFrom('ab', ' ', '#', '\\n', '\\r', "'"), { maxLength: 6 }).map((a) => {
          const s = a.join('');
          return { text: `"${s}"`, value: s.replace(/\\n/g, '\n').replace(/\\r/g, '\r'), colonOk: true };
        }),
        // multi-line values, the line breaks being the file's
        fc.tuple(fc.constantFrom(`'`, '"', '`'), fc.array(chars('abc =#-', 8), { minLength: 2, maxLength: 4 })).map(([q, lines]) => ({
          text: `${q}${lines.join(eol)}${q}`,
          value: lines.join('\n'),
          colonOk: true,
        })),
      ),
      colon: fc.boolean(),
      before: fc.constantFrom('', '', ' ', '  '),
      after: fc.constantFrom('', '', ' ', '\t'),
      spaceAfter: fc.constantFrom('', '', '  '),
      comment: fc.option(chars(`abc #'"=`, 10).map((c) => ` # ${c}`), { nil: '' }),
    })
    .map(({ key, indent, exported, form, colon, before, after, spaceAfter, comment }) => {
      const sep = colon && form.colonOk ? ': ' : `${before}=${after}`;
      return {
        bytes: Buffer.from(`${indent}${exported}${key}${sep}${form.text}${spaceAfter}${comment}`, 'utf8'),
        assignment: { key, value: form.value },
      };
    });

/** Arbitrary bytes after `#` (no line breaks, nor the Unicode separators dotenv's regex ends a comment at). */
const commentLine: fc.Arbitrary<Item> = fc
  .tuple(fc.constantFrom('', '  '), fc.uint8Array({ maxLength: 24 }))
  .map(([indent, raw]) => Buffer.concat([Buffer.from(`${indent}#`), Buffer.from(raw.filter((b) => b !== 0x0a && b !== 0x0d))]))
  .filter((b) => !/[\u2028\u2029]/.test(b.toString('utf8')))
  .map((bytes) => ({ bytes }));

const blankLine: fc.Arbitrary<Item> = fc.constantFrom('', '', '   ', '\t').map((s) => ({ bytes: Buffer.from(s) }));

interface GeneratedFile {
  bytes: Buffer;
  /** Byte range and 1-based line of each item. */
  items: (Item & { start: number; end: number; line: number })[];
}

const envFile: fc.Arbitrary<GeneratedFile> = fc
  .record({
    style: fc.constantFrom<Eol[]>(['\n'], ['\r\n'], ['\n', '\r\n']),
    bom: fc.boolean(),
    trailingNewline: fc.boolean(),
    count: fc.integer({ min: 0, max: 10 }),
  })
  .chain(({ style, bom, trailingNewline, count }) =>
    fc
      .tuple(
        fc.array(
          fc.constantFrom(...style).chain((eol) => fc.tuple(fc.oneof({ weight: 3, arbitrary: assignment(eol) }, { weight: 1, arbitrary: commentLine }, { weight: 1, arbitrary: blankLine }), fc.constant(eol))),
          { minLength: count, maxLength: count },
        ),
        fc.constant(bom),
        fc.constant(trailingNewline),
      )
      .map(([pieces, withBom, trailing]) => {
        const parts: Buffer[] = [];
        const items: GeneratedFile['items'] = [];
        let offset = 0;
        let line = 1;
        if (withBom) {
          parts.push(Buffer.from([0xef, 0xbb, 0xbf]));
          offset = 3;
        }
        pieces.forEach(([item, eol], i) => {
          items.push({ ...item, start: offset, end: offset + item.bytes.length, line });
          parts.push(item.bytes);
          offset += item.bytes.length;
          line += (item.bytes.toString('latin1').match(/\r\n|\r|\n/g) ?? []).length;
          if (i < pieces.length - 1 || trailing) {
            parts.push(Buffer.from(eol));
            offset += eol.length;
            line++;
          }
        });
        return { bytes: Buffer.concat(parts), items };
      }),
  );

const newValue = fc.oneof(
  fc.stringMatching(/^sk-[A-Za-z0-9_-]{8,40}$/),
  fc.constant('sk-proxy-default'),
  fc.constant(''),
  chars(`aZ0 #='"\`\\$:\t\né✓`, 14),
  fc.string({ maxLength: 16 }),
  fc.string({ unit: 'grapheme', maxLength: 8 }),
);

const expectedMap = (items: Item[]) => {
  const map: Record<string, string> = {};
  for (const i of items) if (i.assignment) map[i.assignment.key] = i.assignment.value;
  return map;
};

describe('EnvDocument properties (generated files)', () => {
  it('reads what dotenv reads, with the right lines', () => {
    fc.assert(
      fc.property(envFile, (file) => {
        // The generator writes what it means: dotenv agrees with it.
        expect(parse(file.bytes)).toEqual(expectedMap(file.items));
        const doc = EnvDocument.parse(file.bytes, '.env');
        expect(doc.values()).toEqual(parse(file.bytes));
        const assigned = file.items.filter((i) => i.assignment);
        expect(doc.assignments()).toEqual(assigned.map((i) => ({ key: i.assignment!.key, value: i.assignment!.value, line: i.line, exported: /^\s*export\s/.test(i.bytes.toString()) })));
        expect(doc.toBuffer().equals(file.bytes)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('changes only the target, byte for byte, and is idempotent', () => {
    fc.assert(
      fc.property(envFile, fc.constantFrom(...KEYS), newValue, (file, key, value) => {
        const doc = EnvDocument.parse(file.bytes, '.env');
        let next: EnvDocument;
        try {
          next = doc.set(key, value);
        } catch (err) {
          // Only values no quoting can carry are refused here: a `#` or line break needs quotes, and
          // a quoted value ends at its first quote (a backslash before it stays in the value, and may
          // escape the closing quote); a CR can only be written as `\r` in double quotes.
          expect(err).toBeInstanceOf(EnvFileError);
          expect(/[\r\\]/.test(value) || (value.includes("'") && value.includes('"') && value.includes('`'))).toBe(true);
          return;
        }
        const out = next.toBuffer();
        // (a) dotenv reads the old map with the one value changed.
        expect(parse(out)).toEqual({ ...parse(file.bytes), [key]: value });
        // (b) every byte outside the target assignment is the same.
        const target = file.items.filter((i) => i.assignment?.key === key).at(-1);
        if (doc.get(key) === value) {
          expect(out.equals(file.bytes)).toBe(true);
        } else if (target) {
          const tail = file.bytes.length - target.end;
          expect(out.subarray(0, target.start).equals(file.bytes.subarray(0, target.start))).toBe(true);
          expect(out.subarray(out.length - tail).equals(file.bytes.subarray(target.end))).toBe(true);
          expect(out.length - tail).toBeGreaterThanOrEqual(target.start);
        } else {
          expect(out.subarray(0, file.bytes.length).equals(file.bytes)).toBe(true);
          const added = out.subarray(file.bytes.length).toString('utf8');
          if (!/[\r\n]/.test(value)) expect(added).toMatch(new RegExp(`^(\\r\\n|\\n)?(export )?${key.replace('.', '\\.')}=[^\\r\\n]*(\\r\\n|\\n)?$`));
        }
        // (c) the same edit again changes nothing.
        expect(next.set(key, value).toBuffer().equals(out)).toBe(true);
        expect(EnvDocument.parse(out, '.env').set(key, value).toBuffer().equals(out)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('EnvDocument.setAll (many keys in one edit)', () => {
  it('gives the bytes setting them one by one gives, or refuses the same way', () => {
    const many = fc.uniqueArray(fc.tuple(fc.constantFrom(...KEYS, 'NEW_1', 'NEW_2', 'NEW.3'), newValue), { selector: ([k]) => k, minLength: 2, maxLength: 6 });
    fc.assert(
      fc.property(envFile, many, (file, pairs) => {
        const doc = EnvDocument.parse(file.bytes, '.env');
        const values = Object.fromEntries(pairs);
        let sequential: Buffer | EnvFileError;
        try {
          sequential = pairs.reduce((d, [k, v]) => d.set(k, v), doc).toBuffer();
        } catch (err) {
          expect(err).toBeInstanceOf(EnvFileError);
          sequential = err as EnvFileError;
        }
        if (sequential instanceof EnvFileError) {
          // Refused the same way, unless in one edit no line in between spoiled the first quoting.
          try {
            expect(parse(doc.setAll(values).toBuffer())).toEqual({ ...parse(file.bytes), ...values });
          } catch (err) {
            expect(err).toBeInstanceOf(EnvFileError);
          }
          return;
        }
        const out = doc.setAll(values).toBuffer();
        expect(parse(out)).toEqual({ ...parse(file.bytes), ...values });
        if (out.equals(sequential)) return;
        // Else a value took its first quoting in one edit where, set one by one, a line not yet
        // edited made that quoting read back wrong: still only the target assignments changed.
        const targets = new Set(pairs.map(([k]) => file.items.filter((i) => i.assignment?.key === k).at(-1)));
        const text = out.toString('latin1');
        let at = file.items.find((i) => targets.has(i))?.start ?? file.bytes.length;
        expect(text.slice(0, at)).toBe(file.bytes.subarray(0, at).toString('latin1'));
        for (const item of file.items) {
          if (targets.has(item) || item.start < at) continue;
          const found = text.indexOf(item.bytes.toString('latin1'), at);
          expect(found).toBeGreaterThanOrEqual(at);
          at = found + item.bytes.length;
        }
      }),
      { numRuns: RUNS },
    );
  });
});

/** Bytes that matter to dotenv's parser, and some that matter to UTF-8. */
const SNIPPETS = ['A', 'B', 'export', ' ', '\t', '=', ':', '\n', '\r\n', '\r', '#', "'", '"', '`', '\\', 'n', 'x', '\u2028', '\uFEFF', 'é'].map((s) => Buffer.from(s, 'utf8'));
const RAW = [[0xff], [0xc3], [0xe2, 0x80], [0x00], [0xed, 0xa0, 0x80], [0xf0, 0x9f]].map((b) => Buffer.from(b));
const anyBytes = fc.array(fc.constantFrom(...SNIPPETS, ...RAW), { maxLength: 40 }).map((parts) => Buffer.concat(parts));

/** 1-based line of a byte offset, line breaks being LF, CRLF and a lone CR (as dotenv). */
const lineAt = (bytes: Buffer, offset: number) => (bytes.subarray(0, offset).toString('latin1').match(/\r\n|\r|\n/g) ?? []).length + 1;

describe('EnvDocument properties (arbitrary bytes)', () => {
  it('reads anything dotenv reads, as dotenv reads it', () => {
    fc.assert(
      fc.property(fc.oneof(anyBytes, fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))), (bytes) => {
        const doc = EnvDocument.parse(bytes, '.env');
        expect(doc.values()).toEqual(parse(bytes));
        expect(doc.toBuffer().equals(bytes)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('edits correctly or refuses with an EnvFileError', () => {
    fc.assert(
      fc.property(anyBytes, fc.constantFrom('A', 'B', 'export'), newValue, (bytes, key, value) => {
        const doc = EnvDocument.parse(bytes, '.env');
        let out: Buffer;
        try {
          out = doc.set(key, value).toBuffer();
        } catch (err) {
          expect(err).toBeInstanceOf(EnvFileError);
          return;
        }
        expect(parse(out)).toEqual({ ...parse(bytes), [key]: value });
        // The changed bytes lie within the target assignment: nothing before its line,
        // nothing from the next assignment on.
        let p = 0;
        while (p < bytes.length && p < out.length && bytes[p] === out[p]) p++;
        let q = 0;
        while (q < bytes.length - p && q < out.length - p && bytes[bytes.length - 1 - q] === out[out.length - 1 - q]) q++;
        if (p === bytes.length && q === 0 && out.length === bytes.length) return; // unchanged
        const all = doc.assignments();
        const index = all.findLastIndex((a) => a.key === key);
        if (index === -1) {
          expect(p).toBe(bytes.length);
          return;
        }
        expect(lineAt(bytes, p)).toBeGreaterThanOrEqual(all[index]!.line);
        const following = all[index + 1];
        if (following) expect(lineAt(bytes, bytes.length - q)).toBeLessThanOrEqual(following.line);
        expect(doc.set(key, value).set(key, value).toBuffer().equals(out)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});
