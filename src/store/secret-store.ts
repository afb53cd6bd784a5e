/**
 * The Secret store (Kubernetes, LITELLM_KEY_SECRET): a key is `data[<env>]` of a Secret in the
 * pod's namespace. What the `.env` ledger file records lives on the Secret itself: the label
 * `app.kubernetes.io/managed-by: llm-proxy-bootstrap` and the annotation
 * `llm-proxy-bootstrap/ledger` (alias, sha256 and time of each key issued into it; never a key).
 *
 * One write (a PUT with the resourceVersion that was read, or a create) records the key and
 * stores it, so the Secret always holds the old key or the new one with its ledger entry. A
 * write that loses a race (409, or the Secret deleted meanwhile) is a StoreConflictError: the
 * run reads again and re-plans, in place of the file lock.
 */
import type { KeyTarget } from './key-store.ts';
import { registerSecret } from '../log/redact.ts';
import type { Logger } from '../log/log.ts';
import { KubeConflictError, type KubeClient, type KubeSecret } from '../kube/client.ts';
import { StoreConflictError, type KeyStore, type KeyWrite, type RecordedKey, type RetiredKey, type SavedValue, type StoredKey } from './key-store.ts';
import { PROVISIONED_BY } from '../config/ownership.ts';
import { parseLedgerDocument, sha256, type RetiredEntry } from './ledger.ts';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const LEDGER_ANNOTATION = 'llm-proxy-bootstrap/ledger';
const MAX_ENTRIES = 20;

interface LedgerEntry {
  sha256: string;
  alias: string;
  env: string;
  issuedAt: string;
}

function annotationOf(secret: KubeSecret | undefined): { issued: LedgerEntry[]; retired: RetiredEntry[] } {
  return parseLedgerDocument<LedgerEntry>(secret?.metadata.annotations?.[LEDGER_ANNOTATION]);
}

const ledgerOf = (secret: KubeSecret | undefined): LedgerEntry[] => annotationOf(secret).issued;

