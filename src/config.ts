/**
 * Settings: one zod schema, read from CLI flags, then the process environment,
 * then the `.env` file. The same schema generates docs/configuration.md.
 */
import path from 'node:path';
import * as z from 'zod/mini';
import { ConfigError } from './errors.ts';
import type { KeySpec } from './keys.ts';

const DURATION = /^\d+(s|m|h|d|mo)$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Empty strings mean "unset": compose passes `VAR=` through as an empty value (see resolveSettings). */
const optionalString = () => z.optional(z.string().check(z.trim()));

interface SettingMeta {
  description: string;
  flag?: string;
  secret?: boolean;
  required?: boolean;
}
/** Documentation travels with the schema: docs/configuration.md and --help are generated from it. */
function doc<T extends z.ZodMiniType>(schema: T, meta: SettingMeta): T {
  z.globalRegistry.add(schema, { ...meta });
  return schema;
}
const duration = (error: string) => optionalString().check(z.refine((v) => v === undefined || DURATION.test(v), { error }));
const seconds = (def: number, check: z.core.$ZodCheck<number>) =>
  z._default(z.coerce.number({ error: 'must be a number of seconds' }).check(check), def);

export const settingsSchema = z.object({
  PROXY_BASE_URL: doc(z._default(z.url({ protocol: /^https?$/, error: 'must be an http(s) URL such as http://llm-proxy:4000' }), 'http://llm-proxy:4000'), {
    description: 'Base URL of the LiteLLM proxy.',
    flag: '--proxy-url',
  }),
  ENV_FILE_PATH: doc(z._default(z.string().check(z.minLength(1)), '/bootstrap/env/.env'), {
    description: 'The `.env` file the agent reads; the key is written here. Settings missing from the process environment are read from it too.',
    flag: '--env-file',
  }),
  LITELLM_ENV_FILE_PATH: doc(z._default(z.string().check(z.minLength(1)), '/bootstrap/env/.env.litellm'), {
    description: "The proxy's own env file, generated (mode 0600) with every `LITELLM_<PROVIDER>_API_KEY` of `.env` as `<PROVIDER>_API_KEY`.",
    flag: '--litellm-env-file',
  }),
  LITELLM_MASTER_KEY: doc(
    z.string({ error: "is required: the proxy's master key (set it in .env or the environment)" }).check(
      z.trim(),
      z.minLength(1, { error: "is required: the proxy's master key (set it in .env or the environment)" }),
    ),
    { description: "The proxy's master key (admin credential). Never logged.", secret: true, required: true },
  ),
  LITELLM_DEFAULT_MODELS: doc(optionalString(), {
    description: 'Comma-separated models the default key may use. Takes precedence over `LITELLM_MODEL`. One of the two is required.',
  }),
  LITELLM_MODEL: doc(optionalString(), {
    description: 'Single model for the default key, used when `LITELLM_DEFAULT_MODELS` is unset; prefixed with `LITELLM_PROVIDER/` when it has no `/`.',
  }),
  LITELLM_PROVIDER: doc(optionalString(), { description: 'Provider prefix for `LITELLM_MODEL` (e.g. `openai`).' }),
  LITELLM_DEFAULT_KEY_ALIAS: doc(z._default(z.string().check(z.trim(), z.minLength(1)), 'task-agent default'), {
    description: "Alias of the agent's virtual key (unique on the proxy).",
  }),
  LITELLM_DEFAULT_KEY_USER: doc(z._default(z.string().check(z.trim(), z.minLength(1)), 'task-agent'), {
    description: '`user_id` the default key is issued to.',
  }),
  LITELLM_DEFAULT_KEY_ENV_NAME: doc(z._default(z.string().check(z.trim(), z.regex(ENV_NAME, { error: 'must be a variable name like OPENAI_API_KEY' })), 'OPENAI_API_KEY'), {
    description: 'The variable in `.env` that receives the key.',
  }),
  LITELLM_PLACEHOLDER_KEY: doc(z._default(z.string().check(z.trim()), 'sk-proxy-default'), {
    description: 'Value that means "no key yet" (an empty value does too).',
  }),
  LITELLM_DEFAULT_KEY_DURATION: doc(duration('must look like 30s, 30m, 30h, 30d'), {
    description: 'Lifetime of a newly issued key (`30d`, ...). Unset: never expires.',
  }),
  LITELLM_DEFAULT_KEY_BUDGET: doc(
    optionalString().check(z.refine((v) => v === undefined || (Number.isFinite(Number(v)) && Number(v) >= 0), { error: 'must be a non-negative number (USD)' })),
    { description: 'Maximum spend of the key in USD. Unset: no budget.' },
  ),
  LITELLM_DEFAULT_KEY_BUDGET_DURATION: doc(duration('must look like 30s, 30m, 30h, 30d or 1mo'), {
    description: 'Budget reset period (`30d`, `1mo`). Unset with a budget: the budget is a lifetime cap.',
  }),
  LITELLM_PROXY_WAIT_SECONDS: doc(seconds(120, z.gte(0, { error: 'must be 0 or more' })), {
    description: 'How long to wait for the proxy to be live with its database ready, and to retry transient failures.',
    flag: '--wait-seconds',
  }),
  LITELLM_REQUEST_TIMEOUT_SECONDS: doc(seconds(10, z.gt(0, { error: 'must be more than 0' })), {
    description: 'Timeout of each HTTP request to the proxy; a hung proxy cannot hang the bootstrap.',
  }),
  LITELLM_BOOTSTRAP_CONFIG: doc(optionalString(), {
    description: 'Optional YAML file declaring several keys (see below); a relative path is relative to the directory of `ENV_FILE_PATH`. Unset: the single default key above.',
    flag: '--config',
  }),
  LOG_LEVEL: doc(z._default(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info'), { description: 'Log level.' }),
  LOG_FORMAT: doc(z.optional(z.enum(['json', 'pretty'])), { description: '`json` or `pretty`. Default: pretty on a terminal, else json.' }),
});

export function settingMeta(name: SettingName): SettingMeta {
  return (z.globalRegistry.get(settingsSchema.shape[name]) ?? { description: '' }) as SettingMeta;
}

export type SettingName = keyof typeof settingsSchema.shape;
export const SETTING_NAMES = Object.keys(settingsSchema.shape) as SettingName[];

/** Flags that set a setting, e.g. `--env-file=/x` or `--env-file /x`. */
export const SETTING_FLAGS: Record<string, SettingName> = Object.fromEntries(
  SETTING_NAMES.flatMap((name) => {
    const flag = settingMeta(name).flag;
    return flag ? [[flag, name]] : [];
  }),
);

export type Mode = 'apply' | 'dry-run' | 'check';

export interface CliArgs {
  help: boolean;
  version: boolean;
  mode: Mode;
  /** `true`: rotate every declared key; a string: rotate the key with that alias. */
  rotate: boolean | string;
  settings: Partial<Record<SettingName, string>>;
}

export function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { help: false, version: false, mode: 'apply', rotate: false, settings: {} };
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
      case '--rotate':
        if (inline !== undefined && inline.trim() === '') throw new ConfigError('--rotate= needs a key alias, or use --rotate alone to rotate every key');
        args.rotate = inline === undefined ? true : inline.trim();
        continue;
    }
    const setting = SETTING_FLAGS[name];
    if (setting === undefined) throw new ConfigError(`unknown argument ${JSON.stringify(name)}; see --help`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new ConfigError(`${name} needs a value`);
    args.settings[setting] = value;
  }
  if (args.rotate !== false && args.mode === 'check') throw new ConfigError('--rotate and --check cannot be combined');
  return args;
}

