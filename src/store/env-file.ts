/**
 * A byte-preserving `.env` editor.
 *
 * Reading: values are exactly what `dotenv.parse` (dotenv 18, default options,
 * i.e. its classic regex parser) returns. The editor runs dotenv's own regex on
 * the same text dotenv sees (the bytes decoded as UTF-8, CRLF and lone CR
 * turned into LF) and keeps, for every character of that text, the byte
 * offset it came from. So it knows which bytes hold each assignment's value.
 *
 * Editing: only the bytes of the target value (quotes included) are replaced
 * (its quoting kept, but backticks, which a shell sourcing the file would run:
 * the value goes in single quotes then); every other byte (BOM, comments, blank lines, `export`, spacing around `=`,
 * inline comments, CRLF, invalid UTF-8 on other lines) stays as it was. Every
 * edit is checked by parsing the result again, with this module and with
 * dotenv itself: the result must hold the same assignments, in the same
 * order, with the same values, but the target's. If no way of writing the
 * value passes, the edit is refused with an EnvFileError (the file is never
 * written half-right).
 *
 * Error messages name the file, the variable and the line, never a value.
 */
import { parse as dotenvParse } from 'dotenv';
import { ConfigError, EnvFileError } from '../errors.ts';

export interface EnvAssignment {
  key: string;
  /** The value as dotenv parses it. */
  value: string;
  /** 1-based line of the key (lines end at LF, CRLF or a lone CR). */
  line: number;
  /** Written `export KEY=...`. */
  exported: boolean;
}

type Style = 'none' | 'raw' | "'" | '"' | '`';

interface Entry extends EnvAssignment {
  /** Replaced span [start, end) in the normalized text: the trimmed value (quotes included), or an insertion point. */
  start: number;
  end: number;
  /** Written before the new value when inserting at `start` (`KEY:` at the end of a line needs a blank). */
  prefix: string;
  /** 1-based line where the value (or the insertion point) is. */
  valueLine: number;
  style: Style;
}

/**
 * dotenv 18's LINE regex, character for character (dist/index.cjs, function
 * used by `parse` unless `{ fast: true }`), plus the `d` flag for indices,
 * which does not change what it matches. test/env-file.test.ts checks the
 * installed dotenv still has it.
 */
export const DOTENV_LINE_SOURCE = String.raw`(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*` + '`' + String.raw`(?:\\` + '`' + String.raw`|[^` + '`' + String.raw`])*` + '`' + String.raw`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)`;

/** dotenv's value post-processing, as in its `parse`. */
function dotenvValue(group: string | undefined): string {
  let v = (group || '').trim();
  const first = v[0];
  v = v.replace(/^(['"`])([\s\S]*)\1$/gm, '$2');
  if (first === '"') v = v.replace(/\\n/g, '\n').replace(/\\r/g, '\r');
  return v;
}

/** A variable name dotenv can assign (and that lands in its result: `__proto__` does not). */
const isAssignableKey = (key: string) => /^[\w.-]+$/.test(key) && key !== '__proto__';

/** Characters that need no quoting anywhere (dotenv, shells, compose's env_file). */
const PLAIN = /^[^\s'"`#$\\\x00-\x1f\x7f]*$/u;

interface Decoded {
  /** What dotenv's parser runs on: UTF-8 decoded, CRLF / CR → LF. */
  text: string;
  /** Byte offset of each UTF-16 unit of `text`, plus one past the end. */
  offsets: Uint32Array;
}

/**
 * UTF-8 decoding as Buffer#toString does it (WHATWG: each maximal invalid
 * subsequence becomes one U+FFFD), CR handling as dotenv does it, with the
 * byte offset of every character. Checked against Buffer#toString by the caller.
 */
function decode(buf: Buffer): Decoded {
  const n = buf.length;
  const units = new Uint16Array(n + 1);
  const offsets = new Uint32Array(n + 2);
  let u = 0;
  let i = 0;
  while (i < n) {
    const b = buf[i]!;
    if (b < 0x80) {
      offsets[u] = i;
      if (b === 0x0d) {
        units[u++] = 0x0a;
        i += buf[i + 1] === 0x0a ? 2 : 1;
      } else {
        units[u++] = b;
        i++;
      }
      continue;
    }
    let need: number;
    let cp: number;
    let lower = 0x80;
    let upper = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      cp = b & 0x0f;
      if (b === 0xe0) lower = 0xa0;
      if (b === 0xed) upper = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      cp = b & 0x07;
      if (b === 0xf0) lower = 0x90;
      if (b === 0xf4) upper = 0x8f;
    } else {
      offsets[u] = i;
      units[u++] = 0xfffd;
      i++;
      continue;
    }
    let j = i + 1;
    let got = 0;
    for (; got < need; got++, j++) {
      const c = buf[j];
      if (c === undefined || c < lower || c > upper) break;
      cp = (cp << 6) | (c & 0x3f);
      lower = 0x80;
      upper = 0xbf;
    }
    offsets[u] = i;
    if (got < need) {
      units[u++] = 0xfffd;
    } else if (cp > 0xffff) {
      cp -= 0x10000;
      units[u++] = 0xd800 + (cp >> 10);
      offsets[u] = i;
      units[u++] = 0xdc00 + (cp & 0x3ff);
    } else {
      units[u++] = cp;
    }
    i = j;
  }
  offsets[u] = n;
  let text = '';
  for (let k = 0; k < u; k += 8192) text += String.fromCharCode(...units.subarray(k, Math.min(u, k + 8192)));
  return { text, offsets: offsets.subarray(0, u + 1) };
}

/** Line numbers of positions in the normalized text. */
function lineIndex(text: string): (pos: number) => number {
  const starts: number[] = [];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i);
  return (pos) => {
    let lo = 0;
    let hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! < pos) lo = mid + 1;
      else hi = mid;
    }
    return lo + 1;
  };
}