const decode = (b64: string | undefined) => (b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8'));
const encode = (value: string) => Buffer.from(value, 'utf8').toString('base64');

export class SecretKeyStore implements KeyStore {
  /** Secrets as last read or written (null: there is none). */
  private readonly secrets = new Map<string, KubeSecret | null>();

  constructor(
    private readonly kube: KubeClient,
    private readonly opts: { deadline: () => number; log: Logger },
  ) {}

  private name(spec: KeyTarget): string {
    if (!spec.secret) throw new Error(`key ${spec.alias} has no Secret`);
    return spec.secret;
  }

  private async secret(name: string): Promise<KubeSecret | undefined> {
    if (!this.secrets.has(name)) {
      const s = await this.kube.getSecret(name, this.opts.deadline());
      for (const v of Object.values(s?.data ?? {})) registerSecret(decode(v));
      this.secrets.set(name, s ?? null);
    }
    return this.secrets.get(name) ?? undefined;
  }

  /** The pod's namespace (the installation's id on Kubernetes, with LITELLM_KEY_SECRET). */
  get namespace(): string {
    return this.kube.namespace;
  }

  where(name: string): string {
    return `Secret ${this.kube.namespace}/${name}`;
  }

  async read(spec: KeyTarget): Promise<StoredKey> {
    const name = this.name(spec);
    const s = await this.secret(name);
    return { path: this.where(name), raw: decode(s?.data?.[spec.env]), lines: [], backupPath: `${this.where(name)} data.${spec.env}.previous` };
  }

  has(token: string): boolean {
    for (const s of this.secrets.values()) if (ledgerOf(s ?? undefined).some((e) => e.sha256 === token)) return true;
    return false;
  }

  /**
   * Before any key is issued: may the service account write each Secret the way `write` will —
   * create it when it does not exist, update (PUT) it when it does (get: it was read)? Asked with
   * a SelfSubjectAccessReview; where the API server does not answer those, permissions show at the
   * write, and keys issued for a write that fails are deleted again (Applier).
   */
  async assertEditable(writes: readonly Omit<KeyWrite, 'token'>[]): Promise<void> {
    for (const name of new Set(writes.map(({ spec }) => this.name(spec)))) {
      await this.kube.assertMay((await this.secret(name)) ? 'update' : 'create', name, this.opts.deadline());
    }
  }

  async saveBackups(values: readonly SavedValue[]): Promise<void> {
    for (const [name, group] of Map.groupBy(values, ({ spec }) => this.name(spec))) {
      await this.write(name, Object.fromEntries(group.map(({ saved }) => [`${saved.name}.previous`, saved.value])), { issued: [] });
    }
  }

  /** One write per Secret: its keys and their ledger entries together. */
  async writeKeys(writes: readonly KeyWrite[]): Promise<void> {
    const issuedAt = new Date().toISOString();
    for (const [name, group] of Map.groupBy(writes, ({ spec }) => this.name(spec))) {
      await this.write(
        name,
        Object.assign({}, ...group.map(({ values }) => values)),
        { issued: group.map(({ spec, token }) => ({ sha256: token, alias: spec.alias, env: spec.env, issuedAt })) },
      );
    }
  }

  retired(): readonly RetiredKey[] {
    return [...this.secrets].flatMap(([name, s]) => annotationOf(s ?? undefined).retired.map((r) => ({ token: r.sha256, alias: r.alias, until: r.until, secret: name })));
  }

  async recordRetired(entries: readonly { spec: KeyTarget; token: string; until: string }[]): Promise<void> {
    for (const [name, group] of Map.groupBy(entries, ({ spec }) => this.name(spec))) {
      const tokens = new Set(group.map((e) => e.token));
      await this.write(name, {}, { retire: (r) => [...r.filter((e) => !tokens.has(e.sha256)), ...group.map(({ spec, token, until }) => ({ sha256: token, alias: spec.alias, until }))] });
    }
  }

  async forgetRetired(entries: readonly RetiredKey[]): Promise<void> {
    for (const [name, group] of Map.groupBy(entries, (e) => e.secret ?? '')) {
      if (!name) continue;
      const tokens = new Set(group.map((e) => e.token));
      await this.write(name, {}, { retire: (r) => r.filter((e) => !tokens.has(e.sha256)) });
    }
  }

  issued(): readonly RecordedKey[] {
    return [...this.secrets].flatMap(([name, s]) => ledgerOf(s ?? undefined).map((e) => ({ token: e.sha256, alias: e.alias, env: e.env, secret: name })));
  }

  async forgetPruned(entries: readonly RecordedKey[]): Promise<string[]> {
    const emptied: string[] = [];
    for (const [name, group] of Map.groupBy(entries, (e) => e.secret ?? '')) {
      if (!name) continue;
      const current = await this.secret(name);
      if (!current) continue;
      const tokens = new Set(group.map((e) => e.token));
      // Only a data key that still holds the pruned key is emptied (same as an env file's variable).
      const holding = [...new Set(group.flatMap((e) => (e.env ? [e.env] : [])))].filter((env) => {
        const value = decode(current.data?.[env])?.trim();
        return value !== undefined && value !== '' && tokens.has(sha256(value));
      });
      await this.write(name, Object.fromEntries(holding.map((env) => [env, ''])), { forget: tokens });
      emptied.push(...holding.map((env) => `data.${env} of ${this.where(name)}`));
    }
    return emptied;
  }

  private async write(name: string, values: Record<string, string>, change: { issued?: LedgerEntry[]; retire?: (retired: RetiredEntry[]) => RetiredEntry[]; forget?: ReadonlySet<string> }): Promise<void> {
    const current = await this.secret(name);
    const before = annotationOf(current);
    const ledger = [...before.issued.filter((e) => !change.forget?.has(e.sha256)), ...(change.issued ?? [])];
    const retired = change.retire ? change.retire(before.retired) : before.retired;
    const data = { ...(current?.data ?? {}) };
    for (const [k, v] of Object.entries(values)) data[k] = encode(v);
    const next: KubeSecret = {
      ...(current ?? { apiVersion: 'v1', kind: 'Secret', type: 'Opaque' }),
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        ...(current?.metadata ?? { name }),
        labels: { ...(current?.metadata.labels ?? {}), [MANAGED_BY_LABEL]: PROVISIONED_BY },
        annotations: {
          ...(current?.metadata.annotations ?? {}),
          [LEDGER_ANNOTATION]: JSON.stringify({ about: 'sha256 of the virtual keys llm-proxy-bootstrap issued into this Secret', version: 1, issued: ledger.slice(-MAX_ENTRIES), ...(retired.length ? { retired } : {}) }),
        },
      },
      data,
    };
    delete next.metadata.managedFields;
    try {
      const written = current ? await this.kube.replaceSecret(next, this.opts.deadline()) : await this.kube.createSecret(next, this.opts.deadline());
      this.secrets.set(name, written);
      this.opts.log.info({ secret: this.where(name), resourceVersion: written.metadata.resourceVersion }, current ? `updated ${this.where(name)}` : `created ${this.where(name)}`);
    } catch (err) {
      if (!(err instanceof KubeConflictError)) throw err;
      this.secrets.delete(name);
      throw new StoreConflictError(`${this.where(name)} was ${err.reason === 'NotFound' ? 'deleted' : err.reason === 'AlreadyExists' ? 'created' : 'changed'} by someone else while this run was writing it`);
    }
  }

  refresh(): void {
    this.secrets.clear();
  }
}
