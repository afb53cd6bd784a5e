/**
 * `--mirror-only`: the step that runs before the proxy starts (compose service `llm-proxy-init`).
 * `.env` has been created from the template if it was missing (src/store/env-init.ts); this
 * writes the proxy's env file from it and says what the user still has to set. It never
 * contacts the proxy, so it needs neither the proxy nor its database.
 */
import { DriftError } from '../errors.ts';
import { desiredConfig } from '../config/keys.ts';
import type { KeySpec } from '../config/key-spec.ts';
import type { ModelSpec } from '../resources/models/spec.ts';
import type { Mode, Settings } from '../config/settings.ts';
import type { Logger } from '../log/log.ts';
import { assertPassThrough, changedVariables, missingProviderKeys, mirrorContent, mirroredSummary, PASS_THROUGH_PREFIX, PROXY_APPLY_COMMAND, reservedNames } from '../store/mirror.ts';
import { writeFileAtomic } from '../store/fs-atomic.ts';
import { readEnvFile, readGeneratedFileIfAny, type EnvFileState } from '../store/env-files.ts';
import { GENERATED, listed } from '../store/env-init.ts';
import { syncDbPasswordFile } from '../store/db-password-file.ts';

export interface MirrorOnlyInput {
  settings: Settings;
  mainEnv: EnvFileState;
  mode: Mode;
  /** Set when this run created `.env` from the template. */
  created: { from: string } | undefined;
  /** Settings this run generated in place of the template's placeholders (a first start, src/reconcile/secrets.ts). */
  generated?: readonly string[];
  log: Logger;
  stdout: (text: string) => void;
}

/** The declared keys and models, or why they cannot be read (the main run reports that; this step carries on). */
async function declaredConfig(settings: Settings): Promise<{ keys: KeySpec[]; models: ModelSpec[] } | Error> {
  try {
    return await desiredConfig(settings);
  } catch (err) {
    return err as Error;
  }
}

/**
 * Refuses (exit 2, nothing written) a `LITELLM_PROXY_ENV_*` line aimed at a name of ours, as the main run
 * does, so the proxy never starts with it. Without a readable keys file its `env:` names are unknown:
 * a pass-through cannot be checked, so the keys file's problem is reported now.
 */
function checkPassThrough(settings: Settings, state: EnvFileState, keys: KeySpec[] | Error): void {
  const values = state.doc.values();
  if (keys instanceof Error && settings.keysFile !== undefined && Object.entries(values).some(([n, v]) => n.startsWith(PASS_THROUGH_PREFIX) && v.trim() !== '')) throw keys;
  assertPassThrough(settings.envFilePath, state.doc, reservedNames(settings.defaultKeyEnvName, keys instanceof Error ? [] : keys));
}

/** "still to set in .env: …" or undefined when every provider a model names is configured (its key or API base). */
export function stillToSet(values: Record<string, string>, models: readonly string[], envFile: string): string | undefined {
  const missing = missingProviderKeys(values, models);
  if (missing.length === 0) return undefined;
  return `still to set in ${envFile}: ${missing.join(', ')} (the proxy cannot reach that provider without it), then apply it with \`${PROXY_APPLY_COMMAND}\``;
}

export async function mirrorOnly(input: MirrorOnlyInput): Promise<{ summary: string; exitCode: 0 }> {
  const { settings, log } = input;
  const target = settings.litellmEnvFilePath;
  const config = await declaredConfig(settings);
  const keys = config instanceof Error ? config : config.keys;
  checkPassThrough(settings, input.mainEnv, keys);
  const desired = mirrorContent(input.mainEnv.doc.values());
  const before = readGeneratedFileIfAny(target);
  const stale = before.content !== desired.content || before.mode !== 0o600;
  const describe = `write ${target} (${desired.names.length} provider secret(s): ${desired.names.join(', ') || 'none'}; provider settings: ${desired.settings.join(', ') || 'none'}; also ${desired.passed.join(', ') || 'nothing else'})`;

  if (input.mode !== 'apply') {
    input.stdout(stale ? `Plan (1 step(s)):\n- ${describe}\n` : 'Plan: nothing to do, everything is in place.\n');
    if (input.mode === 'check' && stale) throw new DriftError('drift: 1 step(s) needed (mirror)', { hint: 'run the bootstrap without --check to apply them' });
    return { summary: stale ? 'dry run: 1 step(s) would run; nothing changed' : 'check: nothing to do, everything is in place', exitCode: 0 };
  }

  const parts: string[] = [];
  if (input.created) {
    parts.push(`created ${settings.envFilePath} from ${input.created.from} with a fresh random ${listed(GENERATED)}`);
  }
  if (input.generated && input.generated.length > 0) {
    parts.push(`first start: a fresh random ${listed(input.generated)} replaced the template's published placeholder in ${settings.envFilePath}`);
  }
  let values = input.mainEnv.doc.values();
  if (stale) {
    const { acquireLock } = await import('../store/lock.ts');
    const lock = await acquireLock(`${settings.envFilePath}.lock`, { deadline: Date.now() + Math.max(settings.waitSeconds * 1000, 15_000) });
    try {
      // Under the lock, from .env as it is now (another run may have changed it meanwhile).
      const now = await readEnvFile(settings.envFilePath);
      checkPassThrough(settings, now, keys);
      values = now.doc.values();
      const mirror = mirrorContent(values);
      log.info({ step: 'mirror' }, describe);
      await writeFileAtomic(target, mirror.content, { mode: 0o600, uid: now.uid, gid: now.gid });
      parts.push(mirroredSummary(mirror.names, mirror.settings));
      if (before.content !== null && before.content !== mirror.content) {
        parts.push(`the proxy's env file changed (${changedVariables(before.content, mirror.content).join(', ')}): llm-proxy reads it when it starts; if it is running, apply it with \`${PROXY_APPLY_COMMAND}\``);
      }
    } finally {
      await lock.release().catch(() => undefined);
    }
  } else parts.push('proxy env file unchanged');
  if (settings.dbPasswordFilePath) {
    const now = await readEnvFile(settings.envFilePath);
    if (await syncDbPasswordFile(settings.dbPasswordFilePath, now.doc.values(), { uid: now.uid, gid: now.gid })) parts.push(`wrote the database password file ${settings.dbPasswordFilePath}`);
  }
  // The keys file's own models need no provider key of .env.
  const models = config instanceof Error ? (settings.defaultModels ?? []) : config.keys.flatMap((k) => k.models).filter((m) => !config.models.some((d) => d.name === m));
  const todo = stillToSet(values, models, settings.envFilePath);
  if (todo) parts.push(todo);
  return { summary: `done (mirror only): ${parts.join('; ')}`, exitCode: 0 };
}
