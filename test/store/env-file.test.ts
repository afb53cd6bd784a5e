/**
 * The user's story: given this .env, after the bootstrap sets a variable, the
 * user sees exactly this file. Every other byte stays as it was.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parse } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { DOTENV_LINE_SOURCE, EnvDocument } from '../../src/store/env-file.ts';
import { EnvFileError } from '../../src/errors.ts';

const KEY = 'OPENAI_API_KEY';
const NEW = 'sk-Zx9_3fQ-77abcDEF';

/** [story, .env before, variable, new value, .env after] */
const stories: [string, string, string, string, string][] = [
  ['the placeholder is replaced', 'OPENAI_API_KEY=sk-proxy-default\n', KEY, NEW, `OPENAI_API_KEY=${NEW}\n`],
  ['comments, blank lines and order stay', '# agent settings\n\nMODEL=gpt-4o\nOPENAI_API_KEY=sk-proxy-default\n\n# end\n', KEY, NEW, `# agent settings\n\nMODEL=gpt-4o\nOPENAI_API_KEY=${NEW}\n\n# end\n`],
  ['CRLF line endings stay', 'A=1\r\nOPENAI_API_KEY=sk-proxy-default\r\nB=2\r\n', KEY, NEW, `A=1\r\nOPENAI_API_KEY=${NEW}\r\nB=2\r\n`],
  ['mixed line endings stay', 'A=1\r\nOPENAI_API_KEY=sk-proxy-default\nB=2\r\n', KEY, NEW, `A=1\r\nOPENAI_API_KEY=${NEW}\nB=2\r\n`],
  ['a file without a trailing newline keeps having none', 'A=1\nOPENAI_API_KEY=sk-proxy-default', KEY, NEW, `A=1\nOPENAI_API_KEY=${NEW}`],
  ['export prefix stays', 'export OPENAI_API_KEY=sk-proxy-default\n', KEY, NEW, `export OPENAI_API_KEY=${NEW}\n`],
  ['indentation and blanks around = stay', '  OPENAI_API_KEY =   sk-proxy-default   \n', KEY, NEW, `  OPENAI_API_KEY =   ${NEW}   \n`],
  ['an inline comment stays', 'OPENAI_API_KEY=sk-proxy-default # issued by the bootstrap\n', KEY, NEW, `OPENAI_API_KEY=${NEW} # issued by the bootstrap\n`],
  ['an inline comment right after the value stays', 'OPENAI_API_KEY=sk-proxy-default# note\n', KEY, NEW, `OPENAI_API_KEY=${NEW}# note\n`],
  ['double quotes stay', 'OPENAI_API_KEY="sk-proxy-default"\n', KEY, NEW, `OPENAI_API_KEY="${NEW}"\n`],
  ['single quotes stay', "OPENAI_API_KEY='sk-proxy-default' # q\n", KEY, NEW, `OPENAI_API_KEY='${NEW}' # q\n`],
  // A shell sourcing .env would run a value in backticks: the one line edited takes single quotes.
  ['a backticked value is written in single quotes', 'OPENAI_API_KEY=`sk-proxy-default`\n', KEY, NEW, `OPENAI_API_KEY='${NEW}'\n`],
  ['empty backticks are filled in single quotes', 'OPENAI_API_KEY=`` # c\nB=`b`\n', KEY, NEW, `OPENAI_API_KEY='${NEW}' # c\nB=\`b\`\n`],
  ["a backticked value with ' goes in double quotes", 'OPENAI_API_KEY=`x`\n', KEY, "it's", `OPENAI_API_KEY="it's"\n`],
  ['a multi-line backticked value becomes one single-quoted line', 'OPENAI_API_KEY=`l1\nl2` # old\nB=2\n', KEY, NEW, `OPENAI_API_KEY='${NEW}' # old\nB=2\n`],
  ['empty double quotes are filled', 'OPENAI_API_KEY=""\n', KEY, NEW, `OPENAI_API_KEY="${NEW}"\n`],
  ["empty single quotes are filled", "OPENAI_API_KEY=''\n", KEY, NEW, `OPENAI_API_KEY='${NEW}'\n`],
  ['an empty value is filled', 'OPENAI_API_KEY=\nB=2\n', KEY, NEW, `OPENAI_API_KEY=${NEW}\nB=2\n`],
  ['an empty value with a comment is filled before the comment', 'OPENAI_API_KEY= # set by the bootstrap\n', KEY, NEW, `OPENAI_API_KEY=${NEW} # set by the bootstrap\n`],
  ['an empty value glued to a comment gets a blank', 'OPENAI_API_KEY=# set by the bootstrap\n', KEY, NEW, `OPENAI_API_KEY=${NEW} # set by the bootstrap\n`],
  ['the `KEY: value` form stays', 'OPENAI_API_KEY: sk-proxy-default\n', KEY, NEW, `OPENAI_API_KEY: ${NEW}\n`],
  ['an empty `KEY:` at the end of its line is filled on that line', 'OPENAI_API_KEY:\n\nB=2\n', KEY, NEW, `OPENAI_API_KEY: ${NEW}\n\nB=2\n`],
  ['a BOM stays', '\uFEFFOPENAI_API_KEY=sk-proxy-default\n', KEY, NEW, `\uFEFFOPENAI_API_KEY=${NEW}\n`],
  [
    'multi-line values of other keys stay, and look-alike lines inside them are not assignments',
    'PEM="-----BEGIN KEY-----\nOPENAI_API_KEY=inside-the-pem\n-----END KEY-----"\nOPENAI_API_KEY=sk-proxy-default\nJSON=\'{"a": "#1"}\'\n',
    KEY,
    NEW,
    `PEM="-----BEGIN KEY-----\nOPENAI_API_KEY=inside-the-pem\n-----END KEY-----"\nOPENAI_API_KEY=${NEW}\nJSON='{"a": "#1"}'\n`,
  ],
  ['a multi-line target value becomes one line', 'OPENAI_API_KEY="line one\r\nline two" # old\r\nB=2\r\n', KEY, NEW, `OPENAI_API_KEY="${NEW}" # old\r\nB=2\r\n`],
  ['escaped quotes and # inside quotes on other lines stay', 'A="say \\"hi\\" #1"\nOPENAI_API_KEY=x\nB=`a#b`\n', KEY, NEW, `A="say \\"hi\\" #1"\nOPENAI_API_KEY=${NEW}\nB=\`a#b\`\n`],
  ['of duplicates, the last (the one in effect) is edited', 'OPENAI_API_KEY=first\n# again:\nOPENAI_API_KEY=second\n', KEY, NEW, `OPENAI_API_KEY=first\n# again:\nOPENAI_API_KEY=${NEW}\n`],
  ['a commented-out assignment is not an assignment: the key is appended', '# OPENAI_API_KEY=old\nB=2\n', KEY, NEW, `# OPENAI_API_KEY=old\nB=2\nOPENAI_API_KEY=${NEW}\n`],
  ['a missing key is appended after the last newline', 'A=1\n', KEY, NEW, `A=1\nOPENAI_API_KEY=${NEW}\n`],
  ['a missing key is appended with CRLF in a CRLF file', 'A=1\r\n', KEY, NEW, `A=1\r\nOPENAI_API_KEY=${NEW}\r\n`],
  ['a missing key is appended on a new line to a file without a trailing newline, which still has none', 'A=1', KEY, NEW, `A=1\nOPENAI_API_KEY=${NEW}`],
  ['... also in a CRLF file', 'A=1\r\nB=2', KEY, NEW, `A=1\r\nB=2\r\nOPENAI_API_KEY=${NEW}`],
  ['a missing key in an empty file', '', KEY, NEW, `OPENAI_API_KEY=${NEW}\n`],
  ['a missing key in a file of exports is exported too', 'export A=1\n', KEY, NEW, `export A=1\nexport OPENAI_API_KEY=${NEW}\n`],
  ['a value with blanks and # is quoted', 'OPENAI_API_KEY=x # c\n', KEY, 'a b # c', "OPENAI_API_KEY='a b # c' # c\n"],
  ["a value with ' in a single-quoted value switches to double quotes", "OPENAI_API_KEY='x'\n", KEY, "it's", `OPENAI_API_KEY="it's"\n`],
  ['an unquoted value stays unquoted when dotenv reads it back', 'OPENAI_API_KEY=x\n', KEY, `a'b"c`, `OPENAI_API_KEY=a'b"c\n`],
  ['a value with both quotes in a quoted value uses backticks', "OPENAI_API_KEY='x'\n", KEY, `a'b"c`, "OPENAI_API_KEY=`a'b\"c`\n"],
  ['a value with =, : and / needs no quotes', 'OPENAI_API_KEY=x\n', KEY, 'a=b:c/d', 'OPENAI_API_KEY=a=b:c/d\n'],
  ['an appended value with a $ is single-quoted', 'A=1\n', KEY, 'pa$$word', "A=1\nOPENAI_API_KEY='pa$$word'\n"],
  ['a newline is written as \\n in double quotes', 'OPENAI_API_KEY=x\n', KEY, 'l1\nl2', 'OPENAI_API_KEY="l1\\nl2"\n'],
  ['the empty value', 'OPENAI_API_KEY=sk-proxy-default # note\n', KEY, '', 'OPENAI_API_KEY= # note\n'],
  ['other names: dots and dashes', 'my.key-1=a\n', 'my.key-1', 'b', 'my.key-1=b\n'],
];

