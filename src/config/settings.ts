/**
 * Settings: one zod schema, read from CLI flags, then the process environment,
 * then the `.env` file. The same schema (its `.meta()`) generates --help,
 * docs/configuration.md and the README's table (`npm run docs`).
 */
import { dirname, resolve } from 'node:path';
import * as z from 'zod';
import { ConfigError } from '../errors.ts';
import { aliasProblem } from './alias-rules.ts';
import { durationSchema, renewWindowProblem } from './duration.ts';

declare module 'zod' {
  interface GlobalMeta {
    /** The command-line flag that sets it. */
    flag?: string;
    /** Never shown, never logged. */
    secret?: boolean;
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** The one command that makes a good master or salt key (`sk-` + 48 hex characters), as the template says. */
export const MAKE_SECRET_COMMAND = 'echo "sk-$(openssl rand -hex 24)"';
/** A DNS-1123 subdomain, as Kubernetes object names must be. */
export const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const LOG_FORMATS = ['json', 'pretty'] as const;
/** LiteLLM's key types (`LiteLLMKeyType`, proxy/_types.py): the routes a key may call. */
export const KEY_TYPES = ['default', 'llm_api', 'management', 'read_only'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** A path, as given (spaces are legal in file names). */
const path = (def: string) => z.string().default(def);
/** Trimmed text; an empty value never reaches the schema (see resolveSettings). */
const text = () => z.string().trim();
const seconds = (def: number, min: { above: number } | { atLeast: number }) =>
  z
    .string()
    .transform((v) => Number(v))
    .pipe(
      z
        .number({ error: 'must be a number of seconds' })
        .refine(Number.isFinite, { error: 'must be a number of seconds' })
        .refine((n) => ('above' in min ? n > min.above : n >= min.atLeast), { error: 'above' in min ? `must be more than ${min.above}` : `must be ${min.atLeast} or more` }),
    )
    .default(def);
const isHttpUrl = (v: string) => {
  try {
    const url = new URL(v);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
};

export const settingsSchema = z.object({
  PROXY_BASE_URL: text()
    .refine(isHttpUrl, { error: 'must be an http(s) URL such as http://llm-proxy:4000' })
    .default('http://llm-proxy:4000')
    .meta({ description: 'Base URL of the LiteLLM proxy.', flag: '--proxy-url' }),
  ENV_FILE_PATH: path('/bootstrap/env/.env').meta({
    description: 'The `.env` file the agent reads; the key is written here. Settings missing from the process environment are read from it too.',
    flag: '--env-path',
  }),
  LITELLM_ENV_FILE_PATH: path('/bootstrap/env/.env.litellm').meta({
    description: "The proxy's own env file, generated (mode 0600) from `.env`: every `LITELLM_<PROVIDER>_API_KEY`, `_API_BASE` and `_API_VERSION` as `<PROVIDER>_API_KEY`, `_API_BASE`, `_API_VERSION`; every `LITELLM_PROXY_ENV_<NAME>` as `<NAME>` (not the agent's key variables, `DATABASE_URL` or a name written from another source: exit 2); plus `LITELLM_MASTER_KEY`, `LITELLM_SALT_KEY` and `OTEL_*` (docs/configuration.md: \"The proxy's env file\").",
    flag: '--litellm-env-file',
  }),
  AGENT_ENV_FILE_PATH: text()
    .optional()
    .meta({
      description:
        "A file written (mode 0600) with only the agent's key variable(s) from `.env` (e.g. `OPENAI_API_KEY`), for an agent that must not read `.env` and its master and provider keys. The compose stack mounts it into the example agent. Unset: not written.",
      flag: '--agent-env-file',
    }),
  LITELLM_MASTER_KEY: z
    .string({ error: `is required (empty or not set): the proxy's master key; set it in .env or the environment to the output of ${MAKE_SECRET_COMMAND}` })
    .trim()
    .meta({ description: "The proxy's master key (admin credential). Never logged.", secret: true }),
  LITELLM_DEFAULT_MODELS: text()
    .optional()
    .meta({ description: 'Comma-separated models the default key may use. Takes precedence over `LITELLM_MODEL`. One of the two is required.' }),
  LITELLM_MODEL: text()
    .optional()
    .meta({ description: 'Single model for the default key, used when `LITELLM_DEFAULT_MODELS` is unset; prefixed with `LITELLM_PROVIDER/` when it has no `/`.' }),
  LITELLM_PROVIDER: text().optional().meta({ description: 'Provider prefix for `LITELLM_MODEL` (e.g. `openai`).' }),
  LITELLM_DEFAULT_KEY_ALIAS: text()
    .superRefine((alias, ctx) => {
      const problem = aliasProblem(alias);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default('task-agent default')
    .meta({
      description:
        "Alias of the agent's virtual key (unique on the proxy). Every current LiteLLM refuses `..`, control characters and `-` alone (checked before any request, exit 2). A proxy that checks alias formats wants letters, digits and `_-/.` only, e.g. `task-agent-default`: a refused alias is exit 2.",
    }),
  LITELLM_DEFAULT_KEY_USER: text().default('task-agent').meta({ description: '`user_id` the default key is issued to.' }),
  LITELLM_DEFAULT_KEY_ENV_NAME: text()
    .regex(ENV_NAME, { error: 'must be a variable name like OPENAI_API_KEY' })
    .default('OPENAI_API_KEY')
    .meta({ description: 'The variable in `.env` that receives the key.' }),
  LITELLM_PLACEHOLDER_KEY: text().default('sk-proxy-default').meta({ description: 'Value that means "no key yet" (an empty value does too).' }),
  LITELLM_DEFAULT_KEY_DURATION: durationSchema('key lifetime')
    .optional()
    .meta({ description: 'Lifetime of a newly issued key (`30d`, `12h`, `4w`, `1mo`, ...). Unset: never expires. LiteLLM 1.77 rounds a new key\'s expiry like a budget reset (`3h` at 16:17: 18:00); the bootstrap then sets the exact lifetime. Months other than `1mo`: newer LiteLLM only (docs/compatibility.md).' }),
  LITELLM_DEFAULT_KEY_BUDGET: text()
    .transform((v) => Number(v))
    .pipe(z.number({ error: 'must be a non-negative number (USD)' }).refine((n) => Number.isFinite(n) && n >= 0, { error: 'must be a non-negative number (USD)' }))
    .optional()
    .meta({ description: 'Maximum spend of the key in USD. Unset: no budget.' }),
  LITELLM_DEFAULT_KEY_BUDGET_DURATION: durationSchema('budget reset')
    .optional()
    .meta({
      description:
        'Budget reset period (`1d`, `7d`, `30d`, `1mo`, ...; months only as `1mo`). LiteLLM resets on calendar boundaries (UTC unless its `timezone` is set): `1d` at midnight, `7d`/`1w` on Monday, `30d`/`1mo` on the 1st. Unset with a budget: the budget is a lifetime cap.',
    }),
  LITELLM_DEFAULT_KEY_TYPE: text()
    .pipe(z.enum(KEY_TYPES, { error: `must be one of ${KEY_TYPES.join(', ')}` }))
    .default('llm_api')
    .meta({
      description:
        "LiteLLM's `key_type` of the agent's key: `llm_api` may call the LLM API only (a leaked key cannot manage keys), `default` every route a default key may, `management` or `read_only`. The proxy stores it as `allowed_routes`, which is drift-checked.",
    }),
  LITELLM_DEFAULT_KEY_RENEW_BEFORE: durationSchema('key lifetime')
    .optional()
    .meta({
      description:
        'Renew a key of ours whose expiry (as the proxy reports it) is this close (`7d`, `12h`, ...): a new key is issued and written, the old one keeps working for `LITELLM_KEY_GRACE_PERIOD`. `--check` exits 5 for a key inside the window. Unset: keys are replaced only once expired.',
    }),
  LITELLM_KEY_GRACE_PERIOD: durationSchema('key lifetime')
    .default('1h')
    .meta({
      description:
        'How long the key a renewal replaced keeps working after its successor is written, so running consumers can switch; a later run deletes it. `--rotate` revokes the old key at once (a leaked key) unless `--grace` is given on its command line.',
      flag: '--grace',
    }),
  LITELLM_PROXY_WAIT_SECONDS: seconds(120, { atLeast: 0 }).meta({
    description: 'How long to wait for the proxy to be live with its database ready, and to retry transient failures.',
    flag: '--wait-seconds',
  }),
  LITELLM_REQUEST_TIMEOUT_SECONDS: seconds(10, { above: 0 }).meta({
    description: 'Timeout of each HTTP request to the proxy; a hung proxy cannot hang the bootstrap.',
  }),
  LITELLM_MAX_CONCURRENCY: text()
    .transform((v) => Number(v))
    .pipe(z.number().refine((n) => Number.isInteger(n) && n >= 1 && n <= 64, { error: 'must be a whole number from 1 to 64' }))
    .default(8)
    .meta({
      description:
        'Most requests to the proxy in flight at once while issuing, updating, deleting or reading many keys (`1` = one at a time). Each request still has its retries and the run its deadline.',
    }),
  LITELLM_KEY_SECRET: text()
    .max(253, { error: 'must be a Secret name (lowercase letters, digits, - and ., e.g. agent-litellm-key)' })
    .regex(SECRET_NAME, { error: 'must be a Secret name (lowercase letters, digits, - and ., e.g. agent-litellm-key)' })
    .optional()
    .meta({
      description:
        "Kubernetes: write the key into this Secret (`data.<LITELLM_DEFAULT_KEY_ENV_NAME>`) in the pod's namespace instead of `.env`; no `.env` is read and no provider secrets are mirrored (docs/kubernetes.md).",
      flag: '--key-secret',
    }),
  LITELLM_BOOTSTRAP_CONFIG: text()
    .optional()
    .meta({
      description: 'Optional YAML file declaring several keys and the models to register on the proxy (see below); a relative path is relative to the directory of `ENV_FILE_PATH`. Unset: the single default key above, no declared models.',
      flag: '--config',
    }),
  LOG_LEVEL: text().pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })).default('info').meta({ description: 'Log level.' }),
  LOG_FORMAT: text()
    .pipe(z.enum(LOG_FORMATS, { error: `must be one of ${LOG_FORMATS.join(', ')}` }))
    .optional()
    .meta({ description: '`json` or `pretty`. Default: pretty on a terminal, else json.' }),
});

type Parsed = z.output<typeof settingsSchema>;
export type SettingName = keyof Parsed;
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as SettingName[];

export interface SettingMeta {
  description: string;
  flag?: string;
  secret?: boolean;
  required?: boolean;
  /** As the docs show it. */
  default?: string;
}

/** What --help and the docs show of a setting: read from the schema. */
export function settingMeta(name: SettingName): SettingMeta {
  const field = settingsSchema.shape[name];
  const meta = field.meta() ?? {};
  const def = field instanceof z.ZodDefault ? String(field.def.defaultValue) : undefined;
  return {
    description: meta.description ?? '',
    ...(meta.flag ? { flag: meta.flag } : {}),
    ...(meta.secret ? { secret: true } : {}),
    ...(!(field instanceof z.ZodDefault) && !(field instanceof z.ZodOptional) ? { required: true } : {}),
    ...(def !== undefined ? { default: def } : {}),
  };
}

/** Flags that set a setting, e.g. `--env-path=/x` or `--env-path /x`. */
export const SETTING_FLAGS: Record<string, SettingName> = Object.fromEntries(
  SETTING_NAMES.flatMap((name) => {
    const flag = settingMeta(name).flag;
    return flag ? [[flag, name]] : [];
  }),
);

/**
 * The flag's old spelling. Node claims `--env-file` anywhere on its command line
 * (nodejs/node#54232): `node cli.cjs --env-file /missing` exits 9 before this code
 * runs. It still works where it reaches us: when the file exists, and always in
 * the image, whose entrypoint ends Node's options with `--`.
 */
const OLD_FLAGS: Record<string, SettingName> = { '--env-file': 'ENV_FILE_PATH' };

export type Mode = 'apply' | 'dry-run' | 'check';

export interface CliArgs {
  help: boolean;
  version: boolean;
  mode: Mode;
  /** `--mirror-only`: create `.env` if missing and write the proxy's env file; never contacts the proxy. */
  mirrorOnly: boolean;
  /** `true`: rotate every declared key; a string: rotate the key with that alias. */
  rotate: boolean | string;
  /** `--grace` was given on the command line: a rotation keeps the old key for the grace period. */
  rotateGrace: boolean;
  /** `--take-over-alias`: a declared alias held by a key this installation did not issue is taken over (that key deleted). */
  takeOverAlias: boolean;
  settings: Partial<Record<SettingName, string>>;
}

export function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { help: false, version: false, mode: 'apply', mirrorOnly: false, rotate: false, rotateGrace: false, takeOverAlias: false, settings: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const inline = eq === -1 ? undefined : arg.slice(eq + 1);
    switch (name) {
      case '-h':
      case '--help':
        args.help = true;
        continue;
      case '-v':
      case '--version':
        args.version = true;
        continue;
      case '--dry-run':
      case '--check': {
        const mode = name === '--dry-run' ? 'dry-run' : 'check';
        if (args.mode !== 'apply' && args.mode !== mode) throw new ConfigError('--dry-run and --check cannot be combined');
        args.mode = mode;
        continue;
      }
      case '--mirror-only':
        args.mirrorOnly = true;
        continue;
      case '--take-over-alias':
        args.takeOverAlias = true;
        continue;
      case '--rotate':
        if (inline !== undefined && inline.trim() === '') throw new ConfigError('--rotate= needs a key alias, or use --rotate alone to rotate every key');
        args.rotate = inline === undefined ? true : inline.trim();
        continue;
    }
    const setting = SETTING_FLAGS[name] ?? OLD_FLAGS[name];
    if (setting === undefined) throw new ConfigError(`unknown argument ${JSON.stringify(name)}; see --help`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`${name} needs a value`);
    args.settings[setting] = value;
    if (setting === 'LITELLM_KEY_GRACE_PERIOD') args.rotateGrace = true;
  }
  if (args.rotate !== false && args.mode === 'check') throw new ConfigError('--rotate and --check cannot be combined');
  if (args.takeOverAlias && args.mirrorOnly) throw new ConfigError('--take-over-alias and --mirror-only cannot be combined (--mirror-only never contacts the proxy)');
  if (args.rotate !== false && args.mirrorOnly) throw new ConfigError('--rotate and --mirror-only cannot be combined (--mirror-only never contacts the proxy)');
  return args;
}

export interface Settings {
  proxyBaseUrl: string;
  envFilePath: string;
  litellmEnvFilePath: string;
  /** AGENT_ENV_FILE_PATH, resolved; undefined: not written. */
  agentEnvFilePath: string | undefined;
  masterKey: string;
  /** Where LITELLM_MASTER_KEY came from, for messages: `/path/.env line 3`, `the process environment`. */
  masterKeySource: string;
  placeholderKey: string;
  waitSeconds: number;
  requestTimeoutMs: number;
  /** Most requests in flight at once (LITELLM_MAX_CONCURRENCY). */
  maxConcurrency: number;
  keysFile: string | undefined;
  /** Secret mode (Kubernetes): the Secret the default key (and keys without `file:`/`secret:`) are written to. */
  keySecret: string | undefined;
  logLevel: Parsed['LOG_LEVEL'];
  logFormat: 'json' | 'pretty';
  /** The default key, from the LITELLM_DEFAULT_* settings (used when no keys file is given). */
  defaultKey: DefaultKey | undefined;
  /** Why there is no default key (no models configured), to report if one is needed. */
  defaultKeyProblem: string | undefined;
  defaultModels: string[] | undefined;
  defaultUser: string;
  defaultKeyType: KeyType;
  defaultRenewBefore: string | undefined;
  /** LITELLM_KEY_GRACE_PERIOD: how long a replaced key keeps working (renewals; `--rotate --grace`). */
  gracePeriod: string;
  /** LITELLM_DEFAULT_KEY_ENV_NAME, also when there is no default key (no models): the mirror never passes it through. */
  defaultKeyEnvName: string;
}

/**
 * The key the LITELLM_DEFAULT_* settings declare, as settings see it. The keys kind takes it as one
 * of its specs (resources/keys/spec.ts KeySpec: the compiler checks the shapes agree where
 * resources/desired.ts uses it); settings, at the bottom, do not import the kind.
 */
export interface DefaultKey {
  alias: string;
  env: string;
  file: string;
  secret: string | undefined;
  models: string[];
  userId: string | undefined;
  duration: string | undefined;
  maxBudget: number | undefined;
  budgetDuration: string | undefined;
  keyType: KeyType;
  teamId: undefined;
  tpmLimit: undefined;
  rpmLimit: undefined;
  maxParallelRequests: undefined;
  renewBefore: string | undefined;
  rotationInterval: undefined;
  metadata: Record<string, unknown>;
  source: string;
  aliasSource: string;
}

type Source = { kind: 'flag' } | { kind: 'env' } | { kind: 'file'; path: string; line: number | undefined };

export interface SettingsInput {
  flags: Partial<Record<SettingName, string>>;
  env: NodeJS.ProcessEnv;
  /** Values of the .env file (dotenv semantics) and the line each was read from. */
  file: { path: string; values: Record<string, string>; lineOf: (name: string) => number | undefined } | undefined;
  isTTY: boolean;
  cwd: string;
}

function describeSource(name: string, source: Source | undefined): string {
  if (source === undefined || source.kind === 'env') return name;
  if (source.kind === 'flag') return `${name} (from its command-line flag)`;
  return `${name} (${source.path}${source.line ? ` line ${source.line}` : ''})`;
}

/** Where a value came from, as a message says it: `/path/.env line 3`, `the process environment`, `the command line`. */
function sourceLabel(source: Source | undefined): string {
  if (source === undefined || source.kind === 'env') return 'the process environment';
  if (source.kind === 'flag') return 'the command line';
  return `${source.path}${source.line ? ` line ${source.line}` : ''}`;
}

/** Resolves every setting; throws one ConfigError listing every problem, never a value. */
export function resolveSettings(input: SettingsInput): Settings {
  const raw: Record<string, string | undefined> = {};
  const sources: Record<string, Source> = {};
  for (const name of SETTING_NAMES) {
    const candidates: [string | undefined, Source][] = [
      [input.flags[name], { kind: 'flag' }],
      [input.env[name], { kind: 'env' }],
      [input.file?.values[name], { kind: 'file', path: input.file?.path ?? '', line: input.file?.lineOf(name) }],
    ];
    for (const [value, source] of candidates) {
      if (value !== undefined && value.trim() !== '') {
        raw[name] = value;
        sources[name] = source;
        break;
      }
    }
    // An empty assignment in the file counts as unset, but the message about a required setting names its line.
    const fileValue = input.file?.values[name];
    if (sources[name] === undefined && fileValue !== undefined && input.flags[name] === undefined && input.env[name] === undefined && settingMeta(name).required) {
      sources[name] = { kind: 'file', path: input.file!.path, line: input.file!.lineOf(name) };
    }
  }
  const result = settingsSchema.safeParse(raw, { reportInput: false });
  if (!result.success) {
    const problems = new Map<string, string>();
    for (const issue of result.error.issues) {
      const name = String(issue.path[0]);
      // A value is never shown: the message names the setting, where it came from, and what is expected.
      if (!problems.has(name)) problems.set(name, `${describeSource(name, sources[name])} ${issue.message}`);
    }
    throw new ConfigError(`invalid settings: ${[...problems.values()].join('; ')}`, {
      hint: 'fix the settings named above (see docs/configuration.md)',
    });
  }
  const s = result.data;
  const window = renewWindowProblem(s.LITELLM_DEFAULT_KEY_RENEW_BEFORE, s.LITELLM_DEFAULT_KEY_DURATION);
  if (window) {
    throw new ConfigError(`invalid settings: ${describeSource('LITELLM_DEFAULT_KEY_RENEW_BEFORE', sources.LITELLM_DEFAULT_KEY_RENEW_BEFORE)} ${window} (LITELLM_DEFAULT_KEY_DURATION)`, {
      hint: 'make LITELLM_DEFAULT_KEY_RENEW_BEFORE shorter than LITELLM_DEFAULT_KEY_DURATION (e.g. 7d for 30d)',
    });
  }
  const envFilePath = resolve(input.cwd, s.ENV_FILE_PATH);
  const defaultModels = parseModelList(s.LITELLM_DEFAULT_MODELS) ?? modelFromSingle(s.LITELLM_MODEL, s.LITELLM_PROVIDER);
  const defaultKey: DefaultKey | undefined = defaultModels && {
    alias: s.LITELLM_DEFAULT_KEY_ALIAS,
    env: s.LITELLM_DEFAULT_KEY_ENV_NAME,
    file: envFilePath,
    secret: s.LITELLM_KEY_SECRET,
    models: defaultModels,
    userId: s.LITELLM_DEFAULT_KEY_USER,
    duration: s.LITELLM_DEFAULT_KEY_DURATION,
    maxBudget: s.LITELLM_DEFAULT_KEY_BUDGET,
    budgetDuration: s.LITELLM_DEFAULT_KEY_BUDGET_DURATION,
    keyType: s.LITELLM_DEFAULT_KEY_TYPE,
    teamId: undefined,
    tpmLimit: undefined,
    rpmLimit: undefined,
    maxParallelRequests: undefined,
    renewBefore: s.LITELLM_DEFAULT_KEY_RENEW_BEFORE,
    rotationInterval: undefined,
    metadata: {},
    source: 'the LITELLM_DEFAULT_* settings',
    aliasSource: describeSource('LITELLM_DEFAULT_KEY_ALIAS', sources.LITELLM_DEFAULT_KEY_ALIAS),
  };
  return {
    proxyBaseUrl: s.PROXY_BASE_URL.replace(/\/+$/, ''),
    envFilePath,
    litellmEnvFilePath: resolve(input.cwd, s.LITELLM_ENV_FILE_PATH),
    agentEnvFilePath: s.AGENT_ENV_FILE_PATH === undefined ? undefined : resolve(input.cwd, s.AGENT_ENV_FILE_PATH),
    masterKey: s.LITELLM_MASTER_KEY,
    masterKeySource: sourceLabel(sources.LITELLM_MASTER_KEY),
    placeholderKey: s.LITELLM_PLACEHOLDER_KEY,
    waitSeconds: s.LITELLM_PROXY_WAIT_SECONDS,
    requestTimeoutMs: Math.round(s.LITELLM_REQUEST_TIMEOUT_SECONDS * 1000),
    maxConcurrency: s.LITELLM_MAX_CONCURRENCY,
    // Relative to the .env's directory: the keys file lives beside it (in the container and on the host alike).
    keysFile: s.LITELLM_BOOTSTRAP_CONFIG === undefined ? undefined : resolve(dirname(envFilePath), s.LITELLM_BOOTSTRAP_CONFIG),
    keySecret: s.LITELLM_KEY_SECRET,
    logLevel: s.LOG_LEVEL,
    logFormat: s.LOG_FORMAT ?? (input.isTTY ? 'pretty' : 'json'),
    defaultKey,
    defaultKeyProblem: defaultModels ? undefined : 'LITELLM_DEFAULT_MODELS or LITELLM_MODEL is required: the models the key may use',
    defaultModels,
    defaultUser: s.LITELLM_DEFAULT_KEY_USER,
    defaultKeyType: s.LITELLM_DEFAULT_KEY_TYPE,
    defaultRenewBefore: s.LITELLM_DEFAULT_KEY_RENEW_BEFORE,
    gracePeriod: s.LITELLM_KEY_GRACE_PERIOD,
    defaultKeyEnvName: s.LITELLM_DEFAULT_KEY_ENV_NAME,
  };
}

/** `a, b,,a` → `['a', 'b']`; undefined when nothing is listed. */
export function parseModelList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const models = [...new Set(value.split(',').map((m) => m.trim()).filter(Boolean))];
  return models.length > 0 ? models : undefined;
}

function modelFromSingle(model: string | undefined, provider: string | undefined): string[] | undefined {
  if (!model) return undefined;
  return [model.includes('/') || !provider ? model : `${provider}/${model}`];
}
