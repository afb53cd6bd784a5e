/**
 * The run's installation (src/store/installation.ts, RunContext.installation) for the key kind:
 * every declared key carries its id in its desired metadata.
 */
import type { KeySpec } from './spec.ts';
import { INSTALLATION_FIELD, type Installation } from '../../store/installation.ts';

/** Every declared key carries the installation in its metadata (desiredMetadata): a key without it is adopted with /key/update. */
export function markKeys(keys: KeySpec[], installation: Installation): void {
  if (!installation.recorded) return;
  for (const spec of keys) spec.metadata = { ...spec.metadata, [INSTALLATION_FIELD]: installation.id };
}