const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c);
const isLineEnd = (c: string | undefined) => c === '\n' || c === '\u2028' || c === '\u2029';

/** Runs dotenv's regex and records where every assignment and its value are. */
function scan(text: string): Entry[] {
  const re = new RegExp(DOTENV_LINE_SOURCE, 'dgm');
  const lineOf = lineIndex(text);
  const entries: Entry[] = [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const key = m[1]!;
    const [keyStart, keyEnd] = m.indices![1]!;
    const group = m.indices![2];
    const exported = text.slice(m.index, keyStart).trim() === 'export';
    let start: number;
    let end: number;
    let prefix = '';
    let style: Style = 'none';
    if (group !== undefined) {
      const [gs, ge] = group;
      const g = text.slice(gs, ge);
      const core = g.trim();
      if (core === '') {
        start = end = gs;
      } else {
        start = gs + (g.length - g.trimStart().length);
        end = ge - (g.length - g.trimEnd().length);
        const q = core[0]!;
        style = core.length >= 2 && (q === "'" || q === '"' || q === '`') && core.endsWith(q) ? (q as Style) : 'raw';
      }
    } else {
      // No value: insert right after the separator (`=` or `: `).
      let p = keyEnd;
      while (isSpace(text[p])) p++;
      if (text[p] === '=') {
        start = end = p + 1;
      } else if (isLineEnd(text[keyEnd + 1])) {
        start = end = keyEnd + 1;
        prefix = ' ';
      } else {
        start = end = keyEnd + 2;
      }
    }
    entries.push({ key, value: dotenvValue(m[2]), line: lineOf(keyStart), exported, start, end, prefix, valueLine: lineOf(start), style });
  }
  return entries;
}

/** What dotenv.parse returns for these entries (last wins; `__proto__` is lost). */
function effective(entries: readonly Entry[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of entries) if (e.key !== '__proto__') map.set(e.key, e.value);
  return map;
}

function sameAsDotenv(map: Map<string, string>, parsed: Record<string, string>): boolean {
  const keys = Object.keys(parsed);
  return keys.length === map.size && keys.every((k) => map.get(k) === parsed[k]);
}

/**
 * Ways to write `value`, best first: the existing quoting when it holds the
 * value cleanly (backticks excepted: single quotes take their place, see
 * below), then other clean forms, then forms only dotenv reads right
 * (e.g. `'it's'`), then newlines written as line breaks. The caller keeps the
 * first one that parses back exactly.
 */
