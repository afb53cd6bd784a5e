/**
 * Settings: one schema, read from CLI flags, then the process environment,
 * then the `.env` file. The same schema generates docs/configuration.md and --help.
 *
 * The schema is a typed table of small parsers, not zod: building and running
 * a zod/mini schema of these 19 settings costs ~11 ms on every start
 * (docs/performance.md), a quarter of what a warm run may spend in all. zod
 * still validates the YAML keys file (keys.ts), loaded only when one is used.
 */
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { KeySpec } from './keys.ts';
import { durationProblem, type DurationUse } from './duration.ts';
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const LOG_FORMATS = ['json', 'pretty'] as const;

/** Thrown by a setting's parser: the message follows the setting's name ("LOG_LEVEL must be ..."). */
class Invalid extends Error {}

export interface SettingMeta {
  description: string;
  flag?: string;
  secret?: boolean;
  required?: boolean;
  /** As the docs show it. */
  default?: string;
}

interface Setting<T> extends SettingMeta {
  /** `raw` is the first non-blank value of flag, environment, .env; undefined when none is. */
  parse(raw: string | undefined): T;
}

const setting = <T>(def: Setting<T>): Setting<T> => def;

/** Empty strings mean "unset": compose passes `VAR=` through as an empty value (see resolveSettings). */
const optionalString = (check?: (v: string) => void) => (raw: string | undefined) => {
  const v = raw?.trim();
  if (v !== undefined) check?.(v);
  return v;
};
const withDefault = (def: string, check?: (v: string) => void, trim = true) => (raw: string | undefined) => {
  if (raw === undefined) return def;
  const v = trim ? raw.trim() : raw;
  check?.(v);
  return v;
};
const must = (ok: boolean, message: string) => {
  if (!ok) throw new Invalid(message);
};
const duration = (use: DurationUse) => optionalString((v) => {
  const problem = durationProblem(v, use);
  must(problem === undefined, problem!);
});
const seconds = (def: number, ok: (n: number) => boolean, message: string) => (raw: string | undefined) => {
  if (raw === undefined) return def;
  const n = Number(raw);
  must(Number.isFinite(n), 'must be a number of seconds');
  must(ok(n), message);
  return n;
};
const oneOf = <T extends string>(values: readonly T[]) => (v: string) =>
  must((values as readonly string[]).includes(v), `must be one of ${values.join(', ')}`);

