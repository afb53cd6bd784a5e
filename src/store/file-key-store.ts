/**
 * The env-file store (compose): a key is a `NAME=value` line of an env file, written in place
 * of the old line (other lines byte-for-byte, atomic replace); the ledger is a JSON file beside
 * `.env`; concurrent runs are serialised by the lock file (run.ts), so a write never conflicts.
 */
import type { KeyTarget } from './key-store.ts';
import { assertEditable, readEnvFile, saveBackups, setEnvVars, type EnvFileState } from './env-files.ts';
import { sha256, type Ledger } from './ledger.ts';
import type { KeyStore, KeyWrite, RecordedKey, RetiredKey, SavedValue, StoredKey } from './key-store.ts';

/** Each file's variables, in one object per file (one write per file). */
function byFile(writes: readonly Omit<KeyWrite, 'token'>[]): Map<string, Record<string, string>> {
  const files = new Map<string, Record<string, string>>();
  for (const { spec, values } of writes) files.set(spec.file, { ...files.get(spec.file), ...values });
  return files;
}

export class FileKeyStore implements KeyStore {
  private readonly files = new Map<string, EnvFileState>();

  constructor(
    private readonly ledger: Ledger,
    private readonly opts: { backupPath: string; owner: { uid: number; gid: number }; snapshot?: EnvFileState | undefined; mainEnvPath?: string },
  ) {
    if (opts.snapshot) this.files.set(opts.snapshot.path, opts.snapshot);
  }

  async state(file: string): Promise<EnvFileState> {
    let state = this.files.get(file);
    if (!state) {
      state = await readEnvFile(file);
      this.files.set(file, state);
    }
    return state;
  }

  async read(spec: KeyTarget): Promise<StoredKey> {
    const { doc } = await this.state(spec.file);
    return { path: spec.file, raw: doc.get(spec.env), lines: doc.assignments(spec.env).map((a) => a.line), backupPath: this.opts.backupPath };
  }

  has(token: string): boolean {
    return this.ledger.has(token);
  }

  async assertEditable(writes: readonly Omit<KeyWrite, 'token'>[]): Promise<void> {
    for (const [file, values] of byFile(writes)) await assertEditable(file, values);
  }

  async saveBackups(values: readonly SavedValue[]): Promise<void> {
    if (values.length === 0) return;
    await saveBackups(values.map(({ saved }) => saved), this.opts.owner);
  }

  async writeKeys(writes: readonly KeyWrite[]): Promise<void> {
    if (writes.length === 0) return;
    // The ledger first (one write): a key written to an env file is always one the ledger knows.
    await this.ledger.recordMany(writes.map(({ spec, token }) => ({ token, alias: spec.alias, env: spec.env, file: spec.file })), this.opts.owner);
    for (const [file, values] of byFile(writes)) await setEnvVars(file, values);
  }

  retired(): readonly RetiredKey[] {
    return this.ledger.retired().map((r) => ({ token: r.sha256, alias: r.alias, until: r.until }));
  }

  async recordRetired(entries: readonly { spec: KeyTarget; token: string; until: string }[]): Promise<void> {
    await this.ledger.recordRetired(entries.map(({ spec, token, until }) => ({ sha256: token, alias: spec.alias, until })), this.opts.owner);
  }

  async forgetRetired(entries: readonly RetiredKey[]): Promise<void> {
    await this.ledger.forgetRetired(entries.map((e) => e.token), this.opts.owner);
  }

  issued(): readonly RecordedKey[] {
    return this.ledger.issued().map((e) => ({ token: e.sha256, alias: e.alias, env: e.env, file: e.file }));
  }

  async forgetPruned(entries: readonly RecordedKey[]): Promise<string[]> {
    const emptied: string[] = [];
    const main = this.opts.mainEnvPath;
    for (const [file, group] of Map.groupBy(entries, (e) => e.file ?? main)) {
      if (file === undefined) continue;
      let state: EnvFileState;
      try {
        state = await readEnvFile(file);
      } catch {
        continue; // the file is gone: nothing holds the key there
      }
      const tokens = new Set(group.map((e) => e.token));
      // The named variables, or (entries of earlier versions) any variable holding the key.
      const names = group.some((e) => e.env === undefined) ? Object.keys(state.doc.values()) : [...new Set(group.map((e) => e.env!))];
      const holding = names.filter((name) => {
        const value = state.doc.get(name)?.trim();
        return value !== undefined && value !== '' && tokens.has(sha256(value));
      });
      if (holding.length === 0) continue;
      await setEnvVars(file, Object.fromEntries(holding.map((name) => [name, ''])));
      emptied.push(...holding.map((name) => `${name} in ${file}`));
    }
    this.files.clear();
    await this.ledger.forgetIssued(entries.map((e) => e.token), this.opts.owner);
    return emptied;
  }

  refresh(): void {
    this.files.clear();
  }
}
