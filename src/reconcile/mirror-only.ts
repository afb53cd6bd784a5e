/**
 * `--mirror-only`: the step that runs before the proxy starts (compose service `llm-proxy-init`).
 * `.env` has been created from the template if it was missing (src/store/env-init.ts); this
 * writes the proxy's env file from it and says what the user still has to set. It never
 * contacts the proxy, so it needs neither the proxy nor its database.
 */
import { DriftError } from '../errors.ts';
import { desiredConfig } from '../config/keys.ts';
import type { Mode, Settings } from '../config/settings.ts';
import type { Logger } from '../log/log.ts';
import { missingProviderKeys, mirrorContent, PROXY_APPLY_COMMAND } from '../store/mirror.ts';
import { writeFileAtomic } from '../store/fs-atomic.ts';
import { readEnvFile, readGeneratedFileIfAny, type EnvFileState } from '../store/env-files.ts';

export interface MirrorOnlyInput {
  settings: Settings;
  mainEnv: EnvFileState;
  mode: Mode;
  /** Set when this run created `.env` from the template. */
  created: { from: string } | undefined;
  log: Logger;
  stdout: (text: string) => void;
}

/** Models of the declared keys, to name the provider keys they need (not the keys file's own models); none when they cannot be read. */
async function declaredModels(settings: Settings): Promise<string[]> {
  try {
    const { keys, models } = await desiredConfig(settings);
    return keys.flatMap((k) => k.models).filter((m) => !models.some((d) => d.name === m));
  } catch {
    return settings.defaultModels ?? [];
  }
}

/** "still to set in .env: …" or undefined when every provider a model names has its key. */
export function stillToSet(values: Record<string, string>, models: readonly string[], envFile: string): string | undefined {
  const missing = missingProviderKeys(values, models);
  if (missing.length === 0) return undefined;
  return `still to set in ${envFile}: ${missing.join(', ')} (the proxy has no upstream key without it), then apply it with \`${PROXY_APPLY_COMMAND}\``;
}

export async function mirrorOnly(input: MirrorOnlyInput): Promise<{ summary: string; exitCode: 0 }> {
  const { settings, log } = input;
  const target = settings.litellmEnvFilePath;
  const desired = mirrorContent(input.mainEnv.doc.values());
  const before = readGeneratedFileIfAny(target);
  const stale = before.content !== desired.content || before.mode !== 0o600;
  const describe = `write ${target} (${desired.names.length} provider secret(s): ${desired.names.join(', ') || 'none'}; also ${desired.passed.join(', ') || 'nothing else'})`;

  if (input.mode !== 'apply') {
    input.stdout(stale ? `Plan (1 step(s)):\n- ${describe}\n` : 'Plan: nothing to do, everything is in place.\n');
    if (input.mode === 'check' && stale) throw new DriftError('drift: 1 step(s) needed (mirror)', { hint: 'run the bootstrap without --check to apply them' });
    return { summary: stale ? 'dry run: 1 step(s) would run; nothing changed' : 'check: nothing to do, everything is in place', exitCode: 0 };
  }

  const parts: string[] = [];
  if (input.created) {
    parts.push(`created ${settings.envFilePath} from ${input.created.from} with a fresh random LITELLM_MASTER_KEY and LITELLM_SALT_KEY`);
  }
  let values = input.mainEnv.doc.values();
  if (stale) {
    const { acquireLock } = await import('../store/lock.ts');
    const lock = await acquireLock(`${settings.envFilePath}.lock`, { deadline: Date.now() + Math.max(settings.waitSeconds * 1000, 15_000) });
    try {
      // Under the lock, from .env as it is now (another run may have changed it meanwhile).
      const now = await readEnvFile(settings.envFilePath);
      values = now.doc.values();
      const mirror = mirrorContent(values);
      log.info({ step: 'mirror' }, describe);
      await writeFileAtomic(target, mirror.content, { mode: 0o600, uid: now.uid, gid: now.gid });
      parts.push(`${mirror.names.length} provider secret(s) mirrored`);
      if (before.content !== null && before.content !== mirror.content) {
        parts.push(`the proxy's env file changed: llm-proxy reads it when it starts; if it is running, apply it with \`${PROXY_APPLY_COMMAND}\``);
      }
    } finally {
      await lock.release().catch(() => undefined);
    }
  } else parts.push('proxy env file unchanged');
  const todo = stillToSet(values, await declaredModels(settings), settings.envFilePath);
  if (todo) parts.push(todo);
  return { summary: `done (mirror only): ${parts.join('; ')}`, exitCode: 0 };
}
