/**
 * The ledger remembers which keys this bootstrap issued, as sha256 hashes (the
 * form the proxy stores; a hash cannot be used as a credential). It is how a
 * dead key of ours (proxy wiped) is told apart from a user's real upstream key
 * that must never be thrown away.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from './fs-atomic.ts';

export const LEDGER_NAME = '.llm-proxy-bootstrap.json';
/**
 * Entries kept: the newest this many (a keys file may declare a thousand keys and rotate them),
 * and never fewer than twice what one run records.
 */
const MAX_ENTRIES = 5000;

/** The hash the proxy stores of a key (and the ledger of the keys we issued). */
export const sha256 = (value: string | Uint8Array): string => createHash('sha256').update(value).digest('hex');

interface LedgerEntry {
  sha256: string;
  alias: string;
  issuedAt: string;
}

export class Ledger {
  private constructor(
    readonly path: string,
    private readonly entries: LedgerEntry[],
  ) {}

  static pathFor(envFilePath: string): string {
    return join(dirname(envFilePath), LEDGER_NAME);
  }

  static async load(envFilePath: string): Promise<Ledger> {
    const file = Ledger.pathFor(envFilePath);
    return new Ledger(file, await readEntries(file));
  }

  private tokens: Set<string> | undefined;

  has(token: string): boolean {
    this.tokens ??= new Set(this.entries.map((e) => e.sha256));
    return this.tokens.has(token);
  }

  /** Records a newly issued key before it is written anywhere else. */
  async record(token: string, alias: string, owner: { uid: number; gid: number } | undefined): Promise<void> {
    await this.recordMany([{ token, alias }], owner);
  }

  /**
   * Records newly issued keys, in one atomic write whatever their number, before any
   * of them is written anywhere else.
   */
  async recordMany(keys: readonly { token: string; alias: string }[], owner: { uid: number; gid: number } | undefined): Promise<void> {
    const fresh = keys.filter((k) => !this.has(k.token));
    if (fresh.length === 0) return;
    // Read again (we hold the lock): another run may have recorded keys since we loaded.
    const onDisk = await readEntries(this.path);
    const known = new Set(onDisk.map((e) => e.sha256));
    this.entries.splice(0, this.entries.length, ...onDisk, ...this.entries.filter((e) => !known.has(e.sha256)));
    const issuedAt = new Date().toISOString();
    for (const k of fresh) this.entries.push({ sha256: k.token, alias: k.alias, issuedAt });
    this.tokens = undefined;
    const kept = this.entries.slice(-Math.max(MAX_ENTRIES, 2 * fresh.length));
    const body = `${JSON.stringify({ about: 'sha256 of the virtual keys llm-proxy-bootstrap issued; used to tell its own dead keys from user keys', version: 1, issued: kept }, null, 2)}\n`;
    await writeFileAtomic(this.path, body, { mode: 0o600, ...(owner ?? {}) });
  }
}

async function readEntries(file: string): Promise<LedgerEntry[]> {
  try {
    const body = JSON.parse(readFileSync(file, 'utf8')) as { issued?: unknown };
    if (Array.isArray(body.issued)) {
      return body.issued.filter((e): e is LedgerEntry => typeof e === 'object' && e !== null && typeof (e as LedgerEntry).sha256 === 'string');
    }
  } catch {
    // Missing or unreadable: we remember nothing, which only makes us more careful.
  }
  return [];
}
