/**
 * The env-file store (compose): a key is a `NAME=value` line of an env file, written in place
 * of the old line (other lines byte-for-byte, atomic replace); the ledger is a JSON file beside
 * `.env`; concurrent runs are serialised by the lock file (run.ts), so a write never conflicts.
 */
import type { KeySpec } from '../config/keys.ts';
import type { EnvFileState } from '../reconcile/observe.ts';
import { readEnvFile } from '../reconcile/observe.ts';
import type { Ledger } from './ledger.ts';
import type { KeyStore, StoredKey } from './key-store.ts';

export class FileKeyStore implements KeyStore {
  private readonly files = new Map<string, EnvFileState>();

  constructor(
    private readonly ledger: Ledger,
    private readonly opts: { backupPath: string; owner: { uid: number; gid: number }; snapshot?: EnvFileState | undefined },
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

  async read(spec: KeySpec): Promise<StoredKey> {
    const { doc } = await this.state(spec.file);
    return { path: spec.file, raw: doc.get(spec.env), lines: doc.assignments(spec.env).map((a) => a.line), backupPath: this.opts.backupPath };
  }

  has(token: string): boolean {
    return this.ledger.has(token);
  }

  async assertEditable(spec: KeySpec, values: Record<string, string>): Promise<void> {
    const { assertEditable } = await import('../reconcile/apply.ts');
    await assertEditable(spec.file, values);
  }

  async saveBackup(_spec: KeySpec, saved: { name: string; value: string; from: string; line: number | undefined }): Promise<void> {
    const { saveBackup } = await import('../reconcile/apply.ts');
    await saveBackup({ to: 'backup', path: this.opts.backupPath, ...saved }, this.opts.owner);
  }

  async writeKey(spec: KeySpec, token: string, values: Record<string, string>): Promise<void> {
    // The ledger first: a key written to .env is always one the ledger knows.
    await this.ledger.record(token, spec.alias, this.opts.owner);
    const { setEnvVars } = await import('../reconcile/apply.ts');
    await setEnvVars(spec.file, values);
  }

  refresh(): void {
    this.files.clear();
  }
}
