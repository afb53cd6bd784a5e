/**
 * The desired state, every kind's specs by kind name: without LITELLM_BOOTSTRAP_CONFIG, what the
 * settings declare (the single default key of the LITELLM_DEFAULT_* settings); with it, the
 * sections of that YAML file.
 */
import { readFileSync } from 'node:fs';
import type { Settings } from '../config/settings.ts';
import { ConfigError } from '../errors.ts';
import type { DesiredSpec } from './kind.ts';
import { SECTIONS } from './registry.ts';

export async function desiredSpec(settings: Settings): Promise<DesiredSpec> {
  if (settings.keysFile === undefined) return Object.fromEntries(SECTIONS.filter((s) => !s.absentUnlessWritten).map((s) => [s.name, s.fromSettings?.(settings) ?? []]));
  let text: string;
  try {
    text = readFileSync(settings.keysFile, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the keys file ${settings.keysFile} (LITELLM_BOOTSTRAP_CONFIG): ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
      hint: 'fix the path or unset LITELLM_BOOTSTRAP_CONFIG',
      cause: err,
    });
  }
  // The YAML parser loads only when a keys file is used.
  const { parseSpecDocument } = await import('./keys-file.ts');
  return parseSpecDocument(text, settings.keysFile, settings);
}
