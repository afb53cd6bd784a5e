/**
 * The desired keys: without LITELLM_BOOTSTRAP_CONFIG, the single default key of
 * the LITELLM_DEFAULT_* settings; with it, the list declared in that YAML file.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import type { KeySpec } from './keys/spec.ts';
import type { ModelSpec } from './models/spec.ts';
import type { Settings } from '../config/settings.ts';

/** The keys the run must converge to. */
export async function desiredKeys(settings: Settings): Promise<KeySpec[]> {
  return (await desiredConfig(settings)).keys;
}

/** The keys, and the models the keys file declares (none without one). */
export async function desiredConfig(settings: Settings): Promise<{ keys: KeySpec[]; models: ModelSpec[] }> {
  if (settings.keysFile === undefined) {
    if (settings.defaultKey === undefined) {
      throw new ConfigError(`invalid settings: ${settings.defaultKeyProblem}`, { hint: 'set LITELLM_DEFAULT_MODELS in .env (e.g. gpt-4o-mini)' });
    }
    return { keys: [settings.defaultKey], models: [] };
  }
  let text: string;
  try {
    text = readFileSync(settings.keysFile, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the keys file ${settings.keysFile} (LITELLM_BOOTSTRAP_CONFIG): ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      hint: 'fix the path or unset LITELLM_BOOTSTRAP_CONFIG',
      cause: err,
    });
  }
  // The YAML parser and the zod schema load only when a keys file is used.
  const { parseBootstrapConfig } = await import('./keys-file.ts');
  return parseBootstrapConfig(text, settings.keysFile, settings);
}