export interface Settings {
  proxyBaseUrl: string;
  envFilePath: string;
  litellmEnvFilePath: string;
  masterKey: string;
  placeholderKey: string;
  waitSeconds: number;
  requestTimeoutMs: number;
  keysFile: string | undefined;
  logLevel: z.infer<typeof settingsSchema>['LOG_LEVEL'];
  logFormat: 'json' | 'pretty';
  /** The default key, from the LITELLM_DEFAULT_* settings (used when no keys file is given). */
  defaultKey: KeySpec | undefined;
  /** Why there is no default key (no models configured), to report if one is needed. */
  defaultKeyProblem: string | undefined;
  defaultModels: string[] | undefined;
  defaultUser: string;
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
  }
  const parsed = settingsSchema.safeParse(raw, { reportInput: false });

  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'settings');
      return `${describeSource(name, sources[name])} ${issue.message.replace(/^Invalid input: /, '')}`;
    });
    throw new ConfigError(`invalid settings: ${problems.join('; ')}`, {
      hint: 'fix the settings named above (see docs/configuration.md)',
    });
  }
  const s = parsed.data;
  const envFilePath = path.resolve(input.cwd, s.ENV_FILE_PATH);
  const defaultModels = parseModelList(s.LITELLM_DEFAULT_MODELS) ?? modelFromSingle(s.LITELLM_MODEL, s.LITELLM_PROVIDER);
  const defaultKey: KeySpec | undefined = defaultModels && {
    alias: s.LITELLM_DEFAULT_KEY_ALIAS,
    env: s.LITELLM_DEFAULT_KEY_ENV_NAME,
    file: envFilePath,
    models: defaultModels,
    userId: s.LITELLM_DEFAULT_KEY_USER,
    duration: s.LITELLM_DEFAULT_KEY_DURATION,
    maxBudget: s.LITELLM_DEFAULT_KEY_BUDGET === undefined ? undefined : Number(s.LITELLM_DEFAULT_KEY_BUDGET),
    budgetDuration: s.LITELLM_DEFAULT_KEY_BUDGET_DURATION,
    metadata: {},
    source: 'the LITELLM_DEFAULT_* settings',
  };
  return {
    proxyBaseUrl: s.PROXY_BASE_URL.replace(/\/+$/, ''),
    envFilePath,
    litellmEnvFilePath: path.resolve(input.cwd, s.LITELLM_ENV_FILE_PATH),
    masterKey: s.LITELLM_MASTER_KEY,
    placeholderKey: s.LITELLM_PLACEHOLDER_KEY,
    waitSeconds: s.LITELLM_PROXY_WAIT_SECONDS,
    requestTimeoutMs: Math.round(s.LITELLM_REQUEST_TIMEOUT_SECONDS * 1000),
    // Relative to the .env's directory: the keys file lives beside it (in the container and on the host alike).
    keysFile: s.LITELLM_BOOTSTRAP_CONFIG === undefined ? undefined : path.resolve(path.dirname(envFilePath), s.LITELLM_BOOTSTRAP_CONFIG),
    logLevel: s.LOG_LEVEL,
    logFormat: s.LOG_FORMAT ?? (input.isTTY ? 'pretty' : 'json'),
    defaultKey,
    defaultKeyProblem: defaultModels ? undefined : 'LITELLM_DEFAULT_MODELS or LITELLM_MODEL is required: the models the key may use',
    defaultModels,
    defaultUser: s.LITELLM_DEFAULT_KEY_USER,
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
