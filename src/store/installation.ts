/**
 * The installation identity: which installation of the bootstrap issued a key (later a team, a
 * model). An installation is an env directory (compose), or, on Kubernetes, the Job's namespace
 * and its Secret (LITELLM_KEY_SECRET). Several installations may share one proxy (dev and staging,
 * two checkouts); a run acts only on what its own installation issued.
 *
 * The id is no secret: a random `env-<uuid>` kept in the ledger file beside `.env` (created by the
 * first run that writes, before anything is issued with it), or `kubernetes:<namespace>/<secret>`
 * (stable by construction, so a key issued just before a kill is still recognised). On the proxy it
 * is the `bootstrap_installation` field next to `provisioned_by` in a key's `metadata` (the field
 * names models carry in `model_info`, teams in `metadata`): /key/info and /key/list return it.
 */
import { randomUUID } from 'node:crypto';
import { PROVISIONED_BY } from '../config/ownership.ts';
import type { Ledger } from './ledger.ts';

/** The metadata field naming the installation that issued a resource. */
export const INSTALLATION_FIELD = 'bootstrap_installation';

/** The marks every resource this installation issues carries (a key's `metadata`, a model's `model_info`). */
export function ownerMarks(installation: string): { provisioned_by: string; bootstrap_installation: string } {
  return { provisioned_by: PROVISIONED_BY, [INSTALLATION_FIELD]: installation } as { provisioned_by: string; bootstrap_installation: string };
}

/**
 * Whose a resource is, from its marks and this installation's record:
 * - `ours`: it names this installation, or names none and this installation's ledger recorded it
 *   (a key an earlier version issued: adopted, the mark added);
 * - `foreign`: it names another installation: never deleted, renewed, repaired or updated;
 * - `unclaimed`: it names no installation and no record of ours has it (made by hand, or by an
 *   earlier version elsewhere): never touched either, unless the user takes the alias over.
 */
export type Ownership = 'ours' | 'foreign' | 'unclaimed';

export function ownershipOf(marks: Record<string, unknown> | undefined, installation: string, recorded: boolean): Ownership {
  const named = marks?.[INSTALLATION_FIELD];
  if (typeof named === 'string' && named !== '') return named === installation ? 'ours' : 'foreign';
  return recorded ? 'ours' : 'unclaimed';
}

/** The installation a resource names, if any (for messages). */
export function installationOf(marks: Record<string, unknown> | undefined): string | undefined {
  const named = marks?.[INSTALLATION_FIELD];
  return typeof named === 'string' && named !== '' ? named : undefined;
}

/** A fresh id for an env directory. */
export const newInstallationId = (): string => `env-${randomUUID()}`;

/** The id of a Kubernetes installation: the Job's namespace and its Secret. */
export const kubernetesInstallationId = (namespace: string, secret: string): string => `kubernetes:${namespace}/${secret}`;

/** What a run knows of its installation. */
export interface Installation {
  id: string;
  /** `--take-over-alias`: keys of another installation (or unclaimed) holding a declared alias are taken over. */
  takeOver: boolean;
  /**
   * The id is recorded (or stable by construction). False for `--dry-run`/`--check` in a directory no
   * run has written yet: the id is imagined, so keys are not judged for lacking it.
   */
  recorded: boolean;
}

/**
 * This run's installation: the env directory's id from its ledger (recorded by the first run that
 * may write, before anything carrying it is issued; the caller holds the lock then), or the
 * Kubernetes one (the Job's namespace and LITELLM_KEY_SECRET). Every kind that marks what it makes
 * (keys, teams, users) uses this one id: RunContext.installation.
 */
export async function resolveInstallation(o: {
  /** The env directory's ledger (compose); undefined in Secret mode. */
  ledger: Ledger | undefined;
  secretStore: { namespace: string } | undefined;
  keySecret: string | undefined;
  /** A run that may write records a new id (under the lock); --dry-run and --check only imagine one. */
  record: boolean;
  takeOver: boolean;
  owner: { uid: number; gid: number };
}): Promise<Installation> {
  if (o.ledger) {
    const known = o.ledger.installation();
    if (known !== undefined) return { id: known, takeOver: o.takeOver, recorded: true };
    if (o.record) return { id: await o.ledger.ensureInstallation(newInstallationId, o.owner), takeOver: o.takeOver, recorded: true };
    return { id: newInstallationId(), takeOver: o.takeOver, recorded: false };
  }
  if (o.secretStore && o.keySecret) return { id: kubernetesInstallationId(o.secretStore.namespace, o.keySecret), takeOver: o.takeOver, recorded: true };
  // Neither (no key is stored anywhere): an id for this run alone.
  return { id: newInstallationId(), takeOver: o.takeOver, recorded: false };
}