describe('EnvDocument.set: the user sees exactly this file', () => {
  it.each(stories)('%s', (_story, before, key, value, after) => {
    const doc = EnvDocument.parse(before, '/env/.env');
    const next = doc.set(key, value);
    expect(next.toBuffer().toString('utf8')).toBe(after);
    // What the agent reads: the same as before, but for the one variable.
    expect(parse(next.toBuffer())).toEqual({ ...parse(before), [key]: value });
    expect(next.get(key)).toBe(value);
    // Setting it again changes nothing.
    expect(next.set(key, value).toBuffer().equals(next.toBuffer())).toBe(true);
  });

  it('keeps invalid UTF-8 and NUL bytes on other lines byte for byte', () => {
    const before = Buffer.concat([
      Buffer.from('# caf'),
      Buffer.from([0xe9, 0x20, 0xff, 0xfe, 0x00, 0xc3]),
      Buffer.from('\r\nLATIN1='),
      Buffer.from([0xe9, 0x74, 0xe9]),
      Buffer.from('\nOPENAI_API_KEY=sk-proxy-default\nTAIL='),
      Buffer.from([0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0x80]),
    ]);
    const next = EnvDocument.parse(before, '.env').set(KEY, NEW).toBuffer();
    const at = before.indexOf('sk-proxy-default');
    expect(next.subarray(0, at)).toEqual(before.subarray(0, at));
    expect(next.subarray(at, at + NEW.length).toString()).toBe(NEW);
    expect(next.subarray(at + NEW.length)).toEqual(before.subarray(at + 'sk-proxy-default'.length));
    expect(parse(next)).toEqual({ ...parse(before), [KEY]: NEW });
  });

  it('writes non-ASCII values as UTF-8', () => {
    const next = EnvDocument.parse(Buffer.from([0x41, 0x3d, 0xff, 0x0a]), '.env').set('B', 'grüße ✓');
    expect(next.toBuffer()).toEqual(Buffer.concat([Buffer.from([0x41, 0x3d, 0xff, 0x0a]), Buffer.from("B='grüße ✓'\n", 'utf8')]));
  });

  it('returns the same document when the value is already in effect', () => {
    const doc = EnvDocument.parse('OPENAI_API_KEY = "sk-a"\n', '.env');
    expect(doc.set(KEY, 'sk-a')).toBe(doc);
  });

  it('is a no-op for an appended key set again', () => {
    const once = EnvDocument.parse('A=1', '.env').set('B', 'x y');
    expect(once.set('B', 'x y')).toBe(once);
  });
});

