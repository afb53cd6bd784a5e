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
  /** The variable and env file it was written to (entries of earlier versions have neither). */
  env?: string;
  file?: string;
}

/**
 * A key of ours a renewal or `--rotate --grace` replaced: it works until `until` (the
 * grace the proxy was told), then a run deletes it. Recorded before the proxy is told, so a
 * kill in between leaves a record, never a forgotten key.
 */
export interface RetiredEntry {
  sha256: string;
  alias: string;
  /** ISO time the grace ends. */
  until: string;
}

const ABOUT = 'sha256 of the virtual keys llm-proxy-bootstrap issued, and the id of this installation (no secret); used to tell its own keys from user keys and from other installations\' keys';

export class Ledger {
  private constructor(
    readonly path: string,
    private readonly entries: LedgerEntry[],
    private retiredEntries: RetiredEntry[] = [],
    private installationId: string | undefined = undefined,
  ) {}

  static pathFor(envFilePath: string): string {
    return join(dirname(envFilePath), LEDGER_NAME);
  }

  static async load(envFilePath: string): Promise<Ledger> {
    const file = Ledger.pathFor(envFilePath);
    const { issued, retired, installation } = await readLedger(file);
    return new Ledger(file, issued, retired, installation);
  }

  /** The installation this directory is (src/store/installation.ts); undefined until a run that writes records one. */
  installation(): string | undefined {
    return this.installationId;
  }

  /**
   * The installation id, recorded on the first run that writes (one atomic write), before any key
   * carrying it is issued: a kill after issuing never leaves a key naming an id nobody has.
   */
  async ensureInstallation(fresh: () => string, owner: { uid: number; gid: number } | undefined): Promise<string> {
    const onDisk = (await readLedger(this.path)).installation;
    if (onDisk !== undefined) return (this.installationId = onDisk);
    this.installationId ??= fresh();
    await this.rewrite(owner, (retired) => retired);
    return this.installationId;
  }

  /** Every key this directory recorded issuing (alias and hash; the newest last). */
  issued(): readonly { sha256: string; alias: string; env?: string; file?: string }[] {
    return this.entries;
  }

  /** Forgets keys of aliases no longer declared, once deleted from the proxy (pruned): later runs do not ask about them again. */
  async forgetIssued(tokens: readonly string[], owner: { uid: number; gid: number } | undefined): Promise<void> {
    const gone = new Set(tokens);
    if (!this.entries.some((e) => gone.has(e.sha256))) return;
    await this.rewrite(owner, (retired) => retired.filter((r) => !gone.has(r.sha256)), [], gone);
  }

  /** Keys of ours in their grace period, or past it (to delete). */
  retired(): readonly RetiredEntry[] {
    return this.retiredEntries;
  }

  /** Records retirements (one atomic write), before the proxy is told to shorten the keys' lives. */
  async recordRetired(entries: readonly RetiredEntry[], owner: { uid: number; gid: number } | undefined): Promise<void> {
    if (entries.length === 0) return;
    await this.rewrite(owner, (retired) => [...retired.filter((r) => !entries.some((e) => e.sha256 === r.sha256)), ...entries]);
  }

  /** Forgets retired keys the proxy no longer has (deleted after their grace). */
  async forgetRetired(tokens: readonly string[], owner: { uid: number; gid: number } | undefined): Promise<void> {
    if (!tokens.some((t) => this.retiredEntries.some((r) => r.sha256 === t))) return;
    await this.rewrite(owner, (retired) => retired.filter((r) => !tokens.includes(r.sha256)));
  }

  private tokens: Set<string> | undefined;

  has(token: string): boolean {
    this.tokens ??= new Set(this.entries.map((e) => e.sha256));
    return this.tokens.has(token);
  }

  /**
   * Records newly issued keys, in one atomic write whatever their number, before any
   * of them is written anywhere else.
   */
  async recordMany(keys: readonly { token: string; alias: string; env?: string; file?: string }[], owner: { uid: number; gid: number } | undefined): Promise<void> {
    const fresh = keys.filter((k) => !this.has(k.token));
    if (fresh.length === 0) return;
    const issuedAt = new Date().toISOString();
    await this.rewrite(owner, (retired) => retired, fresh.map((k) => ({ sha256: k.token, alias: k.alias, issuedAt, ...(k.env ? { env: k.env } : {}), ...(k.file ? { file: k.file } : {}) })));
  }

  /** Reads the file again (we hold the lock: another run may have written since we loaded), applies the change, writes atomically. */
  private async rewrite(owner: { uid: number; gid: number } | undefined, retire: (retired: RetiredEntry[]) => RetiredEntry[], fresh: LedgerEntry[] = [], forget: ReadonlySet<string> = new Set()): Promise<void> {
    const onDisk = await readLedger(this.path);
    // The id on disk wins (another run may have recorded it since this one loaded).
    this.installationId = onDisk.installation ?? this.installationId;
    const known = new Set(onDisk.issued.map((e) => e.sha256));
    this.entries.splice(0, this.entries.length, ...[...onDisk.issued, ...this.entries.filter((e) => !known.has(e.sha256))].filter((e) => !forget.has(e.sha256)), ...fresh);
    const retiredKnown = new Set(onDisk.retired.map((e) => e.sha256));
    this.retiredEntries = retire([...onDisk.retired, ...this.retiredEntries.filter((e) => !retiredKnown.has(e.sha256))]);
    this.tokens = undefined;
    const kept = this.entries.slice(-Math.max(MAX_ENTRIES, 2 * fresh.length));
    const body = `${JSON.stringify({ about: ABOUT, version: 1, ...(this.installationId ? { installation: this.installationId } : {}), issued: kept, ...(this.retiredEntries.length ? { retired: this.retiredEntries } : {}) }, null, 2)}\n`;
    await writeFileAtomic(this.path, body, { mode: 0o600, ...(owner ?? {}) });
  }
}

const isEntry = (e: unknown): e is { sha256: string } => typeof e === 'object' && e !== null && typeof (e as LedgerEntry).sha256 === 'string';

/**
 * A ledger document's entries (the ledger file, or the annotation the Secret store keeps): entries
 * without a sha256 (or a retired one without its end) are dropped; text that is no ledger at all
 * (missing, edited by hand into something else) gives none, which only makes a run more careful.
 */
export function parseLedgerDocument<Issued extends { sha256: string }>(text: string | undefined): { issued: Issued[]; retired: RetiredEntry[]; installation?: string | undefined } {
  if (!text) return { issued: [], retired: [] };
  try {
    const body = JSON.parse(text) as { issued?: unknown; retired?: unknown; installation?: unknown };
    return {
      installation: typeof body.installation === 'string' && /^[A-Za-z0-9:/._-]{1,200}$/.test(body.installation) ? body.installation : undefined,
      issued: Array.isArray(body.issued) ? (body.issued.filter(isEntry) as Issued[]) : [],
      retired: Array.isArray(body.retired) ? (body.retired.filter((e) => isEntry(e) && typeof (e as RetiredEntry).until === 'string') as RetiredEntry[]) : [],
    };
  } catch {
    return { issued: [], retired: [] };
  }
}

async function readLedger(file: string): Promise<{ issued: LedgerEntry[]; retired: RetiredEntry[]; installation?: string | undefined }> {
  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    // Missing or unreadable: we remember nothing, which only makes us more careful.
  }
  return parseLedgerDocument<LedgerEntry>(text);
}
