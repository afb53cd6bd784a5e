/**
 * The YAML keys file (LITELLM_BOOTSTRAP_CONFIG): parsed with yaml, validated
 * with zod, every problem reported with its line. Loaded only when a keys file
 * is configured, so the default single-key run never loads yaml.
 */
import { basename, dirname, resolve } from 'node:path';
import * as z from 'zod';
import { ConfigError } from '../errors.ts';
import { aliasProblem } from './alias-rules.ts';
import { durationSchema, renewWindowProblem } from './duration.ts';
import { KEY_TYPES, parseModelList, SECRET_NAME, type Settings } from './settings.ts';
import type { KeySpec } from './key-spec.ts';
import { modelEntrySchema, type ModelSpec } from '../resources/models/spec.ts';

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
  key_type: z.enum(KEY_TYPES, { error: `must be one of ${KEY_TYPES.join(', ')}` }).optional(),
  tpm_limit: limit(),
  rpm_limit: limit(),
  max_parallel_requests: limit(),
  renew_before: durationSchema('key lifetime').optional(),
  rotation_interval: durationSchema('key lifetime').optional(),
});

const keyList = z.array(keyEntrySchema).min(1, { error: 'must list at least one key' });
/** `models:`: models the bootstrap registers on the proxy (a local runtime, an alias of a self-hosted backend, ...). */
const modelList = z.array(modelEntrySchema);
const keysFileSchema = z.union([z.strictObject({ keys: keyList, models: modelList.optional() }), keyList]);

type KeysFileSettings = Pick<Settings, 'envFilePath' | 'defaultModels' | 'defaultUser'> & Partial<Pick<Settings, 'defaultKeyType' | 'defaultRenewBefore'>> & { keySecret?: string | undefined };

export async function parseKeysFile(text: string, keysFile: string, settings: KeysFileSettings): Promise<KeySpec[]> {
  return (await parseBootstrapConfig(text, keysFile, settings)).keys;
}

/** The keys file's keys and models. */
export async function parseBootstrapConfig(text: string, keysFile: string, settings: KeysFileSettings): Promise<{ keys: KeySpec[]; models: ModelSpec[] }> {
  const { parseDocument, LineCounter, isNode, isAlias, visit } = await import('yaml');
  const firstUnresolvedAlias = (d: ReturnType<typeof parseDocument>): number | undefined => {
    const anchors = new Set<string>();
    let found: number | undefined;
    visit(d, (_key, node) => {
      if (isNode(node) && node.anchor) anchors.add(node.anchor);
      if (isAlias(node) && !anchors.has(node.source) && found === undefined) {
        found = node.range?.[0];
        return visit.BREAK;
      }
      return undefined;
    });
    return found;
  };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const lineAt = (offset: number | undefined) => (offset === undefined ? 1 : lineCounter.linePos(offset).line);
  // Where and what kind of error only: yaml's messages quote the source, and the source may be a secret.
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return `line ${line}, column ${col}`;
  };
  const kind = (code: string) => code.toLowerCase().replace(/_/g, ' ');
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => `${at(e.pos[0])}: ${kind(e.code)}`);
    throw new ConfigError(`${keysFile} is not valid YAML: ${problems.join('; ')}`);
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch {
    // An alias whose anchor is not set (`api_key: *sk-...`): yaml's message holds the alias name.
    const alias = firstUnresolvedAlias(doc);
    throw new ConfigError(`${keysFile} is not valid YAML: ${alias === undefined ? 'it cannot be converted to data' : `${at(alias)}: an alias (*name) whose anchor (&name) is not set before it`}`, {
      hint: 'a value starting with * is an alias in YAML: quote it, or better, put no secret in this file (os.environ/NAME)',
    });
  }
  const parsed = keysFileSchema.safeParse(data, { reportInput: false });
  const lineOfPath = (p: PropertyKey[]): number => {
    // The deepest node that exists on the issue's path.
    for (let n = p.length; n >= 0; n--) {
      const node = doc.getIn(p.slice(0, n) as (string | number)[], true);
      if (isNode(node) && node.range) return lineAt(node.range[0]);
    }
    return 1;
  };
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      let issuePath = issue.path;
      // Union errors: report against the array form if the document is a list, else the object form.
      if (issue.code === 'invalid_union' && issue.errors.length > 0) {
        const branch = Array.isArray(data) ? issue.errors[1] : issue.errors[0];
        const first = branch?.[0];
        if (first) return `line ${lineOfPath([...issuePath, ...first.path])}: ${[...issuePath, ...first.path].join('.') || 'file'} ${first.message}`;
      }
      return `line ${lineOfPath(issuePath)}: ${issuePath.join('.') || 'file'} ${issue.message}`;
    });
    throw new ConfigError(`invalid keys file ${keysFile}: ${problems.join('; ')}`);
  }
  const entries = Array.isArray(parsed.data) ? parsed.data : parsed.data.keys;
  const prefix = Array.isArray(parsed.data) ? [] : ['keys'];
  const envDir = dirname(settings.envFilePath);
  const specs: KeySpec[] = [];
  const problems: string[] = [];
  const seenAlias = new Map<string, number>();
  const seenTarget = new Map<string, number>();
  entries.forEach((entry, i) => {
    const line = lineOfPath([...prefix, i]);
    const models = Array.isArray(entry.models) ? [...new Set(entry.models)] : parseModelList(entry.models) ?? settings.defaultModels;
    if (models === undefined || models.length === 0) {
      problems.push(`line ${line}: key ${JSON.stringify(entry.alias)} has no models (set models, or LITELLM_DEFAULT_MODELS)`);
      return;
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
      tpmLimit: entry.tpm_limit,
      rpmLimit: entry.rpm_limit,
      maxParallelRequests: entry.max_parallel_requests,
      renewBefore,
      rotationInterval: entry.rotation_interval,
      metadata: entry.metadata ?? {},
      source: `${keysFile} line ${line}`,
      aliasSource: `the alias at ${keysFile} line ${lineOfPath([...prefix, i, 'alias'])}`,
    });
  });
  const models: ModelSpec[] = [];
  const seenModel = new Map<string, number>();
  (Array.isArray(parsed.data) ? [] : (parsed.data.models ?? [])).forEach((entry, i) => {
    const line = lineOfPath(['models', i]);
    const seen = seenModel.get(entry.model_name);
    if (seen !== undefined) problems.push(`line ${line}: model_name ${JSON.stringify(entry.model_name)} is already declared at line ${seen}`);
    seenModel.set(entry.model_name, line);
    models.push({ name: entry.model_name, params: entry.litellm_params, source: `declared at ${keysFile} line ${line}`, origin: 'declared' });
  });
  if (problems.length > 0) throw new ConfigError(`invalid keys file ${keysFile}: ${problems.join('; ')}`);
  return { keys: specs, models };
}
