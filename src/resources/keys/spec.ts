import { basename, dirname, resolve } from 'node:path';
import * as z from 'zod';
import { ConfigError } from '../../errors.ts';
import { aliasProblem } from '../../config/alias-rules.ts';
import { durationSchema, renewWindowProblem } from '../../config/duration.ts';
import { KEY_TYPES, parseModelList, SECRET_NAME, type KeyType } from '../../config/settings.ts';
import type { SectionEntry, SectionSettings, SpecSection } from '../kind.ts';

/** One key the run must converge to: from the LITELLM_DEFAULT_* settings, or a line of the keys file. */
export interface KeySpec {
  alias: string;
  /** Variable the raw key is written to. */
  env: string;
  /** Absolute path of the env file the key is written to (unless `secret` is set). */
  file: string;
  /** Secret mode: the Kubernetes Secret (in the pod's namespace) whose `data[env]` holds the key. */
  secret?: string | undefined;
  models: string[];
  userId: string | undefined;
  duration: string | undefined;
  maxBudget: number | undefined;
  budgetDuration: string | undefined;
  /** LiteLLM's key_type; the proxy stores it as allowed_routes (see allowedRoutesOf). */
  keyType: KeyType;
  teamId: string | undefined;
  /** The team the key joins by its alias (`team:`), declared under `teams:` or on the proxy: its team_id is resolved when planning. */
  team?: string | undefined;
  /** Where `team:` is written, for messages. */
  teamSource?: string | undefined;
  tpmLimit: number | undefined;
  rpmLimit: number | undefined;
  maxParallelRequests: number | undefined;
  /** Renew the key when its expiry (as the proxy reports it) is this close; undefined: never renewed early. */
  renewBefore: string | undefined;
  /** Proxy-side rotation asked for (LiteLLM's auto_rotate with this rotation_interval); undefined: auto_rotate off. */
  rotationInterval: string | undefined;
  metadata: Record<string, unknown>;
  /** Where this key was declared, for messages. */
  source: string;
  /** The setting or keys-file line that gave the alias, for messages about the alias. */
  aliasSource: string;
}

/** `metadata.provisioned_by` of every key this bootstrap issues (config/ownership.ts). */
export { PROVISIONED_BY } from '../../config/ownership.ts';

/**
 * What LiteLLM stores for a key_type (key_management_endpoints.handle_key_type): `default`
 * stores no list (every route a default key may call).
 */
export const KEY_TYPE_ROUTES: Record<KeyType, string[]> = {
  default: [],
  llm_api: ['llm_api_routes'],
  management: ['management_routes'],
  read_only: ['info_routes'],
};

/** A rate limit as LiteLLM stores it (an int column): a whole number, 0 or more. */
const limit = () => z.number().int({ error: 'must be a whole number' }).gte(0, { error: 'must be 0 or more' }).optional();