export const settingsSchema = {
  PROXY_BASE_URL: setting({
    description: 'Base URL of the LiteLLM proxy.',
    flag: '--proxy-url',
    default: 'http://llm-proxy:4000',
    parse: withDefault('http://llm-proxy:4000', (v) => {
      let url: URL | undefined;
      try {
        url = new URL(v);
      } catch {
        /* reported below */
      }
      must(url !== undefined && (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '', 'must be an http(s) URL such as http://llm-proxy:4000');
    }),
  }),
  ENV_FILE_PATH: setting({
    description: 'The `.env` file the agent reads; the key is written here. Settings missing from the process environment are read from it too.',
    flag: '--env-file',
    default: '/bootstrap/env/.env',
    parse: withDefault('/bootstrap/env/.env', undefined, false),
  }),
  LITELLM_ENV_FILE_PATH: setting({
    description: "The proxy's own env file, generated (mode 0600) with every `LITELLM_<PROVIDER>_API_KEY` of `.env` as `<PROVIDER>_API_KEY`.",
    flag: '--litellm-env-file',
    default: '/bootstrap/env/.env.litellm',
    parse: withDefault('/bootstrap/env/.env.litellm', undefined, false),
  }),
  LITELLM_MASTER_KEY: setting({
    description: "The proxy's master key (admin credential). Never logged.",
    secret: true,
    required: true,
    parse: (raw) => {
      const v = raw?.trim();
      must(!!v, "is required: the proxy's master key (set it in .env or the environment)");
      return v!;
    },
  }),
  LITELLM_DEFAULT_MODELS: setting({
    description: 'Comma-separated models the default key may use. Takes precedence over `LITELLM_MODEL`. One of the two is required.',
    parse: optionalString(),
  }),
  LITELLM_MODEL: setting({
    description: 'Single model for the default key, used when `LITELLM_DEFAULT_MODELS` is unset; prefixed with `LITELLM_PROVIDER/` when it has no `/`.',
    parse: optionalString(),
  }),
  LITELLM_PROVIDER: setting({ description: 'Provider prefix for `LITELLM_MODEL` (e.g. `openai`).', parse: optionalString() }),
  LITELLM_DEFAULT_KEY_ALIAS: setting({
    description: "Alias of the agent's virtual key (unique on the proxy). A proxy that checks alias formats wants letters, digits and `_-/.` only, e.g. `task-agent-default`: a refused alias is exit 2.",
    default: 'task-agent default',
    parse: withDefault('task-agent default'),
  }),
  LITELLM_DEFAULT_KEY_USER: setting({
    description: '`user_id` the default key is issued to.',
    default: 'task-agent',
    parse: withDefault('task-agent'),
  }),
  LITELLM_DEFAULT_KEY_ENV_NAME: setting({
    description: 'The variable in `.env` that receives the key.',
    default: 'OPENAI_API_KEY',
    parse: withDefault('OPENAI_API_KEY', (v) => must(ENV_NAME.test(v), 'must be a variable name like OPENAI_API_KEY')),
  }),
  LITELLM_PLACEHOLDER_KEY: setting({
    description: 'Value that means "no key yet" (an empty value does too).',
    default: 'sk-proxy-default',
    parse: withDefault('sk-proxy-default'),
  }),
  LITELLM_DEFAULT_KEY_DURATION: setting({
    description: 'Lifetime of a newly issued key (`30d`, `12h`, `4w`, `1mo`, ...). Unset: never expires.',
    parse: duration('key lifetime'),
  }),
  LITELLM_DEFAULT_KEY_BUDGET: setting({
    description: 'Maximum spend of the key in USD. Unset: no budget.',
    parse: optionalString((v) => must(Number.isFinite(Number(v)) && Number(v) >= 0, 'must be a non-negative number (USD)')),
  }),
  LITELLM_DEFAULT_KEY_BUDGET_DURATION: setting({
    description: 'Budget reset period (`1d`, `7d`, `30d`, `1mo`, ...; months only as `1mo`). LiteLLM resets on calendar boundaries (UTC unless its `timezone` is set): `1d` at midnight, `7d`/`1w` on Monday, `30d`/`1mo` on the 1st. Unset with a budget: the budget is a lifetime cap.',
    parse: duration('budget reset'),
  }),
  LITELLM_PROXY_WAIT_SECONDS: setting({
    description: 'How long to wait for the proxy to be live with its database ready, and to retry transient failures.',
    flag: '--wait-seconds',
    default: '120',
    parse: seconds(120, (n) => n >= 0, 'must be 0 or more'),
  }),
  LITELLM_REQUEST_TIMEOUT_SECONDS: setting({
    description: 'Timeout of each HTTP request to the proxy; a hung proxy cannot hang the bootstrap.',
    default: '10',
    parse: seconds(10, (n) => n > 0, 'must be more than 0'),
  }),
  LITELLM_MAX_CONCURRENCY: setting({
    description: 'Most requests to the proxy in flight at once while issuing, updating, deleting or reading many keys (`1` = one at a time). Each request still has its retries and the run its deadline.',
    default: '8',
    parse: (raw: string | undefined) => {
      if (raw === undefined) return 8;
      const n = Number(raw.trim());
      must(Number.isInteger(n) && n >= 1 && n <= 64, 'must be a whole number from 1 to 64');
      return n;
    },
  }),
  LITELLM_BOOTSTRAP_CONFIG: setting({
    description: 'Optional YAML file declaring several keys (see below); a relative path is relative to the directory of `ENV_FILE_PATH`. Unset: the single default key above.',
    flag: '--config',
    parse: optionalString(),
  }),
  LOG_LEVEL: setting({
    description: 'Log level.',
    default: 'info',
    parse: (raw) => withDefault('info', oneOf(LOG_LEVELS))(raw) as (typeof LOG_LEVELS)[number],
  }),
  LOG_FORMAT: setting({
    description: '`json` or `pretty`. Default: pretty on a terminal, else json.',
    parse: (raw) => optionalString(oneOf(LOG_FORMATS))(raw) as (typeof LOG_FORMATS)[number] | undefined,
  }),
};

type Schema = typeof settingsSchema;
type Parsed = { [K in keyof Schema]: ReturnType<Schema[K]['parse']> };

export function settingMeta(name: SettingName): SettingMeta {
  const { parse: _parse, ...meta } = settingsSchema[name];
  return meta;
}

export type SettingName = keyof Schema;
export const SETTING_NAMES = Object.keys(settingsSchema) as SettingName[];

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
  /** Most requests in flight at once (LITELLM_MAX_CONCURRENCY). */
  maxConcurrency: number;
  keysFile: string | undefined;
  logLevel: Parsed['LOG_LEVEL'];
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
  const problems: string[] = [];
  const parsed: Record<string, unknown> = {};
  for (const name of SETTING_NAMES) {
    try {
      parsed[name] = settingsSchema[name].parse(raw[name]);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      problems.push(`${describeSource(name, sources[name])} ${err.message}`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`invalid settings: ${problems.join('; ')}`, {
      hint: 'fix the settings named above (see docs/configuration.md)',
    });
  }
  const s = parsed as Parsed;
  const envFilePath = resolve(input.cwd, s.ENV_FILE_PATH);
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
    aliasSource: describeSource('LITELLM_DEFAULT_KEY_ALIAS', sources.LITELLM_DEFAULT_KEY_ALIAS),
  };
  return {
    proxyBaseUrl: s.PROXY_BASE_URL.replace(/\/+$/, ''),
    envFilePath,
    litellmEnvFilePath: resolve(input.cwd, s.LITELLM_ENV_FILE_PATH),
    masterKey: s.LITELLM_MASTER_KEY,
    placeholderKey: s.LITELLM_PLACEHOLDER_KEY,
    waitSeconds: s.LITELLM_PROXY_WAIT_SECONDS,
    requestTimeoutMs: Math.round(s.LITELLM_REQUEST_TIMEOUT_SECONDS * 1000),
    maxConcurrency: s.LITELLM_MAX_CONCURRENCY,
    // Relative to the .env's directory: the keys file lives beside it (in the container and on the host alike).
    keysFile: s.LITELLM_BOOTSTRAP_CONFIG === undefined ? undefined : resolve(dirname(envFilePath), s.LITELLM_BOOTSTRAP_CONFIG),
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