describe('EnvDocument: the edited line is safe for a POSIX shell sourcing .env', () => {
  // The agent's key as a shell would run it if it stayed in backticks: a command of that name on PATH.
  const styles = ['OPENAI_API_KEY=`sk-proxy-default`', 'export OPENAI_API_KEY=`sk-proxy-default` # note', "OPENAI_API_KEY='sk-proxy-default'", 'OPENAI_API_KEY="sk-proxy-default"', 'OPENAI_API_KEY=sk-proxy-default'];

  it.each(styles)('%s: sourced, it gives the new key and runs nothing; the lines around it stay', (line) => {
    const dir = mkdtempSync(join(tmpdir(), 'env-shell-'));
    try {
      const ran = join(dir, 'ran');
      // A planted command named like the key: running it leaves a trace.
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      writeFileSync(join(bin, NEW), `#!/bin/sh\ntouch '${ran}'\necho planted\n`, { mode: 0o755 });
      const before = `# agent\nMODEL=gpt-4o\n${line}\nB=\`b\`\n`;
      for (const next of [EnvDocument.parse(before, '.env').set(KEY, NEW), EnvDocument.parse(before, '.env').setAll({ [KEY]: NEW, MODEL: 'gpt-4o' })]) {
        const after = next.toBuffer().toString('utf8');
        expect(after.split('\n').filter((l) => !l.includes(KEY))).toEqual(before.split('\n').filter((l) => !l.includes(KEY)));
        const file = join(dir, '.env');
        writeFileSync(file, `# agent\nMODEL=gpt-4o\n${after.split('\n')[2]}\n`);
        const out = execFileSync('sh', ['-c', 'set -a; . "$1"; printf %s "$OPENAI_API_KEY"', 'sh', file], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
        expect(out).toBe(NEW);
        expect(existsSync(ran)).toBe(false);
        expect(parse(next.toBuffer())[KEY]).toBe(NEW);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('EnvDocument: reading', () => {
  it('lists assignments in file order, duplicates included, with their lines', () => {
    const doc = EnvDocument.parse('# c\r\nOPENAI_API_KEY=one\r\nexport B="x\r\ny"\r\n\r\n  OPENAI_API_KEY = two # note\r\n', '.env');
    expect(doc.assignments(KEY)).toEqual([
      { key: KEY, value: 'one', line: 2, exported: false },
      { key: KEY, value: 'two', line: 6, exported: false },
    ]);
    expect(doc.assignments()).toEqual([
      { key: KEY, value: 'one', line: 2, exported: false },
      { key: 'B', value: 'x\ny', line: 3, exported: true },
      { key: KEY, value: 'two', line: 6, exported: false },
    ]);
    expect(doc.lines(KEY)).toEqual([2, 6]);
    expect(doc.get(KEY)).toBe('two');
    expect(doc.get('MISSING')).toBeUndefined();
    expect(doc.values()).toEqual({ OPENAI_API_KEY: 'two', B: 'x\ny' });
  });

  it('counts a lone CR as a line break, as dotenv does', () => {
    expect(EnvDocument.parse('A=1\rB=2\r\nC=3\nD=4', '.env').assignments().map((a) => a.line)).toEqual([1, 2, 3, 4]);
  });

  it.each([['LF', '\n'], ['CRLF', '\r\n']] as const)('reports the %s line ending', (_name, eol) => {
    expect(EnvDocument.parse(`A=1${eol}B=2${eol}`, '.env').eol).toBe(eol);
  });

  it('uses the line ending of the last line break for appended lines', () => {
    expect(EnvDocument.parse('A=1\r\nB=2\n', '.env').eol).toBe('\n');
    expect(EnvDocument.parse('A=1\nB=2\r\n', '.env').eol).toBe('\r\n');
    expect(EnvDocument.parse('A=1', '.env').eol).toBe('\n');
  });

  // dotenv's quirks: get() says what dotenv says, whatever that is.
  it.each([
    ['KEY: value needs a blank after the colon', 'A:b\nB: c\n'],
    ['a colon at the end of a line takes the next line as the value', 'A:\nB=1\n'],
    ['an empty value takes a quoted value from the next line', "A=\n'x'\nB=1\n"],
    ['backslashes are not unescaped in double quotes', 'A="a\\"b"\nB="c\\\\d"\n'],
    ['\\n and \\r in double quotes are', 'A="a\\nb\\rc"\nB=\'a\\nb\'\n'],
    ['quotes stripped from an unquoted-looking value', 'A="a"b"\nB=\'x\'y\'\n'],
    ['__proto__ is not a result key', '__proto__=x\nB=1\n'],
    ['a BOM before the first key', '\uFEFFA=1\n'],
    ['unterminated quotes are part of the value', 'A="abc\nB=\'d\n'],
    ['the value of a quoted key may run over lines', 'A="x\n# not a comment\n"\nB=2'],
    ['a comment line right after a quoted value', "A='x'\n# c\nB=2"],
    ['export needs blanks after it', 'exportA=1\nexport\tB=2\nexport=3\n'],
    ['unicode line separators', 'A=a\u2028B=b\nC=c\u2029\n'],
  ])('%s', (_quirk, text) => {
    const doc = EnvDocument.parse(text, '.env');
    const expected = parse(text);
    expect(doc.values()).toEqual({ ...expected });
    for (const key of ['A', 'B', 'C', 'export', '__proto__']) expect(doc.get(key)).toBe(Object.hasOwn(expected, key) ? expected[key] : undefined);
  });

  it('still uses the regex parser dotenv.parse uses by default', () => {
    // If dotenv changes its parser, this module must be looked at again.
    const require = createRequire(import.meta.url);
    const source = readFileSync(require.resolve('dotenv'), 'utf8');
    expect(source).toContain(`/${DOTENV_LINE_SOURCE}/mg`);
    expect(source).toMatch(/function J\(e,n\)\{return n&&\$\(n\.fast\)\?V\(e\):H\(e\)\}/);
  });
});

describe('EnvDocument: refusals name the file and line, never a value', () => {
  const refuse = (text: string, key: string, value: string) => {
    const doc = EnvDocument.parse(text, '/env/.env');
    let error: unknown;
    try {
      doc.set(key, value);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvFileError);
    const e = error as EnvFileError;
    expect(e.path).toBe('/env/.env');
    expect(e.exitCode).toBe(2);
    expect(`${e.message} ${e.hint}`).toContain('/env/.env');
    expect(`${e.message} ${e.hint}`).not.toContain(value);
    for (const old of Object.values(parse(text))) if (old.length > 3) expect(`${e.message} ${e.hint}`).not.toContain(old);
    return e;
  };

  it('refuses to edit a value dotenv takes from the next line', () => {
    const e = refuse('OPENAI_API_KEY:\nOTHER=secret-looking-text\n', KEY, 'sk-secret-new-value');
    expect(e.message).toMatch(/line 1 .*line 2/);
  });

  it('refuses a value no quoting can carry', () => {
    // A CR can only be written as \r in double quotes, where a literal \n would turn into a newline.
    const e = refuse('A=1\nOPENAI_API_KEY=sk-old-secret\n', KEY, 'sk-\\n-"\r\'`');
    expect(e.message).toContain('line 2');
  });

  it('refuses names dotenv cannot assign', () => {
    refuse('A=1\n', 'BAD NAME', 'sk-value-xyz');
    refuse('A=1\n', '__proto__', 'sk-value-xyz');
    refuse('A=1\n', '', 'sk-value-xyz');
  });
});