function candidates(value: string, style: Style, eol: string): string[] {
  const forms = {
    raw: value,
    "'": `'${value}'`,
    '"': `"${value.replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`,
    '`': `\`${value}\``,
  };
  const lineBreak = /[\r\n]/.test(value);
  const clean = {
    raw: style === 'raw' ? !lineBreak && !value.includes('#') && value === value.trim() && !/^['"`]/.test(value) : PLAIN.test(value),
    "'": !lineBreak && !value.includes("'"),
    '"': !value.includes('"') && !/\\[nr]/.test(value),
    '`': !lineBreak && !value.includes('`'),
  };
  // A value in backticks is a command to a POSIX shell sourcing the file: the user's quoted value is
  // written in single quotes instead (read alike by dotenv, taken literally by a shell), backticks last.
  const order: (keyof typeof forms)[] =
    style === "'" ? ["'", '"', '`', 'raw'] : style === '"' ? ['"', "'", '`', 'raw'] : style === '`' ? ["'", '"', 'raw', '`'] : ['raw', "'", '"', '`'];
  const out = [...order.filter((k) => clean[k]).map((k) => forms[k]), ...order.map((k) => forms[k])];
  if (value.includes('\n') && !value.includes('\r')) {
    const multi = value.replace(/\n/g, eol);
    out.push(`'${multi}'`, `"${multi}"`, `\`${multi}\``);
  }
  return [...new Set(out)];
}

export class EnvDocument {
  /** The file's name, for messages. */
  readonly path: string;
  /** Line ending for added lines: the one the file's last line break uses (LF for a file without any). */
  readonly eol: '\n' | '\r\n';
  readonly #bytes: Buffer;
  readonly #text: string;
  /** Byte offset of each character of #text: computed on the first edit (a read never needs it). */
  #offsets: Uint32Array | undefined;
  readonly #entries: readonly Entry[];
  readonly #values: Map<string, string>;

  private constructor(bytes: Buffer, path: string, text: string, entries: Entry[], values: Map<string, string>) {
    this.path = path;
    this.#bytes = bytes;
    this.#text = text;
    this.#entries = entries;
    this.#values = values;
    const lf = bytes.lastIndexOf(0x0a);
    this.eol = lf > 0 && bytes[lf - 1] === 0x0d ? '\r\n' : '\n';
  }

  /** Reads env-file bytes (a string is taken as UTF-8). Accepts whatever dotenv accepts. */
  static parse(bytes: Buffer | Uint8Array | string, path: string): EnvDocument {
    const buf = typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes);
    const doc = EnvDocument.#read(buf, path);
    if (doc === undefined) {
      // Unreachable unless dotenv's parser changed: its result and ours disagree, so editing would be guesswork.
      throw new EnvFileError(path, `cannot read ${path} the way dotenv does, so it cannot be edited safely`, {
        hint: 'the installed dotenv parses differently from what llm-proxy-bootstrap expects; please report this',
      });
    }
    return doc;
  }

  static #read(buf: Buffer, path: string): EnvDocument | undefined {
    // The text dotenv's parser runs on (its own decoding and line-break handling).
    const text = buf.toString('utf8').replace(/\r\n?/g, '\n');
    const entries = scan(text);
    const values = effective(entries);
    if (!sameAsDotenv(values, dotenvParse(buf))) return undefined;
    return new EnvDocument(buf, path, text, entries, values);
  }

  /** Byte offsets of the text's characters, from our own decoder, which must agree with Buffer#toString. */
  #byteOffsets(): Uint32Array {
    if (this.#offsets === undefined) {
      const decoded = decode(this.#bytes);
      if (decoded.text !== this.#text) {
        throw new EnvFileError(this.path, `cannot map the characters of ${this.path} to its bytes, so it cannot be edited safely`, {
          hint: 'please report this, with the file\'s byte pattern (not its values)',
        });
      }
      this.#offsets = decoded.offsets;
    }
    return this.#offsets;
  }

  /** The value in effect, as `dotenv.parse(bytes)[key]` (the last assignment wins). */
  get(key: string): string | undefined {
    return this.#values.get(key);
  }

  /** Every value in effect, as `dotenv.parse(bytes)`. */
  values(): Record<string, string> {
    return Object.fromEntries(this.#values);
  }

  /** Assignments in file order, duplicates included (the last of a key is the one in effect). */
  assignments(key?: string): EnvAssignment[] {
    return this.#entries
      .filter((e) => key === undefined || e.key === key)
      .map(({ key: k, value, line, exported }) => ({ key: k, value, line, exported }));
  }

  /** 1-based lines where `key` is assigned, in file order (the last is the one in effect). */
  lines(key: string): number[] {
    return this.#entries.filter((e) => e.key === key).map((e) => e.line);
  }

  /**
   * A document where `key` has `value`. The assignment in effect is edited in
   * place (its quoting kept when it can hold the value, a backticked value
   * single-quoted: a shell would run it); a missing key is
   * appended as `KEY=value` (`export KEY=value` when every assignment of the
   * file is exported). Returns this document when the value is already in effect.
   * Throws EnvFileError when no way of writing it reads back exactly.
   */
  set(key: string, value: string): EnvDocument {
    if (!isAssignableKey(key)) {
      throw new EnvFileError(this.path, `cannot write ${JSON.stringify(key)} to ${this.path}: dotenv does not read a variable of that name`, {
        hint: 'variable names are letters, digits, `_`, `.` and `-`',
      });
    }
    if (this.#values.get(key) === value) return this;
    const index = this.#entries.findLastIndex((e) => e.key === key);
    const target = this.#entries[index];
    const wanted = (entries: readonly Entry[]) => {
      const extra = target === undefined ? 1 : 0;
      if (entries.length !== this.#entries.length + extra) return false;
      return entries.every((e, i) => {
        if (i === index || (target === undefined && i === this.#entries.length)) return e.key === key && e.value === value;
        const old = this.#entries[i]!;
        return e.key === old.key && e.value === old.value;
      });
    };

    if (target !== undefined) {
      if (target.valueLine !== target.line) {
        throw new EnvFileError(this.path, `${key} on line ${target.line} of ${this.path} has no value on its line, so dotenv takes its value from line ${target.valueLine}; not editing it`, {
          hint: `put ${key}'s value on line ${target.line} (or delete that line), then run again`,
        });
      }
      const offsets = this.#byteOffsets();
      const before = this.#bytes.subarray(0, offsets[target.start]);
      const after = this.#bytes.subarray(offsets[target.end]);
      // An empty value followed by a comment (`KEY=# note`) gets a blank before the comment.
      const suffix = target.start === target.end && this.#text[target.end] === '#' ? ' ' : '';
      for (const form of candidates(value, target.style, this.eol)) {
        const next = this.#attempt(Buffer.concat([before, Buffer.from(target.prefix + form + suffix, 'utf8'), after]), wanted);
        if (next) return next;
      }
      throw new EnvFileError(this.path, `cannot write the new value of ${key} on line ${target.line} of ${this.path}: no quoting makes dotenv read it back exactly`, {
        hint: `write ${key} by hand, or check the quoting of the lines around line ${target.line}`,
      });
    }

    const bytes = this.#bytes;
    const bomOnly = bytes.length === 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    const empty = bytes.length === 0 || bomOnly;
    const last = bytes[bytes.length - 1];
    const endsWithNewline = last === 0x0a || last === 0x0d;
    const exported = this.#entries.length > 0 && this.#entries.every((e) => e.exported);
    for (const form of candidates(value, 'none', this.eol)) {
      const line = `${exported ? 'export ' : ''}${key}=${form}`;
      const added = empty || endsWithNewline ? `${line}${this.eol}` : `${this.eol}${line}`;
      const next = this.#attempt(Buffer.concat([bytes, Buffer.from(added, 'utf8')]), wanted);
      if (next) return next;
    }
    throw new EnvFileError(this.path, `cannot add ${key} at the end of ${this.path}: no quoting makes dotenv read it back exactly`, {
      hint: `add ${key} by hand, or check the quoting of the last lines of ${this.path}`,
    });
  }

  /**
   * Sets several variables with one read-back check whatever their number: `set` re-reads
   * the whole file after each edit, quadratic over a thousand keys. The result is what
   * setting them one by one gives; when the combined edit does not read back exactly (a
   * value needing another quoting, a line that cannot be edited), they are set one by one,
   * so each tries its other quotings and a refusal names its line.
   */
  setAll(values: Readonly<Record<string, string>>): EnvDocument {
    const changes = Object.entries(values).filter(([k, v]) => this.#values.get(k) !== v);
    const oneByOne = () => changes.reduce<EnvDocument>((doc, [k, v]) => doc.set(k, v), this);
    if (changes.length < 2 || changes.some(([k]) => !isAssignableKey(k))) return oneByOne();
    const lastIndex = new Map<string, number>();
    this.#entries.forEach((e, i) => lastIndex.set(e.key, i));
    const edits: { index: number; order: number; from: number; to: number; text: string }[] = [];
    const added: [string, string][] = [];
    let firstAdded = changes.length;
    for (const [order, [key, value]] of changes.entries()) {
      const index = lastIndex.get(key);
      if (index === undefined) {
        firstAdded = Math.min(firstAdded, order);
        added.push([key, value]);
        continue;
      }
      const target = this.#entries[index]!;
      if (target.valueLine !== target.line) return oneByOne();
      const offsets = this.#byteOffsets();
      const suffix = target.start === target.end && this.#text[target.end] === '#' ? ' ' : '';
      edits.push({ index, order, from: offsets[target.start]!, to: offsets[target.end]!, text: target.prefix + candidates(value, target.style, this.eol)[0]! + suffix });
    }
    edits.sort((a, b) => a.from - b.from);
    /** The bytes with these edits made (their spans never overlap: one per assignment). */
    const applied = (some: typeof edits): Buffer => {
      const parts: Buffer[] = [];
      let at = 0;
      for (const e of some) {
        parts.push(this.#bytes.subarray(at, e.from), Buffer.from(e.text, 'utf8'));
        at = e.to;
      }
      parts.push(this.#bytes.subarray(at));
      return Buffer.concat(parts);
    };
    let bytes = applied(edits);
    if (added.length > 0) {
      // As `set` appends: after a final line break each line ends with one, else each starts with
      // one, the file's last line break as it is when the first line is added.
      const before = applied(edits.filter((e) => e.order < firstAdded));
      const bomOnly = before.length === 3 && before[0] === 0xef && before[1] === 0xbb && before[2] === 0xbf;
      const last = before[before.length - 1];
      const lineEnded = before.length === 0 || bomOnly || last === 0x0a || last === 0x0d;
      const lf = before.lastIndexOf(0x0a);
      const eol = lf > 0 && before[lf - 1] === 0x0d ? '\r\n' : '\n';
      const exported = this.#entries.length > 0 && this.#entries.every((e) => e.exported);
      const lines = added.map(([key, value]) => `${exported ? 'export ' : ''}${key}=${candidates(value, 'none', eol)[0]!}`);
      bytes = Buffer.concat([bytes, Buffer.from(lines.map((l) => (lineEnded ? `${l}${eol}` : `${eol}${l}`)).join(''), 'utf8')]);
    }
    const edited = new Map(edits.map((e) => [e.index, values[this.#entries[e.index]!.key]!]));
    const next = this.#attempt(bytes, (entries) => {
      if (entries.length !== this.#entries.length + added.length) return false;
      return entries.every((e, i) => {
        const old = this.#entries[i];
        if (old === undefined) {
          const [key, value] = added[i - this.#entries.length]!;
          return e.key === key && e.value === value;
        }
        return e.key === old.key && e.value === (edited.has(i) ? edited.get(i) : old.value);
      });
    });
    return next ?? oneByOne();
  }

  #attempt(bytes: Buffer, wanted: (entries: readonly Entry[]) => boolean): EnvDocument | undefined {
    const next = EnvDocument.#read(bytes, this.path);
    return next !== undefined && wanted(next.#entries) ? next : undefined;
  }

  /** The file's bytes. */
  toBuffer(): Buffer {
    return Buffer.from(this.#bytes);
  }
}

/**
 * Writes a value so that dotenv and compose's env_file read it back unchanged, and so that a
 * POSIX shell sourcing the file (`. file`, as docs/stack.md shows for the agent's file) expands
 * and runs nothing: plain characters bare, anything else in single quotes, a value holding `'`
 * in double quotes only when it holds nothing a shell expands there (`$`, a backtick). Any other
 * value is refused (ConfigError naming `name`, never the value): no quoting is safe for both readers.
 */
export function formatValue(value: string, name = 'a value'): string {
  if (/^[A-Za-z0-9_\-.:/+=@~,%]*$/.test(value)) return value;
  if (!value.includes("'") && !/[\r\n]/.test(value)) return `'${value}'`;
  if (!/[$`]/.test(value)) return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
  throw new ConfigError(`${name} holds both a quote (') or a line break and a character a shell expands ($ or a backtick): no quoting writes it so that a shell sourcing the file runs nothing; refusing to write it`, {
    hint: `change the value of ${name} (a secret with such characters can usually be made again without them)`,
  });
}
