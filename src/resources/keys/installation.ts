/**
 * The run's installation (src/store/installation.ts) for the key kind: which id this run's keys
 * carry, and the keys marked with it (their desired metadata).
 */
import type { KeySpec } from '../../config/key-spec.ts';
import type { Ledger } from '../../store/ledger.ts';
import { INSTALLATION_FIELD, kubernetesInstallationId, newInstallationId, type Installation } from '../../store/installation.ts';

export async function installationOf(o: {
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

/** Every declared key carries the installation in its metadata (desiredMetadata): a key without it is adopted with /key/update. */
export function markKeys(keys: KeySpec[], installation: Installation): void {
  if (!installation.recorded) return;
  for (const spec of keys) spec.metadata = { ...spec.metadata, [INSTALLATION_FIELD]: installation.id };
}