const keyEntrySchema = z.strictObject({
  alias: z
    .string()
    .trim()
    .min(1, { error: 'must not be empty' })
    .superRefine((alias, ctx) => {
      const problem = alias === '' ? undefined : aliasProblem(alias);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be a variable name like OPENAI_API_KEY' }),
  file: z.string().min(1).optional(),
  secret: z.string().max(253).regex(SECRET_NAME, { error: 'must be a Secret name (lowercase letters, digits, - and .)' }).optional(),
  models: z.union([z.array(z.string().trim().min(1)), z.string()]).optional(),
  max_budget: z.number().gte(0, { error: 'must be 0 or more' }).optional(),
  budget_duration: durationSchema('budget reset').optional(),
  duration: durationSchema('key lifetime').optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  user_id: z.string().min(1).optional(),
  team_id: z.string().min(1).optional(),
  team: z.string().trim().min(1, { error: 'must not be empty' }).optional(),
  key_type: z.enum(KEY_TYPES, { error: `must be one of ${KEY_TYPES.join(', ')}` }).optional(),
  tpm_limit: limit(),
  rpm_limit: limit(),
  max_parallel_requests: limit(),
  renew_before: durationSchema('key lifetime').optional(),
  rotation_interval: durationSchema('key lifetime').optional(),
});

/** `keys:` of the keys file (or the whole file, a list of keys: the original format). */
export const keyList = z.array(keyEntrySchema).min(1, { error: 'must list at least one key' });
export type KeyEntry = z.output<typeof keyEntrySchema>;

/** The keys kind's section of the keys file; without one, the key of the LITELLM_DEFAULT_* settings. */
export const keysSection: SpecSection<KeySpec, KeyEntry> = {
  name: 'keys',
  schema: keyList,
  bare: true,
  specs: (entries, { file: keysFile, settings, problems }) => keySpecs(entries, keysFile, settings, problems),
  fromSettings(settings) {
    if (settings.defaultKey === undefined) {
      throw new ConfigError(`invalid settings: ${settings.defaultKeyProblem}`, { hint: 'set LITELLM_DEFAULT_MODELS in .env (e.g. gpt-4o-mini)' });
    }
    return [settings.defaultKey];
  },
};

function keySpecs(entries: SectionEntry<KeyEntry>[], keysFile: string, settings: SectionSettings, problems: string[]): KeySpec[] {
  const envDir = dirname(settings.envFilePath);
  const specs: KeySpec[] = [];
  const seenAlias = new Map<string, number>();
  const seenTarget = new Map<string, number>();
  for (const { value: entry, line, lineOf } of entries) {
    const models = Array.isArray(entry.models) ? [...new Set(entry.models)] : parseModelList(entry.models) ?? settings.defaultModels;
    if (models === undefined || models.length === 0) {
      problems.push(`line ${line}: key ${JSON.stringify(entry.alias)} has no models (set models, or LITELLM_DEFAULT_MODELS)`);
      continue;
    }
    const file = resolve(envDir, entry.file ?? basename(settings.envFilePath));
    if (entry.file !== undefined && entry.secret !== undefined) problems.push(`line ${line}: key ${JSON.stringify(entry.alias)} sets both file and secret; a key lives in one place`);
    // In Secret mode (LITELLM_KEY_SECRET) a key without file: goes to that Secret too.
    const secret = entry.secret ?? (entry.file === undefined ? settings.keySecret : undefined);
    const target = secret === undefined ? `${file}\0${entry.env}` : `secret:${secret}\0${entry.env}`;
    if (seenAlias.has(entry.alias)) problems.push(`line ${line}: alias ${JSON.stringify(entry.alias)} is already declared at line ${seenAlias.get(entry.alias)}`);
    if (seenTarget.has(target)) problems.push(`line ${line}: ${entry.env} in ${secret === undefined ? file : `Secret ${secret}`} is already the target of the key at line ${seenTarget.get(target)}`);
    const renewBefore = entry.renew_before ?? settings.defaultRenewBefore;
    const window = renewWindowProblem(renewBefore, entry.duration);
    if (window) problems.push(`line ${line}: renew_before of key ${JSON.stringify(entry.alias)} ${window}`);
    if (entry.team !== undefined && entry.team_id !== undefined) problems.push(`line ${lineOf('team')}: key ${JSON.stringify(entry.alias)} sets both team (an alias) and team_id; a key joins one team`);
    seenAlias.set(entry.alias, line);
    seenTarget.set(target, line);
    specs.push({
      alias: entry.alias,
      env: entry.env,
      file,
      secret,
      models,
      userId: entry.user_id ?? settings.defaultUser,
      duration: entry.duration,
      maxBudget: entry.max_budget,
      budgetDuration: entry.budget_duration,
      keyType: entry.key_type ?? settings.defaultKeyType ?? 'llm_api',
      teamId: entry.team_id,
      ...(entry.team !== undefined ? { team: entry.team, teamSource: `${keysFile} line ${lineOf('team')}` } : {}),
      tpmLimit: entry.tpm_limit,
      rpmLimit: entry.rpm_limit,
      maxParallelRequests: entry.max_parallel_requests,
      renewBefore,
      rotationInterval: entry.rotation_interval,
      metadata: entry.metadata ?? {},
      source: `${keysFile} line ${line}`,
      aliasSource: `the alias at ${keysFile} line ${lineOf('alias')}`,
    });
  }
  return specs;
}

/**
 * Gives every key that joins a team by its alias (`team:`) that team's team_id, from the teams
 * kind's plan (`resolved`: declared teams, planned ones included, and teams on the proxy whose alias
 * only one team carries). A team neither declared nor on the proxy: exit 2 naming the line, before
 * any write (plans are made before anything is applied).
 */
export function resolveTeams(keys: KeySpec[], teams: { resolved?: ReadonlyMap<string, string> | undefined } | undefined): void {
  for (const spec of keys) {
    if (spec.team === undefined) continue;
    const id = teams?.resolved?.get(spec.team);
    if (id === undefined) {
      throw new ConfigError(`${spec.teamSource ?? spec.source}: key ${JSON.stringify(spec.alias)} joins team ${JSON.stringify(spec.team)}, which is neither declared under teams: nor a team on the proxy (or several teams carry that alias); nothing was changed`, {
        hint: `declare it under teams: (- alias: ${spec.team}), or name an existing team by its alias (team:) or its id (team_id:)`,
      });
    }
    spec.teamId = id;
  }
}
