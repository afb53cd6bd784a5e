/**
 * TEST DOUBLE — a stand-in for a self-hosted LiteLLM proxy's management API.
 *
 * Used by our tests in-process, by benchmarks as a separate process
 * (build/test/stand-in.mjs) and as a container replacing LiteLLM in a compose
 * stack. It copies the facts listed in /work/shared/litellm-api.md, checked
 * against BerriAI/litellm's source (key_management_endpoints.py,
 * user_api_key_auth.py, auth_exception_handler.py, _health_endpoints.py,
 * proxy/utils.py, _types.py). Where that source and the shared doc disagree the
 * source wins and the spot is marked "source:" below.
 *
 * Never import this from src/.
 *
 * Besides the LiteLLM routes it serves a control API under /__stand-in/
 * (Bearer master key; not recorded in `requests`, not subject to faults):
 *   GET  /__stand-in/state    -> { requests, keys, counts, db, flavor, models, storedModels, deprecated, now, faults }
 *   POST /__stand-in/control  -> { "op": "...", ... } see `applyControl`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import { DirectoryError, StandInDirectory, type DirectoryHost } from './stand-in-teams.ts';
import { ModelRouteError, StandInModelStore, type StoredModel } from './stand-in-models.ts';
import { STAND_IN_COST_MAP } from './stand-in-cost-map.ts';

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

export type StandInDbState = 'connected' | 'disconnected' | 'Not connected';
export type StandInFlavor = 'current' | '1.77' | 'legacy';
export type StandInComponent = 'all' | 'gateway' | 'backend';

const FLAVORS: readonly StandInFlavor[] = ['current', '1.77', 'legacy'];

/**
 * The flavour a stand-in gets when its options name none: STAND_IN_FLAVOR from the environment
 * (the scenario suite runs once per flavour, see vitest.config.ts), else 'current'.
 */
export function defaultFlavor(env: NodeJS.ProcessEnv = process.env): StandInFlavor {
  const v = env['STAND_IN_FLAVOR'];
  if (v === undefined || v === '') return 'current';
  if (!(FLAVORS as readonly string[]).includes(v)) throw new Error(`STAND_IN_FLAVOR must be one of ${FLAVORS.join(', ')}, got ${JSON.stringify(v)}`);
  return v as StandInFlavor;
}

export interface StandInOptions {
  masterKey: string;
  /** Default 0 = an ephemeral port (reserved up front, so `url` is known at once). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 'connected'. 'Not connected' = no database configured at all. */
  db?: StandInDbState;
  /**
   * Which LiteLLM answers. Default: defaultFlavor() (STAND_IN_FLAVOR, else 'current').
   * - 'current' (2026 source): readiness {"status","db"} (503 when the DB is disconnected),
   *   /key/update may name the key by key_alias alone, a key's `duration` is added exactly,
   *   every alias passes LiteLLM's always-on rule (no "..", no control characters),
   *   an expired key is 401, a missing provider key is a 401 upstream error.
   * - '1.77': LiteLLM 1.77.2 as run against PostgreSQL (shared/litellm-api.md, "Checked against
   *   a running LiteLLM 1.77.2"): readiness 200 {"status":"connected","db":"connected",cache,
   *   litellm_version,...} (503 {"detail":"Service Unhealthy (...)"} while the DB is down),
   *   /key/update needs `key`, a new key's expiry is rounded like a budget reset, an expired key
   *   is 400, authenticated keys are cached 60 s, a missing provider key is a 500, no alias
   *   format check, no /health/readiness/details. Options that model newer versions only
   *   (readiness, keyAliasPattern, masterKeyLockout) are refused with it.
   * - 'legacy': LiteLLM before v1.53 (2024): as '1.77', and error.code is an int, key aliases
   *   need not be unique, /key/list ignores key_alias.
   */
  flavor?: StandInFlavor;
  /** model_name list served by /model/info and /v1/models. */
  models?: string[];
  /** "Start late": the port is reserved but connections are refused until then. */
  listenAfterMs?: number;
  /** Live at once, but db 'disconnected' until then, then `db` (default 'connected'). */
  readyAfterMs?: number;
  /** Default false: /key/{key}/regenerate -> 500 Enterprise-only. */
  enterprise?: boolean;
  /**
   * The body of the public GET /health/readiness of the 'current' flavor ('1.77' and 'legacy' answer 1.77's).
   * - 'public' (default): released versions today, exactly {"status","db"}.
   * - 'details': older versions, the full payload (db, cache, litellm_version, callbacks, ...).
   * - 'no-db': pre-release builds between LiteLLM PRs #26912 and #27866 (May 2026):
   *   {"status":"healthy"} only (503 while a configured DB is unreachable), details behind
   *   the authenticated GET /health/readiness/details.
   */
  readiness?: 'public' | 'details' | 'no-db';
  /**
   * Enforce a key_alias format on /key/generate and on /key/update when the alias changes.
   * 'builtin': v1.82.0's default rule (later opt-in, `enable_key_alias_format_validation`),
   * ^[a-zA-Z0-9][a-zA-Z0-9_\-/\.]{0,253}[a-zA-Z0-9]$. Any other string: an operator's
   * `litellm_settings.key_alias_pattern`, matched whole (re.fullmatch), aliases capped at 255.
   * Default: no check (LiteLLM's default since PR #23027).
   */
  keyAliasPattern?: string;
  /** Status of an expired key used as a credential: 400 (2025 to early-2026 builds) or 401 (newest, default). */
  expiredKeyStatus?: 400 | 401;
  /**
   * The newest LiteLLM's master-key lockout (master key empty or `sk-1234`, with stored
   * credentials present): 403 auth_error on key-management writes, GET /model/info and
   * LLM calls. Default false.
   */
  masterKeyLockout?: boolean;
  /**
   * Which component of a split deployment this is (LiteLLM PR #27557, `docker-entrypoint.sh
   * gateway|backend`): both trim the one FastAPI app to an allowlist of paths, and answer any other
   * path with FastAPI's own 404 {"detail":"Not Found"}.
   * - 'gateway' (:4000): inference and health (gateway/routes/allowlist.py): /health*, /v1/models,
   *   /models, /chat/*, /v1/chat/*; no /key/*, /model/*, /user/*.
   * - 'backend' (:4001): management and health (backend/routes/allowlist.py): /key/*, /model/*,
   *   /v1/model/info, /user/*, /team/*, /health*; no /v1/models, no completions.
   * - 'all' (default): the monolithic proxy, every route.
   */
  component?: StandInComponent;
  /**
   * Where POST /v1/chat/completions looks for the upstream provider key (`<PROVIDER>_API_KEY`),
   * as LiteLLM resolves `os.environ/...`. Default: this process's own environment.
   */
  upstreamEnv?: NodeJS.ProcessEnv;
  /**
   * The upstream providers' own table of keys (the keys OpenAI, Anthropic, Gemini... issued): a
   * completion relayed upstream is answered only when the provider key LiteLLM sends is in it (looked
   * up by its sha256, as a provider looks a key up); any other key gets the provider's 401 "Incorrect
   * API key provided". Default: empty (the provider knows no key).
   */
  upstreamKeys?: Iterable<string>;
  /**
   * Model storage (`STORE_MODEL_IN_DB=True` on the proxy): /model/new, /model/update,
   * PATCH /model/{id}/update and /model/delete work (see stand-in-models.ts). Default false,
   * LiteLLM's default: those routes answer 500 "Set `'STORE_MODEL_IN_DB='True'` ...".
   */
  storeModelsInDb?: boolean;
  /**
   * LiteLLM's model cost map (model name → entry with `litellm_provider`), served at
   * GET /public/litellm_model_cost_map (public; 'current') or GET /get/litellm_model_cost_map
   * (proxy admin only; '1.77', 'legacy'). Default: a part of the real map (stand-in-cost-map.ts).
   */
  costMap?: Record<string, unknown>;
  /**
   * What a virtual key whose `allowed_routes` do not cover the route gets (source:
   * auth/route_checks.RouteChecks.is_virtual_key_allowed_to_call_route, called by user_api_key_auth
   * outside its exception handler).
   * - 'http-403' (default, newer versions): HTTPException(403) -> FastAPI's
   *   {"detail": "Virtual key is not allowed to call this route. Only allowed to call routes: [...]. Tried to call route: /x"}.
   * - 'plain-500' (1.77.2, measured): a bare Exception escapes the handler -> 500, text/plain "Internal Server Error".
   */
  routeDenial?: 'http-403' | 'plain-500';
  /**
   * How /key/generate turns `duration` into `expires`.
   * - 'exact' (default, newer versions, LiteLLM issue #15142): now + the duration.
   * - 'calendar' (1.77.2, measured): rounded to the budget-reset boundaries
   *   (duration_parser.get_next_standardized_reset_time): 30s -> next :00/:30, 1d -> next midnight,
   *   7d -> next Monday, 30d/1mo -> the 1st; an unparseable value -> next midnight (200); Nmo, N > 1 -> 500.
   * /key/update and /key/{key}/regenerate always add exact seconds.
   */
  generateExpiry?: 'exact' | 'calendar';
  /**
   * LITELLM_KEY_ROTATION_GRACE_PERIOD: the grace a regenerate without `grace_period` (and the
   * proxy's own auto-rotation) keeps the old key alive for, e.g. "1h". Default: none (revoke at once).
   */
  keyRotationGracePeriod?: string;
  /**
   * The proxy's key policy (see keyPolicyCheck): `litellm_settings.upperbound_key_generate_params`
   * (max_budget, duration), and an operator's `general_settings.custom_key_generate` hook that
   * refuses every new key with this message.
   */
  /**
   * Status of an over-budget key's LLM request (`budget_exceeded`, "Budget has been exceeded! ..."):
   * 422 the newest default (litellm_settings.budget_exceeded_status_code), 429 older releases, 400
   * 2024 builds and 1.77 (shared litellm-api.md). Default: 422 ('current'), 400 (others).
   */
  budgetExceededStatus?: 400 | 422 | 429;
  keyPolicy?: { upperbound?: { max_budget?: number; duration?: string }; customKeyGenerateDenial?: string };
}

export interface StandInRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** What credential the request carried (by the stand-in's own knowledge; 'virtual' = a stored key, even expired/blocked). */
  auth: 'master' | 'virtual' | 'none' | 'invalid';
  /** HTTP status answered; 0 = not (yet) answered: in flight, reset or hung. */
  status: number;
  /** Date.now() when the request arrived. */
  at: number;
  /**
   * For POST /key/* with a JSON object body: how it named a key (`key`: the raw `sk-` key or
   * its hash, and that key's sha256 as `token`) and which fields it sent. Never the raw key itself.
   */
  sent?: { key?: 'raw' | 'hash'; token?: string; fields: string[] };
  /** For /model/* writes: the request body as received (so a test can look for secrets in it). */
  body?: string;
}

export interface StandInKeyRow {
  token: string; // sha256 hex of the raw key
  key_alias: string | null;
  models: string[];
  user_id: string | null;
  metadata: Record<string, unknown>;
  expires: string | null; // ISO 8601
  blocked: boolean;
  max_budget: number | null;
  budget_duration: string | null;
  spend: number;
  created_at: string; // ISO 8601
  key_name: string;
  team_id: string | null;
  tpm_limit: number | null;
  rpm_limit: number | null;
  max_parallel_requests: number | null;
  /** What key_type became (`["llm_api_routes"]`, ...), or routes given as such; [] = every route. */
  allowed_routes: string[];
  /** Proxy-side rotation (LiteLLM PR #14877). */
  auto_rotate: boolean;
  rotation_interval: string | null;
  rotation_count: number;
  last_rotation_at: string | null; // ISO 8601
  key_rotation_at: string | null; // ISO 8601
}

/** A row of LiteLLM_DeprecatedVerificationToken: an old key kept alive by a regenerate's grace period. */
export interface StandInDeprecatedKey {
  /** sha256 of the old raw key. */
  token: string;
  /** The row it authenticates as (the regenerated key's token). */
  active_token_id: string;
  revoke_at: string; // ISO 8601
}

export interface StandInFlapOptions {
  seed: number;
  /** Share of requests answered 503 (default 0). */
  errorRate?: number;
  /** Share of requests whose socket is destroyed without an answer (default 0). */
  resetRate?: number;
  /** Each answer is delayed by a seeded random 0..maxDelayMs (default 0). */
  maxDelayMs?: number;
  /** The DB flips connected/disconnected every readinessToggleMs (starting connected). */
  readinessToggleMs?: number;
}

export interface StandInFaultOptions {
  /** Only requests to exactly this path (no query) count; default: any request. */
  path?: string;
}

export interface LiteLLMStandIn {
  url: string;
  port: number;
  /** Every request seen (control API excluded), in arrival order. */
  requests: StandInRequest[];
  requestCount(filter?: { path?: string; method?: string }): number;
  /** Clears `requests` and restarts the in-flight high-water mark from the requests open now. */
  resetRequests(): void;
  /** Requests (control API excluded) received and not yet answered, reset or closed. */
  readonly inFlight: number;
  /** Most requests in flight at once since the start or the last resetRequests(). */
  readonly maxInFlight: number;
  /** Stored rows (hashed, like the real DB), newest first. */
  keys(): StandInKeyRow[];
  /** Deployments stored through /model/new (litellm_params as sent), oldest first. */
  storedModels(): StoredModel[];
  setDb(state: StandInDbState): void;
  failNext(n: number, opts?: { status?: number; path?: string; body?: unknown }): void;
  /** Destroy the socket without answering. */
  resetNext(n: number, opts?: StandInFaultOptions): void;
  /** Delay every (matching) answer; 0 clears. */
  setDelay(ms: number, opts?: StandInFaultOptions): void;
  /** Accept, never answer (until stop/close). */
  hangNext(n: number, opts?: StandInFaultOptions): void;
  flap(opts: StandInFlapOptions | null): void;
  /** Clear failNext/resetNext/hangNext/setDelay/flap. */
  clearFaults(): void;
  /** DB wiped: every key gone. */
  wipe(): void;
  /** Expire now, or (inMs) set the expiry that far from the stand-in's now. */
  expireKey(rawOrHash: string, inMs?: number): void;
  blockKey(rawOrHash: string): void;
  /** Runs `fn` when the next request to `path` arrives, before it is handled (e.g. delete a key "meanwhile"). */
  onNext(path: string, fn: () => void): void;
  /** Seed a key directly into the "DB" (no alias check). Returns the raw key (or the token if only a token was given). */
  addKey(row: Partial<StandInKeyRow> & { key?: string }): string;
  /** Old keys still inside a regenerate's grace period (expired ones are dropped). */
  deprecatedKeys(): StandInDeprecatedKey[];
  /**
   * What the proxy's rotation job (KeyRotationManager._rotate_key) does to one key: regenerate it
   * (new raw key; the old one stops working unless keyRotationGracePeriod keeps it), then, when the
   * key has a rotation_interval, rotation_count + 1, last_rotation_at = now, key_rotation_at = now + interval.
   * Returns the new raw key (the real proxy tells no one) and its token.
   */
  rotateKey(rawOrHash: string): { key: string; token: string };
  /** One pass of the rotation job: every auto_rotate key whose key_rotation_at is unset or due. Returns the old tokens rotated. */
  runKeyRotations(): string[];
  /** Move the stand-in's clock (expiry checks, grace periods, rotation due times, new timestamps). */
  advanceClock(ms: number): void;
  setMasterKey(k: string): void;
  /** Stop listening (connections refused; open ones destroyed). Keys survive. */
  stop(): Promise<void>;
  /** Listen again on the same port (simulates a restart). */
  start(): Promise<void>;
  /** Resolves once the server listens (useful with listenAfterMs). */
  whenListening(): Promise<void>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Constants copied from LiteLLM
// ---------------------------------------------------------------------------

// The 'current' flavour follows the newest source (stable 1.111 line, December 2026).
const STAND_IN_VERSION = '1.111.1-stand-in';
const VERSION_1_77 = '1.77.2';
/** source (1.77): user_api_key_auth caches a UserAPIKeyAuth in user_api_key_cache for 60 s (default_in_memory_ttl). */
const KEY_CACHE_TTL_MS = 60_000;
const PROXY_ADMIN_NAME = 'default_user_id';
const DEFAULT_MODELS = ['gpt-4o-mini', 'gpt-4o', 'claude-3-5-sonnet'];
// source: litellm/proxy/_types.py CommonProxyErrors.db_not_connected_error (old and newest text)
const DB_NOT_CONNECTED_LEGACY = 'DB not connected. See https://docs.litellm.ai/docs/proxy/virtual_keys';
const DB_NOT_CONNECTED_CURRENT =
  'DB not connected. This endpoint needs a database; set DATABASE_URL to a PostgreSQL connection string ' +
  '(postgresql://...) to enable it. See https://docs.litellm.ai/docs/proxy/virtual_keys';
const NOT_PREMIUM =
  'You must be a LiteLLM Enterprise user to use this feature. If you have a license please set `LITELLM_LICENSE` ' +
  'in your env. Get a 7 day trial key here: https://www.litellm.ai/enterprise#trial. \nPricing: https://www.litellm.ai/#pricing';
// source: litellm/proxy/auth/master_key_lockout.py (newest)
const MASTER_KEY_LOCKOUT_MESSAGE =
  'This functionality is unavailable until the master key has been set. ' +
  'Set LITELLM_MASTER_KEY (or general_settings.master_key) to a strong random key and restart the proxy.';
// source: key_management_endpoints._validate_key_alias_format (v1.82.0's rule, no "@")
const BUILTIN_ALIAS_RULE = /^[a-zA-Z0-9][a-zA-Z0-9_\-/.]{0,253}[a-zA-Z0-9]$/;
const BUILTIN_ALIAS_MESSAGE =
  'Invalid key_alias format. Must be 2-255 characters, start/end with alphanumeric, and only contain a-zA-Z0-9_-/.';
// source: secret_managers/base_secret_manager._UNSAFE_SECRET_NAME_PATTERN (PR #32092; any "..", C0/DEL/C1, U+2028, U+2029)
const UNSAFE_SECRET_NAME = /\.\.|[\x00-\x1f\x7f-\x9f\u2028\u2029]/;
// source: gateway/routes/allowlist.py and backend/routes/allowlist.py (the prefixes of the routes this stand-in serves)
const COMPONENT_PREFIXES: Record<Exclude<StandInComponent, 'all'>, readonly string[]> = {
  gateway: ['/health', '/v1/models', '/models', '/v1/chat/', '/chat/'],
  backend: ['/key/', '/v2/key/', '/model/', '/v1/model/info', '/v2/model/', '/user/', '/team/', '/health'],
};
const KEY_MANAGEMENT_WRITES = ['/key/generate', '/key/update', '/key/delete', '/key/regenerate', '/key/block', '/key/unblock'];
const LLM_ROUTES = ['/chat/completions', '/v1/chat/completions'];
const KEY_INFO_NO_DB =
  'Database not connected. Connect a database to your proxy - https://docs.litellm.ai/docs/simple_proxy#managing-auth---virtual-keys';

// ---------------------------------------------------------------------------
// Small helpers (Python-isms the real proxy leaks into its messages)
// ---------------------------------------------------------------------------

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** source: LiteLLM hashes values starting with "sk-" and treats anything else as a hash already. */
function hashIfNeeded(k: string): string {
  return k.startsWith('sk-') ? sha256Hex(k) : k;
}

/** `sk-` + secrets.token_urlsafe(16): 22 url-safe characters. */
function newRawKey(): string {
  return `sk-${randomBytes(16).toString('base64url')}`;
}

/** source: auth_utils.abbreviate_api_key */
function abbreviate(k: string): string {
  return `sk-...${k.slice(-4)}`;
}

function maskKey(k: string): string {
  return k.length > 8 ? `${k.slice(0, 4)}****${k.slice(-4)}` : '****';
}

function pyStrRepr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = '';
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += `\\${q}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else out += ch;
  }
  return q + out + q;
}

/** Python repr() of a JSON-ish value: what str(HTTPException.detail) becomes in error.message. */
export function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'string') return pyStrRepr(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return String(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${pyStrRepr(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

/** str(float) */
function pyFloat(n: number): string {
  return Number.isInteger(n) ? n.toFixed(1) : String(n);
}

function isoParts(d: Date): { base: string; frac: string } {
  const s = d.toISOString(); // 2026-01-02T03:04:05.678Z
  const ms = d.getUTCMilliseconds();
  return { base: s.slice(0, 19), frac: ms === 0 ? '' : `.${String(ms).padStart(3, '0')}000` };
}

/** datetime.isoformat() of an aware UTC datetime (FastAPI's jsonable_encoder): 2026-01-02T03:04:05.678000+00:00 */
function pyIso(d: Date | null): string | null {
  if (!d) return null;
  const { base, frac } = isoParts(d);
  return `${base}${frac}+00:00`;
}

/** pydantic v2 JSON of an aware UTC datetime (response_model routes): 2026-01-02T03:04:05.678000Z */
function pydIso(d: Date | null): string | null {
  if (!d) return null;
  const { base, frac } = isoParts(d);
  return `${base}${frac}Z`;
}

/** str(datetime): 2026-01-02 03:04:05.678000+00:00 */
function pyStrDate(d: Date): string {
  return (pyIso(d) ?? '').replace('T', ' ');
}

class DurationError extends Error {}

/** source: litellm_core_utils/duration_parser.duration_in_seconds (re.match(r"(\d+)(mo|[smhdw]?)")). */
function addDuration(from: Date, duration: string): Date {
  const m = /^(\d+)(mo|[smhdw]?)/.exec(duration);
  if (!m) throw new DurationError('Invalid duration format');
  const value = Number(m[1]);
  const unit = m[2] ?? '';
  const t = from.getTime();
  switch (unit) {
    case 's':
      return new Date(t + value * 1000);
    case 'm':
      return new Date(t + value * 60_000);
    case 'h':
      return new Date(t + value * 3_600_000);
    case 'd':
      return new Date(t + value * 86_400_000);
    case 'w':
      return new Date(t + value * 604_800_000);
    case 'mo': {
      // source: the same day `value` months later, clamped to that month's last day (Jan 31 + 1mo = Feb 28).
      const d = new Date(t);
      const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + value, 1));
      const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
      target.setUTCDate(Math.min(d.getUTCDate(), last));
      target.setUTCHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
      return target;
    }
    default:
      throw new DurationError(`Unsupported duration unit, passed duration: ${duration}`);
  }
}

/**
 * source: duration_parser.get_next_standardized_reset_time (UTC): budget resets are calendar-aligned.
 * The unit is read with re.match(r"(\d+)([a-z]+)"): no match or an unknown unit falls back to the
 * next midnight (no error); months other than 1 raise.
 */
function budgetResetAt(now: Date, duration: string): Date | null {
  if (['', 'none', 'null'].includes(duration.trim().toLowerCase())) return null;
  const midnight = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const days = (n: number) => new Date(midnight.getTime() + n * 86_400_000);
  const m = /^(\d+)([a-z]+)/.exec(duration);
  if (!m) return days(1);
  const value = Number(m[1]);
  const unit = m[2];
  const dayReset = (n: number): Date => {
    if (n === 0) return now;
    if (n === 1) return days(1);
    if (n === 7) return days((7 - ((now.getUTCDay() + 6) % 7)) % 7 || 7); // next Monday
    if (n === 30) return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    return days(n);
  };
  const aligned = (current: number, v: number) => (current % v !== 0 ? current + v - (current % v) : current + v);
  // source: _handle_{hour,minute,second}_reset carry into the next unit, and past 23 h go to the
  // next day with the hour taken modulo 24 (so a 50h reset at 16:00 is tomorrow 02:00).
  const at = (h: number, m: number, sec: number) =>
    new Date(midnight.getTime() + (h >= 24 ? 86_400_000 : 0) + ((h % 24) * 3600 + m * 60 + sec) * 1000);
  const [H, M, S] = [now.getUTCHours(), now.getUTCMinutes(), now.getUTCSeconds()];
  switch (unit) {
    case 'd':
      return dayReset(value);
    case 'w':
      return dayReset(value * 7);
    case 'h':
      return value === 0 ? now : at(aligned(H, value), 0, 0);
    case 'm': {
      if (value === 0) return now;
      const next = aligned(M, value);
      return at(H + Math.floor(next / 60), next % 60, 0);
    }
    case 's': {
      if (value === 0) return now;
      const next = aligned(S, value);
      const minute = M + Math.floor(next / 60);
      return at(H + Math.floor(minute / 60), minute % 60, next % 60);
    }
    case 'mo':
      if (value !== 1) throw new DurationError('Monthly resets currently only support 1 month intervals');
      return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    default:
      return days(1);
  }
}

/** source: router_utils/pattern_match_deployments._pattern_to_regex + re.match: `*` is (.*), anchored at the start only. */
export function servedBy(servedName: string, model: string): boolean {
  if (!servedName.includes('*')) return servedName === model;
  const re = new RegExp(`^${servedName.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('(.*)')}`);
  return re.test(model);
}

/** mulberry32: a tiny seeded PRNG (also the benchmark's). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------

interface KeyRecord {
  token: string;
  key_name: string;
  key_alias: string | null;
  models: string[];
  user_id: string | null;
  team_id: string | null;
  metadata: Record<string, unknown>;
  expires: Date | null;
  blocked: boolean | null;
  max_budget: number | null;
  budget_duration: string | null;
  budget_reset_at: Date | null;
  spend: number;
  tpm_limit: number | null;
  rpm_limit: number | null;
  max_parallel_requests: number | null;
  allowed_routes: string[];
  auto_rotate: boolean | null;
  rotation_interval: string | null;
  rotation_count: number | null;
  last_rotation_at: Date | null;
  key_rotation_at: Date | null;
  created_at: Date;
  updated_at: Date;
  created_by: string | null;
  updated_by: string | null;
}


/** An HTTP answer the handlers throw or return. */
class Answer {
  /** Extra response headers. */
  readonly headers: Record<string, string> = {};
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly contentType = 'application/json',
  ) {}
}

type Caller = { kind: 'master' } | { kind: 'virtual'; row: KeyRecord; hash: string };

interface FaultEntry {
  remaining: number;
  path?: string | undefined;
  status?: number | undefined;
  body?: unknown;
}

type FieldKind = 'str' | 'list' | 'num' | 'int' | 'dict' | 'bool' | 'keyType';

const GENERATE_FIELDS: Record<string, FieldKind> = {
  key_alias: 'str',
  duration: 'str',
  models: 'list',
  spend: 'num',
  max_budget: 'num',
  soft_budget: 'num',
  budget_duration: 'str',
  user_id: 'str',
  team_id: 'str',
  metadata: 'dict',
  tpm_limit: 'int',
  rpm_limit: 'int',
  max_parallel_requests: 'int',
  key: 'str',
  key_type: 'keyType',
  blocked: 'bool',
  tags: 'list',
  allowed_routes: 'list',
  auto_rotate: 'bool',
  rotation_interval: 'str',
};
const UPDATE_FIELDS: Record<string, FieldKind> = { ...GENERATE_FIELDS };
delete UPDATE_FIELDS['key_type'];
delete UPDATE_FIELDS['soft_budget'];
const DELETE_FIELDS: Record<string, FieldKind> = { keys: 'list', key_aliases: 'list' };
// source: _types.RegenerateKeyRequest(GenerateKeyRequest): new_key, new_master_key, grace_period
const REGENERATE_FIELDS: Record<string, FieldKind> = { ...GENERATE_FIELDS, new_key: 'str', new_master_key: 'str', grace_period: 'str' };

/** Writable in /key/update when present in the body. */
const UPDATABLE = [
  'key_alias',
  'models',
  'spend',
  'max_budget',
  'user_id',
  'team_id',
  'metadata',
  'tpm_limit',
  'rpm_limit',
  'max_parallel_requests',
  'blocked',
  'allowed_routes',
  'auto_rotate',
  'rotation_interval',
] as const;

const KEY_TYPE_ROUTES: Record<string, string[]> = {
  llm_api: ['llm_api_routes'],
  management: ['management_routes'],
  read_only: ['info_routes'],
  default: [],
};

// source: _types.LiteLLMRoutes — the groups a key's allowed_routes may name (the routes of each
// group the stand-in serves, with their neighbours). `{x}` matches one path segment
// (RouteChecks._route_matches_pattern).
const OPENAI_ROUTES = [
  '/engines/{model}/chat/completions',
  '/openai/deployments/{model}/chat/completions',
  '/chat/completions',
  '/v1/chat/completions',
  '/completions',
  '/v1/completions',
  '/embeddings',
  '/v1/embeddings',
  '/moderations',
  '/v1/moderations',
  '/models',
  '/v1/models',
  '/responses',
  '/v1/responses',
  '/utils/token_counter',
];
const INFO_ROUTES = [
  '/key/info',
  '/key/health',
  '/team/info',
  '/team/list',
  '/user/info',
  '/model/info',
  '/v1/model/info',
  '/v2/model/info',
  '/v2/key/info',
  '/model_group/info',
  '/health',
  '/key/list',
];
const KEY_MANAGEMENT_ROUTES = [
  '/key/generate',
  '/key/update',
  '/key/delete',
  '/key/info',
  '/key/regenerate',
  '/key/service-account/generate',
  '/key/{key_id}/regenerate',
  '/key/list',
  '/key/block',
  '/key/unblock',
];
const ROUTE_GROUPS: Record<string, string[]> = {
  openai_routes: OPENAI_ROUTES,
  anthropic_routes: ['/v1/messages'],
  // openai + anthropic + mapped pass-through + apply_guardrail + mcp routes
  llm_api_routes: [...OPENAI_ROUTES, '/v1/messages', '/openai', '/anthropic', '/guardrails/apply_guardrail', '/mcp', '/mcp/', '/mcp/{subpath}'],
  info_routes: INFO_ROUTES,
  key_management_routes: KEY_MANAGEMENT_ROUTES,
  management_routes: [
    '/user/new',
    '/user/update',
    '/user/delete',
    '/user/info',
    '/team/new',
    '/team/update',
    '/team/delete',
    '/team/list',
    '/team/info',
    '/model/new',
    '/model/update',
    '/model/delete',
    '/model/info',
    ...KEY_MANAGEMENT_ROUTES,
  ],
};

function routeMatchesPattern(route: string, pattern: string): boolean {
  const re = new RegExp(`^${pattern.split(/\{[^}]+\}/).map((p) => p.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[^/]+')}$`);
  return re.test(route);
}

/** source: RouteChecks.is_virtual_key_allowed_to_call_route */
function keyMayCallRoute(allowed: string[], route: string): boolean {
  if (allowed.length === 0) return true;
  // an explicit route: exact, or a prefix ending at a "/"
  if (allowed.some((a) => route === a || route.startsWith(`${a}/`))) return true;
  // a group name (LiteLLMRoutes member): exact or {param} pattern match
  for (const a of allowed) {
    const group = ROUTE_GROUPS[a];
    if (group && group.some((g) => g === route || routeMatchesPattern(route, g))) return true;
  }
  // a wildcard "/prefix/*"
  return allowed.some((a) => (a.endsWith('*') ? route.startsWith(a.slice(0, -1)) : route === a));
}

function validationError(items: unknown[]): Answer {
  return new Answer(422, { detail: items });
}

/** A FastAPI/pydantic-shaped 422 for a JSON object body, or the parsed (coerced) fields. */
function validateBody(body: unknown, fields: Record<string, FieldKind>): Record<string, unknown> {
  if (body === undefined) {
    throw validationError([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
  }
  if (!isPlainObject(body)) {
    throw validationError([
      {
        type: 'model_attributes_type',
        loc: ['body'],
        msg: 'Input should be a valid dictionary or object to extract fields from',
        input: body,
      },
    ]);
  }
  const out: Record<string, unknown> = { ...body };
  const errors: unknown[] = [];
  for (const [name, kind] of Object.entries(fields)) {
    if (!(name in body)) continue;
    const v = body[name];
    if (v === null) continue;
    const bad = (type: string, msg: string) => errors.push({ type, loc: ['body', name], msg, input: v });
    switch (kind) {
      case 'str':
        if (typeof v !== 'string') bad('string_type', 'Input should be a valid string');
        break;
      case 'list':
        if (!Array.isArray(v)) bad('list_type', 'Input should be a valid list');
        break;
      case 'dict':
        if (!isPlainObject(v)) bad('dict_type', 'Input should be a valid dictionary');
        break;
      case 'bool':
        if (typeof v !== 'boolean') bad('bool_type', 'Input should be a valid boolean');
        break;
      case 'num':
        if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) out[name] = Number(v);
        else if (typeof v !== 'number') bad('float_parsing', 'Input should be a valid number, unable to parse string as a number');
        break;
      case 'int':
        if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) out[name] = Number(v);
        else if (typeof v !== 'number' || !Number.isInteger(v)) bad('int_type', 'Input should be a valid integer');
        break;
      case 'keyType':
        if (typeof v !== 'string' || !(v in KEY_TYPE_ROUTES)) {
          errors.push({
            type: 'enum',
            loc: ['body', name],
            msg: "Input should be 'llm_api', 'management', 'read_only' or 'default'",
            input: v,
            ctx: { expected: "'llm_api', 'management', 'read_only' or 'default'" },
          });
        }
        break;
    }
  }
  if (errors.length > 0) throw validationError(errors);
  return out;
}

function parseBoolQuery(v: string | null): boolean | null {
  if (v === null) return null;
  const s = v.toLowerCase();
  if (['1', 'true', 'yes', 'on', 't', 'y'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', 'f', 'n'].includes(s)) return false;
  throw validationError([]); // replaced by caller
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

class StandIn implements LiteLLMStandIn {
  url: string;
  port: number;
  readonly requests: StandInRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;

  private masterKey: string;
  private readonly host: string;
  private readonly flavor: StandInFlavor;
  /** '1.77' and 'legacy': the answers of LiteLLM 1.77.2 (see StandInOptions.flavor). */
  private readonly old: boolean;
  /** Keys that authenticated (1.77: user_api_key_cache), by token, until when (epoch ms). */
  private readonly keyCache = new Map<string, { row: KeyRecord; until: number }>();
  /** LiteLLM_UserTable rows, by user_id. */
  /** Teams and users (LiteLLM_TeamTable, LiteLLM_UserTable): stand-in-teams.ts. */
  private readonly directory: StandInDirectory;
  private readonly models: string[];
  private readonly enterprise: boolean;
  private readonly readinessShape: 'public' | 'details' | 'no-db';
  private readonly keyAliasPattern: string | undefined;
  private readonly expiredKeyStatus: 400 | 401;
  private readonly masterKeyLockout: boolean;
  private readonly routeDenial: 'http-403' | 'plain-500';
  private readonly generateExpiry: 'exact' | 'calendar';
  private readonly keyRotationGracePeriod: string | undefined;
  private readonly keyPolicy: StandInOptions['keyPolicy'];
  private readonly budgetExceededStatus: 400 | 422 | 429;
  /** Added to the real clock: advanceClock moves the stand-in's "now". */
  private clockOffsetMs = 0;
  /** LiteLLM_DeprecatedVerificationToken: old token -> the row it now authenticates as, until revokeAt. */
  private readonly deprecated = new Map<string, { active: string; revokeAt: Date }>();
  private readonly component: StandInComponent;
  private readonly hooks: { path: string; fn: () => void }[] = [];
  private baseDb: StandInDbState;
  private readyAt: number | null;
  /** When readiness first could say db "connected" (epoch ms): when it listened, or readyAfterMs later. */
  private readySince: number | null = null;
  private readonly store = new Map<string, KeyRecord>();
  private readonly upstreamEnv: NodeJS.ProcessEnv;
  /** sha256 of every key the upstream providers accept. */
  private readonly upstreamKeyTable: Set<string>;
  private readonly modelStore: StandInModelStore;
  private readonly costMap: Record<string, unknown>;

  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly hung = new Set<ServerResponse>();
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  private listenTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private listening = false;
  private closed = false;
  private listenWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  private fails: FaultEntry[] = [];
  private resets: FaultEntry[] = [];
  private hangs: FaultEntry[] = [];
  private readonly delays = new Map<string, number>();
  private flapCfg: (StandInFlapOptions & { rng: () => number; startedAt: number }) | null = null;

  constructor(opts: StandInOptions, port: number) {
    if (typeof opts.masterKey !== 'string' || opts.masterKey === '') {
      throw new Error('stand-in: masterKey is required');
    }
    this.masterKey = opts.masterKey;
    this.host = opts.host ?? '127.0.0.1';
    this.flavor = opts.flavor ?? defaultFlavor();
    this.old = this.flavor !== 'current';
    if (this.old) {
      // These model newer versions only: a test that sets one means the newer version (flavor: 'current').
      for (const o of ['readiness', 'keyAliasPattern', 'masterKeyLockout'] as const) {
        if (opts[o] !== undefined && opts[o] !== false) throw new Error(`stand-in: option ${o} models LiteLLM newer than 1.77; use flavor 'current'`);
      }
    }
    this.models = [...(opts.models ?? DEFAULT_MODELS)];
    this.enterprise = opts.enterprise ?? false;
    this.readinessShape = opts.readiness ?? 'public';
    this.keyAliasPattern = opts.keyAliasPattern;
    this.expiredKeyStatus = opts.expiredKeyStatus ?? (this.old ? 400 : 401);
    this.masterKeyLockout = opts.masterKeyLockout ?? false;
    // 1.77 (and older) answer a route refusal with a plain 500 and round a new key's expiry (measured).
    this.routeDenial = opts.routeDenial ?? (this.old ? 'plain-500' : 'http-403');
    this.generateExpiry = opts.generateExpiry ?? (this.old ? 'calendar' : 'exact');
    this.keyRotationGracePeriod = opts.keyRotationGracePeriod;
    this.keyPolicy = opts.keyPolicy;
    this.budgetExceededStatus = opts.budgetExceededStatus ?? (this.old ? 400 : 422);
    this.component = opts.component ?? 'all';
    if (this.keyAliasPattern !== undefined && this.keyAliasPattern !== 'builtin') new RegExp(this.keyAliasPattern); // fails like the proxy's startup
    this.upstreamEnv = opts.upstreamEnv ?? process.env;
    this.upstreamKeyTable = new Set([...(opts.upstreamKeys ?? [])].map((k) => sha256Hex(k)));
    this.modelStore = new StandInModelStore(opts.storeModelsInDb ?? false, this.flavor === 'current');
    this.costMap = opts.costMap ?? STAND_IN_COST_MAP;
    this.directory = new StandInDirectory(this.directoryHost());
    this.baseDb = opts.db ?? 'connected';
    this.readyAt = opts.readyAfterMs !== undefined && opts.readyAfterMs > 0 ? Date.now() + opts.readyAfterMs : null;
    this.port = port;
    const h = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host;
    this.url = `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
  }

  // ----- lifecycle ---------------------------------------------------------

  scheduleListen(afterMs: number): void {
    if (afterMs > 0) {
      this.listenTimer = setTimeout(() => {
        this.listenTimer = null;
        this.start().catch((e: unknown) => this.rejectWaiters(e));
      }, afterMs);
    }
  }

  async start(): Promise<void> {
    if (this.closed) throw new Error('stand-in: closed');
    if (this.listening) return;
    if (this.listenTimer) {
      clearTimeout(this.listenTimer);
      this.listenTimer = null;
    }
    const server = createServer((req, res) => {
      this.onRequest(req, res).catch((e: unknown) => {
        if (!res.headersSent && !res.destroyed) {
          this.write(res, new Answer(500, { detail: `stand-in internal error: ${String(e)}` }));
        }
      });
    });
    server.keepAliveTimeout = 5_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.listening = true;
    this.modelStore.restarted();
    this.readySince ??= this.readyAt ?? Date.now();
    for (const w of this.listenWaiters.splice(0)) w.resolve();
  }

  whenListening(): Promise<void> {
    if (this.listening) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('stand-in: closed'));
    return new Promise((resolve, reject) => this.listenWaiters.push({ resolve, reject }));
  }

  private rejectWaiters(e: unknown): void {
    for (const w of this.listenWaiters.splice(0)) w.reject(e);
  }

  async stop(): Promise<void> {
    if (this.listenTimer) {
      clearTimeout(this.listenTimer);
      this.listenTimer = null;
    }
    const server = this.server;
    this.server = null;
    this.listening = false;
    for (const s of this.sleepers) {
      clearTimeout(s.timer);
      s.resolve();
    }
    this.sleepers.clear();
    this.hung.clear();
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.restartTimer = null;
    }
    await this.stop();
    this.closed = true;
    this.rejectWaiters(new Error('stand-in: closed'));
  }

  // ----- test-facing controls ------------------------------------------------

  requestCount(filter?: { path?: string; method?: string }): number {
    return this.requests.filter(
      (r) =>
        (filter?.path === undefined || r.path === filter.path) &&
        (filter?.method === undefined || r.method === filter.method.toUpperCase()),
    ).length;
  }

  resetRequests(): void {
    this.requests.length = 0;
    this.maxInFlight = this.inFlight;
  }

  storedModels(): StoredModel[] {
    return this.modelStore.all();
  }

  keys(): StandInKeyRow[] {
    return this.sortedRows().map((r) => ({
      token: r.token,
      key_alias: r.key_alias,
      models: [...r.models],
      user_id: r.user_id,
      metadata: structuredClone(r.metadata),
      expires: r.expires ? r.expires.toISOString() : null,
      blocked: r.blocked === true,
      max_budget: r.max_budget,
      budget_duration: r.budget_duration,
      spend: r.spend,
      created_at: r.created_at.toISOString(),
      key_name: r.key_name,
      team_id: r.team_id,
      tpm_limit: r.tpm_limit,
      rpm_limit: r.rpm_limit,
      max_parallel_requests: r.max_parallel_requests,
      allowed_routes: [...r.allowed_routes],
      auto_rotate: r.auto_rotate === true,
      rotation_interval: r.rotation_interval,
      rotation_count: r.rotation_count ?? 0,
      last_rotation_at: r.last_rotation_at ? r.last_rotation_at.toISOString() : null,
      key_rotation_at: r.key_rotation_at ? r.key_rotation_at.toISOString() : null,
    }));
  }

  deprecatedKeys(): StandInDeprecatedKey[] {
    const now = this.now().getTime();
    const out: StandInDeprecatedKey[] = [];
    for (const [token, d] of this.deprecated) {
      if (d.revokeAt.getTime() <= now) this.deprecated.delete(token);
      else out.push({ token, active_token_id: d.active, revoke_at: d.revokeAt.toISOString() });
    }
    return out;
  }

  advanceClock(ms: number): void {
    if (!Number.isFinite(ms)) throw new Error('stand-in: advanceClock needs a number of milliseconds');
    this.clockOffsetMs += ms;
  }

  /** The stand-in's clock: the real one, moved by advanceClock. */
  private now(): Date {
    return new Date(Date.now() + this.clockOffsetMs);
  }

  setDb(state: StandInDbState): void {
    if (state !== 'connected' && state !== 'disconnected' && state !== 'Not connected') {
      throw new Error(`stand-in: unknown db state ${String(state)}`);
    }
    this.baseDb = state;
    this.readyAt = null;
  }

  failNext(n: number, opts?: { status?: number; path?: string; body?: unknown }): void {
    this.fails.push({ remaining: n, path: opts?.path, status: opts?.status ?? 503, body: opts?.body });
  }

  resetNext(n: number, opts?: StandInFaultOptions): void {
    this.resets.push({ remaining: n, path: opts?.path });
  }

  hangNext(n: number, opts?: StandInFaultOptions): void {
    this.hangs.push({ remaining: n, path: opts?.path });
  }

  setDelay(ms: number, opts?: StandInFaultOptions): void {
    const k = opts?.path ?? '*';
    if (ms > 0) this.delays.set(k, ms);
    else this.delays.delete(k);
  }

  flap(opts: StandInFlapOptions | null): void {
    this.flapCfg = opts ? { ...opts, rng: mulberry32(opts.seed), startedAt: Date.now() } : null;
  }

  clearFaults(): void {
    this.fails = [];
    this.resets = [];
    this.hangs = [];
    this.delays.clear();
    this.flapCfg = null;
  }

  wipe(): void {
    this.store.clear();
    this.directory.clear();
  }

  private mustFind(rawOrHash: string): KeyRecord {
    const row = this.store.get(hashIfNeeded(rawOrHash)) ?? this.store.get(rawOrHash);
    if (!row) throw new Error('stand-in: no such key');
    return row;
  }

  expireKey(rawOrHash: string, inMs?: number): void {
    const row = this.mustFind(rawOrHash);
    row.expires = new Date(this.now().getTime() + (inMs ?? -1000));
  }

  blockKey(rawOrHash: string): void {
    this.mustFind(rawOrHash).blocked = true;
  }

  addKey(row: Partial<StandInKeyRow> & { key?: string }): string {
    let raw = row.key;
    let token: string;
    if (raw === undefined && row.token !== undefined) token = row.token;
    else {
      raw ??= newRawKey();
      token = sha256Hex(raw);
    }
    const now = this.now();
    this.store.set(token, {
      token,
      key_name: row.key_name ?? (raw ? abbreviate(raw) : `sk-...${token.slice(-4)}`),
      key_alias: row.key_alias ?? null,
      models: row.models ? [...row.models] : [],
      user_id: row.user_id ?? null,
      team_id: row.team_id ?? null,
      metadata: row.metadata ? structuredClone(row.metadata) : {},
      expires: row.expires ? new Date(row.expires) : null,
      blocked: row.blocked ?? null,
      max_budget: row.max_budget ?? null,
      budget_duration: row.budget_duration ?? null,
      budget_reset_at: null,
      spend: row.spend ?? 0,
      tpm_limit: row.tpm_limit ?? null,
      rpm_limit: row.rpm_limit ?? null,
      max_parallel_requests: row.max_parallel_requests ?? null,
      allowed_routes: row.allowed_routes ? [...row.allowed_routes] : [],
      auto_rotate: row.auto_rotate ?? false,
      rotation_interval: row.rotation_interval ?? null,
      rotation_count: row.rotation_count ?? 0,
      last_rotation_at: row.last_rotation_at ? new Date(row.last_rotation_at) : null,
      key_rotation_at: row.key_rotation_at ? new Date(row.key_rotation_at) : null,
      created_at: row.created_at ? new Date(row.created_at) : now,
      updated_at: now,
      created_by: PROXY_ADMIN_NAME,
      updated_by: PROXY_ADMIN_NAME,
    });
    return raw ?? token;
  }

  setMasterKey(k: string): void {
    this.masterKey = k;
  }

  onNext(path: string, fn: () => void): void {
    this.hooks.push({ path, fn });
  }

  // ----- effective state -------------------------------------------------------

  private dbState(): StandInDbState {
    const f = this.flapCfg;
    if (f?.readinessToggleMs && f.readinessToggleMs > 0) {
      if (Math.floor((Date.now() - f.startedAt) / f.readinessToggleMs) % 2 === 1) return 'disconnected';
    }
    if (this.readyAt !== null) {
      if (Date.now() < this.readyAt) return 'disconnected';
      this.readyAt = null;
    }
    return this.baseDb;
  }

  private dbUp(): boolean {
    return this.dbState() === 'connected';
  }

  private sortedRows(): KeyRecord[] {
    // source: _list_key_helper orders by created_at desc, then token desc
    return [...this.store.values()].sort(
      (a, b) => b.created_at.getTime() - a.created_at.getTime() || (a.token < b.token ? 1 : a.token > b.token ? -1 : 0),
    );
  }

  // ----- answers -----------------------------------------------------------------

  /** The OpenAI-style envelope of a ProxyException. `param` defaults to the string "None" like getattr(e, "param", "None"). */
  private perr(status: number, message: string, type: string, param: string | null = 'None'): Answer {
    return new Answer(status, {
      error: { message, type, param, code: this.flavor === 'legacy' ? status : String(status) },
    });
  }

  private write(res: ServerResponse, a: Answer): void {
    if (res.destroyed || res.writableEnded) return;
    const text =
      a.contentType === 'application/json' ? JSON.stringify(a.body) : typeof a.body === 'string' ? a.body : String(a.body);
    res.writeHead(a.status, {
      // uvicorn's Date header, by the stand-in's clock (advanceClock moves it).
      date: this.now().toUTCString(),
      ...a.headers,
      'content-type': a.contentType === 'application/json' ? 'application/json' : a.contentType,
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleepers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.sleepers.add(entry);
    });
  }

  private take(queue: FaultEntry[], path: string): FaultEntry | null {
    const e = queue.find((x) => x.remaining > 0 && (x.path === undefined || x.path === path));
    if (!e) return null;
    e.remaining -= 1;
    return e;
  }

  // ----- auth ----------------------------------------------------------------------

  /**
   * source: user_api_key_auth.get_api_key — first match wins: x-litellm-api-key (raw or "Bearer x"),
   * Authorization (must be "Bearer x"/"bearer x"/"Basic x", otherwise "" = malformed), API-Key,
   * x-api-key, x-goog-api-key, Ocp-Apim-Subscription-Key. undefined = no key passed.
   */
  private credential(req: IncomingMessage): string | undefined {
    const h = (name: string): string | undefined => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const stripPrefix = (v: string): string => {
      for (const p of ['Bearer ', 'Basic ', 'bearer ']) if (v.startsWith(p)) return v.slice(p.length);
      return v;
    };
    const custom = h('x-litellm-api-key');
    if (custom !== undefined) return stripPrefix(custom);
    const authz = h('authorization');
    if (authz !== undefined && authz.length > 0) {
      for (const p of ['Bearer ', 'Basic ', 'bearer ']) if (authz.startsWith(p)) return authz.slice(p.length);
      return '';
    }
    return h('api-key') ?? h('x-api-key') ?? h('x-goog-api-key') ?? h('ocp-apim-subscription-key');
  }

  private classify(req: IncomingMessage): StandInRequest['auth'] {
    const k = this.credential(req);
    if (k === undefined) return 'none';
    if (k !== '' && safeEqual(k, this.masterKey)) return 'master';
    if (k.startsWith('sk-') && (this.resolveToken(sha256Hex(k)) !== undefined || this.cachedKey(sha256Hex(k)) !== undefined)) return 'virtual';
    return 'invalid';
  }

  /** The master key is compared before any DB access; virtual keys need the DB. */
  private authenticate(req: IncomingMessage): Caller {
    const k = this.credential(req);
    if (k === undefined) return this.throwAuth('Authentication Error, No api key passed in.');
    if (k === '') return this.throwAuth('Authentication Error, Malformed API Key passed in. Ensure Key has `Bearer ` prefix.');
    if (safeEqual(k, this.masterKey)) return { kind: 'master' };
    if (!this.dbUp()) {
      if (this.old) return this.throwAuth('Authentication Error, No connected db.');
      throw this.perr(400, 'No connected db.', 'no_db_connection', null);
    }
    if (!k.startsWith('sk-')) {
      // source: HTTPException(401) re-raised by auth_exception_handler as auth_error with the detail as message
      return this.throwAuth(`LiteLLM Virtual Key expected. Received=${maskKey(k)}, expected to start with 'sk-'.`);
    }
    const hash0 = sha256Hex(k);
    // A stored row, an old token in its grace period, or (1.77) a key still in the 60 s auth cache.
    const cached = this.cachedKey(hash0);
    const resolved = this.resolveToken(hash0) ?? (cached ? { row: cached, hash: hash0 } : undefined);
    if (!resolved) {
      const hash = hash0;
      throw this.perr(
        401,
        `Authentication Error, Invalid proxy server token passed. Received API Key = ${abbreviate(k)}, Key Hash (Token) =${hash}. ` +
          'Unable to find token in cache or `LiteLLM_VerificationTokenTable`',
        'token_not_found_in_db',
        'key',
      );
    }
    const { row, hash } = resolved;
    if (row.blocked === true) {
      return this.throwAuth("Authentication Error, Key is blocked. Update via `/key/unblock` if you're an admin.");
    }
    const now = this.now();
    if (row.expires && row.expires.getTime() < now.getTime()) {
      // source: user_api_key_auth — 403 in old builds, 400 expired_key in 2025 to early-2026, 401 in the newest
      throw this.perr(
        this.expiredKeyStatus,
        `Authentication Error - Expired Key. Key Expiry time ${pyStrDate(row.expires)} and current time ${pyStrDate(now)}`,
        'expired_key',
        abbreviate(k),
      );
    }
    // source: user_api_key_auth -> RouteChecks.should_call_route, after the key itself checked out
    const route = new URL(req.url ?? '/', 'http://stand-in.invalid').pathname;
    if (!keyMayCallRoute(row.allowed_routes, route)) throw this.routeDenied(row.allowed_routes, route);
    if (this.old && !this.keyCache.has(hash)) this.keyCache.set(hash, { row, until: Date.now() + KEY_CACHE_TTL_MS });
    return { kind: 'virtual', row, hash };
  }

  private routeDenied(allowed: string[], route: string): Answer {
    if (this.routeDenial === 'plain-500') return new Answer(500, 'Internal Server Error', 'text/plain; charset=utf-8');
    return new Answer(403, {
      detail: `Virtual key is not allowed to call this route. Only allowed to call routes: ${pyRepr(allowed)}. Tried to call route: ${route}`,
    });
  }

  /**
   * A token as get_data resolves it: a stored row, or an old token of a regenerated key still in
   * its grace period (source: proxy/utils._lookup_deprecated_key, revoke_at > now), which then
   * authenticates as the row it points to (followed again if that one was regenerated too).
   */
  private resolveToken(token: string, depth = 0): { row: KeyRecord; hash: string } | undefined {
    const row = this.store.get(token);
    if (row) return { row, hash: token };
    const d = this.deprecated.get(token);
    if (!d || depth > 8) return undefined;
    if (d.revokeAt.getTime() <= this.now().getTime()) {
      this.deprecated.delete(token);
      return undefined;
    }
    return this.resolveToken(d.active, depth + 1);
  }

  /**
   * 1.77: a key that authenticated is read from user_api_key_cache for 60 s, so a row deleted
   * behind the proxy's back (SQL, a wipe) keeps working that long. The proxy's own writes
   * (/key/update, /key/delete, /key/block, /key/unblock) drop the entry (_delete_cache_key_object).
   */
  private cachedKey(hash: string): KeyRecord | undefined {
    const e = this.keyCache.get(hash);
    if (!e) return undefined;
    if (e.until > Date.now()) return e.row;
    this.keyCache.delete(hash);
    return undefined;
  }

  private throwAuth(message: string): never {
    throw this.perr(401, message, 'auth_error');
  }

  private requireAdmin(caller: Caller, route: string): void {
    if (caller.kind === 'master') return;
    this.throwAuth(
      `Authentication Error, Only proxy admin can be used to generate, delete, update info for new keys/users/teams. ` +
        `Route=${route}. Your role=unknown. Your user_id=${caller.row.user_id ?? 'None'}`,
    );
  }

  // ----- request entry ----------------------------------------------------------------

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in.invalid');
    const path = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();

    if (path === '/__stand-in' || path.startsWith('/__stand-in/')) {
      const body = await readBody(req);
      this.write(res, this.handleControl(req, method, path, body, res));
      return;
    }

    const rec: StandInRequest = { method, path, auth: this.classify(req), status: 0, at: Date.now() };
    this.requests.push(rec);
    // In flight from arrival until answered, reset or abandoned ('close' fires once in every case).
    this.inFlight++;
    if (this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
    res.once('close', () => this.inFlight--);
    const hook = this.hooks.findIndex((h) => h.path === path);
    if (hook !== -1) this.hooks.splice(hook, 1)[0]!.fn();

    if (this.take(this.hangs, path)) {
      this.hung.add(res);
      res.on('close', () => this.hung.delete(res));
      return;
    }
    if (this.take(this.resets, path)) {
      req.socket.destroy();
      return;
    }
    let extraDelay = 0;
    let flapError = false;
    const f = this.flapCfg;
    if (f) {
      const r1 = f.rng();
      const r2 = f.rng();
      const r3 = f.rng();
      if (r1 < (f.resetRate ?? 0)) {
        req.socket.destroy();
        return;
      }
      flapError = r2 < (f.errorRate ?? 0);
      extraDelay = Math.floor(r3 * (f.maxDelayMs ?? 0));
    }
    const fail = this.take(this.fails, path);

    const raw = await readBody(req);
    if (method !== 'GET' && path.startsWith('/model/')) rec.body = raw;
    if (method === 'POST' && path.startsWith('/key/')) {
      try {
        const body: unknown = JSON.parse(raw);
        if (isPlainObject(body)) {
          const k = body['key'];
          rec.sent = {
            fields: Object.keys(body),
            ...(typeof k === 'string' ? { key: k.startsWith('sk-') ? 'raw' : 'hash', token: hashIfNeeded(k) } : {}),
          };
        }
      } catch {
        /* not JSON: nothing to record */
      }
    }
    let answer: Answer;
    if (fail) {
      answer = this.injected(fail.status ?? 503, fail.body);
    } else if (flapError) {
      answer = this.injected(503, undefined);
    } else {
      try {
        answer = this.route(req, method, path, url.searchParams, raw);
      } catch (e) {
        if (e instanceof Answer) answer = e;
        else throw e;
      }
    }
    const delay = (this.delays.get(path) ?? this.delays.get('*') ?? 0) + extraDelay;
    if (delay > 0) await this.sleep(delay);
    if (res.destroyed) return;
    rec.status = answer.status;
    this.write(res, answer);
  }

  private injected(status: number, body: unknown): Answer {
    if (body === undefined) {
      return this.perr(status, `stand-in: injected failure (${status})`, 'stand_in_injected_failure');
    }
    return typeof body === 'string' ? new Answer(status, body, 'text/plain; charset=utf-8') : new Answer(status, body);
  }

  /** source: master_key_lockout.master_key_lockout_action, with stored credentials present. */
  private lockedOut(method: string, path: string): boolean {
    if (!this.masterKeyLockout) return false;
    if (method === 'GET') return path === '/model/info' || path === '/v1/model/info';
    return KEY_MANAGEMENT_WRITES.includes(path) || /^\/key\/.+\/regenerate$/.test(path) || LLM_ROUTES.includes(path);
  }

  private route(req: IncomingMessage, method: string, path: string, q: URLSearchParams, raw: string): Answer {
    const only = (m: string, fn: () => Answer): Answer =>
      method === m ? fn() : new Answer(405, { detail: 'Method Not Allowed' });
    const json = (): unknown => parseJson(raw);
    // A component's app keeps only its allowlisted routes: any other path is FastAPI's 404.
    if (this.component !== 'all' && path !== '/' && !COMPONENT_PREFIXES[this.component].some((p) => path.startsWith(p))) {
      return new Answer(404, { detail: 'Not Found' });
    }
    if (this.lockedOut(method, path)) {
      this.authenticate(req);
      throw this.perr(403, MASTER_KEY_LOCKOUT_MESSAGE, 'auth_error', 'master_key');
    }

    switch (path) {
      case '/health/liveliness':
      case '/health/liveness':
        return only('GET', () => new Answer(200, "I'm alive!"));
      case '/health/readiness':
        return only('GET', () => (this.old ? this.readiness177() : this.readiness(this.readinessShape)));
      case '/health/readiness/details':
        if (this.old) break;
        return only('GET', () => {
          this.authenticate(req);
          return this.readiness('details');
        });
      case '/key/generate':
        return only('POST', () => this.keyGenerate(this.authenticate(req), json()));
      case '/key/update':
        return only('POST', () => this.keyUpdate(this.authenticate(req), json()));
      case '/key/info':
        return only('GET', () => this.keyInfo(this.authenticate(req), q));
      case '/key/list':
        return only('GET', () => this.keyList(this.authenticate(req), q));
      case '/key/delete':
        return only('POST', () => this.keyDelete(this.authenticate(req), json()));
      case '/key/regenerate':
        return only('POST', () => this.keyRegenerate(this.authenticate(req), undefined, json()));
      case '/key/block':
      case '/key/unblock':
        return only('POST', () => this.keyBlock(this.authenticate(req), path, json()));
      case '/user/new':
        return only('POST', () => this.directoryCall(this.authenticate(req), path, () => this.directory.userNew(json())));
      case '/user/update':
        return only('POST', () => this.directoryCall(this.authenticate(req), path, () => this.directory.userUpdate(json())));
      case '/user/delete':
        return only('POST', () => this.directoryCall(this.authenticate(req), path, () => this.directory.userDelete(json())));
      case '/user/info':
        return only('GET', () => this.userInfo(this.authenticate(req), q));
      case '/user/list':
        return only('GET', () => this.directoryCall(this.authenticate(req), path, () => this.directory.userList(q)));
      case '/team/new':
        return only('POST', () => this.directoryCall(this.authenticate(req), path, () => this.directory.teamNew(json())));
      case '/team/update':
        return only('POST', () => this.directoryCall(this.authenticate(req), path, () => this.directory.teamUpdate(json())));
      case '/team/delete':
        return only('POST', () => this.directoryCall(this.authenticate(req), path, () => this.directory.teamDelete(json())));
      case '/team/info':
        return only('GET', () => this.directoryCall(this.authenticate(req), path, () => this.directory.teamInfo(q.get('team_id'))));
      case '/team/list':
        return only('GET', () => this.directoryCall(this.authenticate(req), path, () => this.directory.teamList(q.get('user_id'))));
      case '/v2/team/list':
        return only('GET', () => this.directoryCall(this.authenticate(req), path, () => this.directory.teamListV2(q)));
      case '/v1/models':
      case '/models':
        return only('GET', () => this.listModels(this.authenticate(req)));
      case '/chat/completions':
      case '/v1/chat/completions':
        return only('POST', () => this.chatCompletion(this.authenticate(req), json()));
      case '/model/info':
      case '/v1/model/info':
        return only('GET', () => this.modelInfo(this.authenticate(req)));
      // source: LiteLLM PR #16795 (November 2025) moved the admin-only /get/litellm_model_cost_map to the public route.
      case '/public/litellm_model_cost_map':
        if (this.old) break;
        return only('GET', () => new Answer(200, this.costMap));
      case '/get/litellm_model_cost_map':
        if (!this.old) break;
        return only('GET', () => {
          if (this.authenticate(req).kind !== 'master') throw this.perr(403, 'Only proxy admin can access this route.', 'auth_error', 'None');
          return new Answer(200, this.costMap);
        });
      case '/model/new':
        return only('POST', () => this.modelWrite(req, '/model/new', () => this.modelStore.add(json())));
      case '/model/update':
        return only('POST', () => this.modelWrite(req, '/model/update', () => this.modelStore.update(json())));
      case '/model/delete':
        return only('POST', () => this.modelWrite(req, '/model/delete', () => this.modelStore.delete(json())));
      default: {
        const patch = /^\/model\/([^/]+)\/update$/.exec(path);
        if (patch?.[1]) {
          const id = decodeURIComponent(patch[1]);
          return only('PATCH', () => this.modelWrite(req, '/model/{model_id}/update', () => this.modelStore.patch(id, json())));
        }
        const m = /^\/key\/(.+)\/regenerate$/.exec(path);
        if (m?.[1]) {
          const pathKey = decodeURIComponent(m[1]);
          return only('POST', () => this.keyRegenerate(this.authenticate(req), pathKey, json()));
        }
      }
    }
    return new Answer(404, { detail: 'Not Found' });
  }

  // ----- health --------------------------------------------------------------------------

  /**
   * source (1.77 _health_endpoints.health_readiness): with a database, {"status": "healthy",
   * "db": "connected", ..., **db_health_status} — the cache's {"status": "connected",
   * "last_updated"} overrides `status`; a failed DB check raises, answered
   * 503 {"detail": "Service Unhealthy (...)"}. Without a database: db "Not connected".
   */
  private readiness177(): Answer {
    const db = this.dbState();
    if (db === 'disconnected') {
      return new Answer(503, { detail: "Service Unhealthy (Can't reach database server at `llm-proxy-db:5432`)" });
    }
    const base = {
      status: 'healthy',
      db: db === 'connected' ? 'connected' : 'Not connected',
      cache: null,
      litellm_version: VERSION_1_77,
      success_callbacks: ['sync_deployment_callback_on_success', '_PROXY_track_cost_callback', '_PROXY_VirtualKeyModelMaxBudgetLimiter'],
      use_aiohttp_transport: true,
    };
    return new Answer(200, db === 'connected' ? { ...base, status: 'connected', last_updated: pyIso(new Date())?.replace('+00:00', '') } : base);
  }

  private readiness(shape: 'public' | 'details' | 'no-db'): Answer {
    const db = this.dbState();
    const status = db === 'disconnected' ? 503 : 200;
    const body = shape === 'details'
      ? {
          status: 'healthy',
          db,
          cache: null,
          litellm_version: STAND_IN_VERSION,
          success_callbacks: [],
          use_aiohttp_transport: true,
          log_level: 'WARNING',
          is_detailed_debug: false,
        }
      : shape === 'public'
        ? { status: 'healthy', db }
        : { status: 'healthy' };
    return new Answer(status, body);
  }

  // ----- key management ---------------------------------------------------------------------

  private dbNotConnected(): string {
    return this.old ? DB_NOT_CONNECTED_LEGACY : DB_NOT_CONNECTED_CURRENT;
  }

  private aliasTaken(alias: string, exceptToken?: string): boolean {
    for (const r of this.store.values()) if (r.key_alias === alias && r.token !== exceptToken) return true;
    return false;
  }

  /**
   * source: key_management_endpoints._validate_key_alias_format (runs before the uniqueness check).
   * `current`: the key's alias on /key/update — an unchanged alias is not checked (newest versions).
   */
  private checkAliasFormat(alias: string | null, current?: string | null): void {
    if (alias === null || (current !== undefined && alias === current)) return;
    if (this.flavor === 'current') this.checkAliasAlways(alias);
    const rule = this.keyAliasPattern;
    if (rule === undefined) return;
    if (rule === 'builtin') {
      if (!BUILTIN_ALIAS_RULE.test(alias)) throw this.perr(400, BUILTIN_ALIAS_MESSAGE, 'bad_request_error', 'key_alias');
      return;
    }
    if (alias.length > 255 || !new RegExp(`^(?:${rule})$`).test(alias)) {
      throw this.perr(
        400,
        `Invalid key_alias format. Must be at most 255 characters and match the configured key_alias_pattern: ${rule}`,
        'bad_request_error',
        'key_alias',
      );
    }
  }

  /**
   * The alias rules of every current LiteLLM, whatever its configuration (1.77 had none).
   * source: key_management_endpoints._validate_key_alias_format calls
   * secret_managers/base_secret_manager.raise_if_unsafe_secret_name unconditionally (PR #32092):
   * 400 "Invalid key_alias: Unsafe secret_name '<repr>': must not contain '..' or control characters".
   * Not modelled: PR #22384's refusal of "", "-" and whitespace-only aliases, which newest builds do not
   * apply on every route (LiteLLM issue #40705, Sept 2026: an update stores "" and a second "" is then
   * the uniqueness error), so "" stays an ordinary alias here.
   */
  private checkAliasAlways(alias: string): void {
    if (UNSAFE_SECRET_NAME.test(alias)) {
      throw this.perr(400, `Invalid key_alias: Unsafe secret_name ${pyRepr(alias)}: must not contain '..' or control characters`, 'bad_request_error', 'key_alias');
    }
  }

  private aliasError(alias: string): Answer {
    return this.perr(
      400,
      `Key with alias '${alias}' already exists. Unique key aliases across all keys are required.`,
      'bad_request_error',
      'key_alias',
    );
  }

  /** A DB row as Prisma's model_dump() hands it to FastAPI's jsonable_encoder. */
  private rowDump(r: KeyRecord): Record<string, unknown> {
    return {
      token: r.token,
      key_name: r.key_name,
      key_alias: r.key_alias,
      soft_budget_cooldown: false,
      spend: r.spend,
      expires: pyIso(r.expires),
      models: [...r.models],
      aliases: {},
      config: {},
      user_id: r.user_id,
      team_id: r.team_id,
      permissions: {},
      max_parallel_requests: r.max_parallel_requests,
      metadata: structuredClone(r.metadata),
      blocked: r.blocked,
      tpm_limit: r.tpm_limit,
      rpm_limit: r.rpm_limit,
      max_budget: r.max_budget,
      budget_duration: r.budget_duration,
      budget_reset_at: pyIso(r.budget_reset_at),
      allowed_cache_controls: [],
      allowed_routes: [...r.allowed_routes],
      ...this.rotationDump(r),
      model_spend: {},
      model_max_budget: {},
      budget_id: null,
      organization_id: null,
      object_permission_id: null,
      created_at: pyIso(r.created_at),
      created_by: r.created_by,
      updated_at: pyIso(r.updated_at),
      updated_by: r.updated_by,
      litellm_budget_table: null,
      litellm_organization_table: null,
      object_permission: null,
    };
  }

  /** The rotation columns (LiteLLM PR #14877); versions before it (legacy flavor) have none. */
  private rotationDump(r: KeyRecord): Record<string, unknown> {
    if (this.flavor === 'legacy') return {};
    return {
      auto_rotate: r.auto_rotate,
      rotation_interval: r.rotation_interval,
      rotation_count: r.rotation_count,
      last_rotation_at: pyIso(r.last_rotation_at),
      key_rotation_at: pyIso(r.key_rotation_at),
    };
  }

  /**
   * source: generate_key_fn — `user_custom_key_generate` first (decision False → HTTPException 403
   * with its message, answered as auth_error), then `upperbound_key_generate_params`: a value over
   * its bound → HTTPException 400 {"error": "<field> is over max limit set in config - user_value=..;
   * max_value=.."} (durations compared in seconds).
   */
  private keyPolicyCheck(data: Record<string, unknown>): void {
    const policy = this.keyPolicy;
    if (!policy) return;
    if (policy.customKeyGenerateDenial !== undefined) throw this.perr(403, policy.customKeyGenerateDenial, 'auth_error');
    const over = (field: string, value: unknown, bound: unknown) =>
      this.perr(400, pyRepr({ error: `${field} is over max limit set in config - user_value=${String(value)}; max_value=${String(bound)}` }), 'bad_request_error');
    const bound = policy.upperbound ?? {};
    if (bound.max_budget !== undefined && typeof data['max_budget'] === 'number' && data['max_budget'] > bound.max_budget) throw over('max_budget', data['max_budget'], bound.max_budget);
    if (bound.duration !== undefined && typeof data['duration'] === 'string') {
      const secs = (d: string) => addDuration(new Date(0), d).getTime();
      if (secs(data['duration']) > secs(bound.duration)) throw over('duration', data['duration'], bound.duration);
    }
  }

  private keyGenerate(caller: Caller, body: unknown): Answer {
    this.requireAdmin(caller, '/key/generate');
    const data = validateBody(body, GENERATE_FIELDS);
    if (!this.dbUp()) throw this.perr(500, pyRepr({ error: this.dbNotConnected() }), 'internal_server_error');
    const num = (k: string): number | null => (typeof data[k] === 'number' ? (data[k] as number) : null);
    const str = (k: string): string | null => (typeof data[k] === 'string' ? (data[k] as string) : null);
    for (const b of ['max_budget', 'soft_budget']) {
      const v = num(b);
      if (v !== null && v < 0) {
        throw this.perr(400, pyRepr({ error: `${b} cannot be negative. Received: ${pyFloat(v)}` }), 'internal_server_error');
      }
    }
    this.keyPolicyCheck(data);
    // model_dump(exclude_none=True): an explicit null is "not given"; "" is an alias like any other.
    const alias = str('key_alias');
    this.checkAliasFormat(alias);
    if (alias !== null && this.flavor !== 'legacy' && this.aliasTaken(alias)) throw this.aliasError(alias);
    const custom = str('key');
    if (custom !== null && !custom.startsWith('sk-')) {
      throw this.perr(
        400,
        pyRepr({ error: `Invalid key format. LiteLLM Virtual Key must start with 'sk-'. Received: ${maskKey(custom)}` }),
        'internal_server_error',
      );
    }
    const now = this.now();
    let expires: Date | null = null;
    const duration = str('duration');
    if (duration !== null) {
      try {
        // 1.77: generate_key_helper_fn computes expires with get_budget_reset_time(duration), the
        // budget-reset rounding (LiteLLM issue #15142, measured); newer versions add duration_in_seconds.
        expires = this.generateExpiry === 'calendar' ? budgetResetAt(now, duration) : addDuration(now, duration);
      } catch (e) {
        throw this.perr(500, (e as Error).message, 'internal_server_error');
      }
    }
    const budgetDuration = str('budget_duration');
    let resetAt: Date | null = null;
    if (budgetDuration !== null) {
      try {
        // source: generate_key_helper_fn → get_budget_reset_time; the ValueError becomes a 500 (handle_exception_on_proxy)
        resetAt = budgetResetAt(now, budgetDuration);
      } catch (e) {
        throw this.perr(500, (e as Error).message, 'internal_server_error');
      }
    }
    const raw = custom ?? newRawKey();
    const token = sha256Hex(raw);
    const keyType = str('key_type');
    // source: handle_key_type — a non-default key_type replaces allowed_routes; otherwise they are kept as sent
    const routes = keyType && keyType !== 'default'
      ? [...(KEY_TYPE_ROUTES[keyType] ?? [])]
      : Array.isArray(data['allowed_routes']) ? (data['allowed_routes'] as unknown[]).map(String) : [];
    // source: _set_key_rotation_fields — key_rotation_at = now + rotation_interval when both are given
    const autoRotate = typeof data['auto_rotate'] === 'boolean' ? data['auto_rotate'] : false;
    const interval = str('rotation_interval');
    let rotationAt: Date | null = null;
    if (autoRotate && interval !== null) {
      try {
        rotationAt = addDuration(now, interval);
      } catch (e) {
        throw this.perr(500, (e as Error).message, 'internal_server_error');
      }
    }
    const row: KeyRecord = {
      token,
      key_name: abbreviate(raw),
      key_alias: alias,
      models: Array.isArray(data['models']) ? (data['models'] as unknown[]).map(String) : [],
      user_id: str('user_id'),
      team_id: str('team_id'),
      metadata: isPlainObject(data['metadata']) ? structuredClone(data['metadata']) : {},
      expires,
      blocked: typeof data['blocked'] === 'boolean' ? data['blocked'] : null,
      max_budget: num('max_budget'),
      budget_duration: budgetDuration,
      budget_reset_at: resetAt,
      spend: num('spend') ?? 0,
      tpm_limit: num('tpm_limit'),
      rpm_limit: num('rpm_limit'),
      max_parallel_requests: num('max_parallel_requests'),
      allowed_routes: routes,
      auto_rotate: autoRotate,
      rotation_interval: interval,
      rotation_count: 0,
      last_rotation_at: null,
      key_rotation_at: rotationAt,
      created_at: now,
      updated_at: now,
      created_by: PROXY_ADMIN_NAME,
      updated_by: PROXY_ADMIN_NAME,
    };
    // source: PrismaClient.insert_data upserts with update={} — a custom key that already exists
    // leaves the stored row untouched (and the call still "succeeds").
    const existing = this.store.get(token);
    if (!existing) this.store.set(token, row);
    // source: generate_key_helper_fn upserts LiteLLM_UserTable for a user_id it does not know yet.
    // 1.77.2 (measured): a user row appears with the key; 1.81.9 answers /user/info 404 for such a user.
    if (this.old && row.user_id !== null && !this.directory.users.has(row.user_id)) this.directory.addUser(row.user_id, {});
    const created = existing?.created_at ?? now;
    // GenerateKeyResponse (response_model): every field, datetimes in pydantic's "Z" form, duration null.
    return new Answer(200, {
      key_alias: row.key_alias,
      duration: null,
      models: row.models,
      spend: row.spend,
      max_budget: row.max_budget,
      user_id: row.user_id,
      team_id: row.team_id,
      max_parallel_requests: row.max_parallel_requests,
      metadata: row.metadata,
      tpm_limit: row.tpm_limit,
      rpm_limit: row.rpm_limit,
      budget_duration: row.budget_duration,
      allowed_cache_controls: [],
      config: {},
      permissions: {},
      model_max_budget: {},
      model_rpm_limit: null,
      model_tpm_limit: null,
      guardrails: null,
      blocked: row.blocked,
      aliases: {},
      object_permission: null,
      key: raw,
      budget_id: null,
      tags: null,
      enforced_params: null,
      allowed_routes: row.allowed_routes,
      ...(this.flavor === 'legacy' ? {} : { auto_rotate: row.auto_rotate, rotation_interval: row.rotation_interval }),
      key_name: row.key_name,
      key_type: null,
      expires: pydIso(row.expires),
      token_id: token,
      organization_id: null,
      litellm_budget_table: null,
      token,
      created_by: PROXY_ADMIN_NAME,
      updated_by: PROXY_ADMIN_NAME,
      created_at: pydIso(created),
      updated_at: pydIso(created),
    });
  }

  /**
   * source: prepare_key_update_data — only the fields present are written; `duration` adds exact
   * seconds to now ("-1"/null: never expires); `budget_duration` restarts the calendar-aligned window;
   * auto_rotate with a rotation_interval sets key_rotation_at (_set_key_rotation_fields).
   * Shared by /key/update and /key/{key}/regenerate; `fail` shapes a ValueError as each route does.
   */
  private updatedFields(
    data: Record<string, unknown>,
    now: Date,
    renaming: boolean,
    fail: (message: string) => Answer,
  ): Partial<KeyRecord> {
    const next: Partial<KeyRecord> = {};
    if ('duration' in data) {
      const d = data['duration'];
      if (d === null || d === '-1') next.expires = null;
      else if (typeof d === 'string' && d.length > 0) {
        try {
          next.expires = addDuration(now, d);
        } catch (e) {
          throw fail((e as Error).message);
        }
      }
    }
    if (typeof data['budget_duration'] === 'string' && data['budget_duration'].length > 0) {
      try {
        // source: prepare_key_update_data → get_budget_reset_time; update_key_fn makes the ValueError a 400
        next.budget_reset_at = budgetResetAt(now, data['budget_duration']);
      } catch (e) {
        throw fail((e as Error).message);
      }
      next.budget_duration = data['budget_duration'];
    }
    for (const f of UPDATABLE) {
      if (!(f in data)) continue;
      if (f === 'key_alias' && !renaming) continue;
      const v = data[f];
      switch (f) {
        case 'models':
          if (Array.isArray(v)) next.models = v.map(String);
          break;
        case 'metadata':
          next.metadata = isPlainObject(v) ? structuredClone(v) : {};
          break;
        case 'spend':
          if (typeof v === 'number') next.spend = v;
          break;
        case 'blocked':
          next.blocked = typeof v === 'boolean' ? v : null;
          break;
        case 'auto_rotate':
          next.auto_rotate = typeof v === 'boolean' ? v : null;
          break;
        case 'allowed_routes':
          if (Array.isArray(v)) next.allowed_routes = v.map(String);
          break;
        case 'rotation_interval':
          next.rotation_interval = typeof v === 'string' ? v : null;
          break;
        case 'key_alias':
        case 'user_id':
        case 'team_id':
          next[f] = typeof v === 'string' ? v : null;
          break;
        default:
          next[f] = typeof v === 'number' ? v : null;
      }
    }
    if (next.auto_rotate === true && typeof data['rotation_interval'] === 'string') {
      try {
        next.key_rotation_at = addDuration(now, data['rotation_interval']);
      } catch (e) {
        throw fail((e as Error).message);
      }
    }
    return next;
  }

  private keyUpdate(caller: Caller, body: unknown): Answer {
    this.requireAdmin(caller, '/key/update');
    const data = validateBody(body, UPDATE_FIELDS);
    const key = typeof data['key'] === 'string' ? data['key'] : null;
    const aliasArg = typeof data['key_alias'] === 'string' ? data['key_alias'] : null;
    if (key === null) {
      if (this.old) {
        throw validationError([{ type: 'missing', loc: ['body', 'key'], msg: 'Field required', input: body }]);
      }
      if (aliasArg === null) {
        throw validationError([
          {
            type: 'value_error',
            loc: ['body'],
            msg: 'Value error, either key or key_alias must be provided',
            input: body,
            ctx: { error: {} },
          },
        ]);
      }
    }
    // Errors inside update_key_fn: HTTPException -> auth_error with the detail as message; other
    // exceptions -> 400 auth_error "Authentication Error, <str(e)>"; ProxyException passes through.
    if (typeof data['max_budget'] === 'number' && data['max_budget'] < 0) {
      throw this.perr(400, pyRepr({ error: `max_budget cannot be negative. Received: ${pyFloat(data['max_budget'])}` }), 'auth_error');
    }
    if (!this.dbUp()) throw this.perr(400, 'Authentication Error, Not connected to DB!', 'auth_error');

    let row: KeyRecord | undefined;
    let echo: string;
    let renaming = true;
    if (key !== null) {
      row = this.store.get(hashIfNeeded(key));
      echo = key;
      if (!row) {
        throw this.perr(
          401,
          `Authentication Error: invalid user key - user key does not exist in db. User Key=${key}`,
          'auth_error',
        );
      }
    } else {
      // current flavor, key omitted: key_alias names the key (must match exactly one key).
      // The exact wording of these two errors is the stand-in's (not checked against the source).
      const alias = aliasArg ?? '';
      const rows = [...this.store.values()].filter((r) => r.key_alias === alias);
      if (rows.length === 0) throw this.perr(404, pyRepr({ error: `Key with key_alias='${alias}' not found.` }), 'auth_error');
      if (rows.length > 1) {
        throw this.perr(400, pyRepr({ error: `Multiple keys have key_alias='${alias}'. Pass key instead.` }), 'auth_error');
      }
      row = rows[0] as KeyRecord;
      echo = row.token;
      renaming = false;
    }

    // source: key_management_endpoints.update_key_fn → is_different_team → validate_key_team_change: a key
    // moved into another team must belong to a member of it ("# Check if the key's user_id is a member of
    // the team"), else HTTPException(403), which update_key_fn answers as ProxyException auth_error 403 with
    // the detail as message. (The team's model and limit checks of the same function are not emulated.)
    const newTeam = typeof data['team_id'] === 'string' ? data['team_id'] : null;
    if (newTeam !== null && newTeam !== row.team_id) {
      const team = this.directory.team(newTeam);
      if (team && row.user_id !== null && !team.members_with_roles.some((m) => m.user_id === row!.user_id)) {
        throw this.perr(403, `User=${row.user_id} is not a member of the team=${newTeam}. Check team members via \`/team/info\`.`, 'auth_error');
      }
    }
    const now = this.now();
    // update_key_fn: a ValueError (bad duration) becomes 400 auth_error "Authentication Error, <e>"
    const next = this.updatedFields(data, now, renaming, (m) => this.perr(400, `Authentication Error, ${m}`, 'auth_error'));
    if (typeof next.key_alias === 'string') this.checkAliasFormat(next.key_alias, row.key_alias);
    if (typeof next.key_alias === 'string' && this.flavor !== 'legacy' && this.aliasTaken(next.key_alias, row.token)) {
      throw this.aliasError(next.key_alias);
    }
    Object.assign(row, next, { updated_at: now, updated_by: PROXY_ADMIN_NAME });
    return new Answer(200, { key: echo, ...this.rowDump(row) });
  }

  private keyInfo(caller: Caller, q: URLSearchParams): Answer {
    if (!this.dbUp()) throw this.perr(500, KEY_INFO_NO_DB, 'internal_server_error');
    // source: key = key or user_api_key_dict.api_key — for a virtual key that is its sha256 hash
    // (user_api_key_auth sets api_key = valid_token.token), so self-info echoes the HASH, never the raw key.
    const given = q.get('key');
    const key = given || (caller.kind === 'virtual' ? caller.hash : 'litellm_proxy_master_key');
    const row = this.store.get(hashIfNeeded(key));
    if (!row) throw this.perr(404, 'Key not found in database', 'not_found_error', 'key');
    if (caller.kind === 'virtual') {
      const allowed = caller.hash === key || row.user_id === caller.row.user_id; // source: _can_user_query_key_info
      if (!allowed) {
        throw this.perr(403, "You are not allowed to access this key's info. Your role=internal_user", 'internal_server_error');
      }
    }
    const info = this.rowDump(row);
    delete info['token'];
    return new Answer(200, { key, info });
  }

  private keyList(caller: Caller, q: URLSearchParams): Answer {
    const errors: unknown[] = [];
    const intParam = (name: string, dflt: number, ge: number, le?: number): number => {
      const v = q.get(name);
      if (v === null) return dflt;
      if (!/^-?\d+$/.test(v.trim())) {
        errors.push({
          type: 'int_parsing',
          loc: ['query', name],
          msg: 'Input should be a valid integer, unable to parse string as an integer',
          input: v,
        });
        return dflt;
      }
      const n = Number(v);
      if (n < ge) {
        errors.push({
          type: 'greater_than_equal',
          loc: ['query', name],
          msg: `Input should be greater than or equal to ${ge}`,
          input: v,
          ctx: { ge },
        });
      } else if (le !== undefined && n > le) {
        errors.push({
          type: 'less_than_equal',
          loc: ['query', name],
          msg: `Input should be less than or equal to ${le}`,
          input: v,
          ctx: { le },
        });
      }
      return n;
    };
    const page = intParam('page', 1, 1);
    const size = intParam('size', 10, 1, 100);
    let full = false;
    try {
      full = parseBoolQuery(q.get('return_full_object')) ?? false;
    } catch {
      errors.push({
        type: 'bool_parsing',
        loc: ['query', 'return_full_object'],
        msg: 'Input should be a valid boolean, unable to interpret input',
        input: q.get('return_full_object'),
      });
    }
    if (errors.length > 0) throw validationError(errors);
    if (!this.dbUp()) throw this.perr(500, 'Authentication Error, Database not connected', 'internal_server_error');
    if (caller.kind === 'virtual') {
      throw this.perr(
        403,
        "You are not authorized to access this endpoint. No 'user_id' is associated with your API key.",
        'bad_request_error',
        'user_id',
      );
    }
    const userId = q.get('user_id');
    const teamId = q.get('team_id');
    const keyHash = q.get('key_hash');
    const alias = this.flavor !== 'legacy' ? q.get('key_alias') : null; // legacy ignores it
    const rows = this.sortedRows().filter(
      (r) =>
        (!userId || r.user_id === userId) &&
        (!teamId || r.team_id === teamId) &&
        (!keyHash || r.token === keyHash) &&
        (!alias || r.key_alias === alias),
    );
    const total = rows.length;
    const slice = rows.slice((page - 1) * size, page * size);
    return new Answer(200, {
      keys: slice.map((r) => (full ? this.rowDump(r) : r.token)),
      total_count: total,
      current_page: page,
      total_pages: Math.ceil(total / size),
    });
  }

  private keyDelete(caller: Caller, body: unknown): Answer {
    this.requireAdmin(caller, '/key/delete');
    const data = validateBody(body, DELETE_FIELDS);
    const keys = Array.isArray(data['keys']) ? (data['keys'] as unknown[]).map(String) : [];
    const aliases = Array.isArray(data['key_aliases']) ? (data['key_aliases'] as unknown[]).map(String) : [];
    if (keys.length === 0 && aliases.length === 0) {
      throw validationError([
        {
          type: 'value_error',
          loc: ['body'],
          msg: "Value error, At least one of 'keys' or 'key_aliases' must be provided.",
          input: body,
          ctx: { error: {} },
        },
      ]);
    }
    if (!this.dbUp()) throw this.perr(500, 'Not connected to DB!', 'internal_server_error');
    // source: `if data.keys: ... elif data.key_aliases:` — keys win when both are given;
    // the response echoes what was sent (keys as sent, or the aliases).
    const tokens =
      keys.length > 0
        ? keys.map(hashIfNeeded)
        : [...this.store.values()].filter((r) => r.key_alias !== null && aliases.includes(r.key_alias)).map((r) => r.token);
    const found = tokens.filter((t) => this.store.has(t));
    if (found.length === 0) throw this.perr(404, pyRepr({ error: 'No keys found' }), 'internal_server_error');
    for (const t of found) {
      this.store.delete(t);
      this.keyCache.delete(t);
    }
    return new Answer(200, { deleted_keys: keys.length > 0 ? keys : aliases });
  }

  /**
   * source: key_management_endpoints.regenerate_key_fn / _execute_virtual_key_regeneration:
   * Enterprise-only; the key comes from body.key or the path ("sk" not in it = already a hash);
   * the row keeps its identity (alias, spend, budget window, created_at) and gets a new token; the
   * body's fields are applied as /key/update applies them; `grace_period` (or
   * LITELLM_KEY_ROTATION_GRACE_PERIOD) keeps the old key working until then (_insert_deprecated_key:
   * an unparseable or non-positive grace is ignored = revoke at once).
   */
  private keyRegenerate(caller: Caller, pathKey: string | undefined, body: unknown): Answer {
    this.requireAdmin(caller, '/key/regenerate');
    const data = body === undefined ? {} : validateBody(body, REGENERATE_FIELDS);
    if (!this.enterprise) {
      throw this.perr(500, `Regenerating Virtual Keys is an Enterprise feature, ${NOT_PREMIUM}`, 'internal_server_error');
    }
    const key = (typeof data['key'] === 'string' && data['key']) || pathKey;
    if (!key) throw this.perr(400, pyRepr({ error: 'No key passed in.' }), 'internal_server_error');
    if (!this.dbUp()) throw this.perr(500, pyRepr({ error: 'DB not connected. prisma_client is None' }), 'internal_server_error');
    const hash = key.includes('sk') ? sha256Hex(key) : key; // source: `if "sk" not in key: hashed_api_key = key`
    const row = this.store.get(hash);
    if (!row) throw this.perr(404, pyRepr({ error: `Key ${key} not found.` }), 'internal_server_error');
    let raw = newRawKey();
    if (typeof data['new_key'] === 'string') {
      if (!data['new_key'].startsWith('sk-')) {
        throw this.perr(
          400,
          pyRepr({
            error:
              "New key must start with 'sk-'. This is to distinguish a key hash (used by litellm for logging / internal logic) from the actual key.",
          }),
          'internal_server_error',
        );
      }
      raw = data['new_key'];
    }
    const now = this.now();
    // handle_exception_on_proxy: a ValueError inside becomes a 500
    const next = this.updatedFields(data, now, true, (m) => this.perr(500, m, 'internal_server_error'));
    if (typeof next.key_alias === 'string') {
      this.checkAliasFormat(next.key_alias, row.key_alias);
      if (this.flavor === 'current' && this.aliasTaken(next.key_alias, row.token)) throw this.aliasError(next.key_alias);
    }
    Object.assign(row, next, { updated_at: now, updated_by: PROXY_ADMIN_NAME });
    const grace = typeof data['grace_period'] === 'string' && data['grace_period'] !== '' ? data['grace_period'] : this.keyRotationGracePeriod;
    this.retoken(row, raw, grace, now);
    const dump = this.rowDump(row);
    delete dump['token'];
    return new Answer(200, {
      ...dump,
      expires: pydIso(row.expires),
      created_at: pydIso(row.created_at),
      updated_at: pydIso(row.updated_at),
      key: raw,
      token_id: row.token,
      token: null,
      duration: null,
    });
  }

  /** The row's token becomes sha256(raw); with a positive grace the old token stays in the deprecated table until then. */
  private retoken(row: KeyRecord, raw: string, grace: string | undefined, now: Date): void {
    const old = row.token;
    this.store.delete(old);
    this.keyCache.delete(old);
    row.token = sha256Hex(raw);
    row.key_name = abbreviate(raw);
    this.store.set(row.token, row);
    if (grace === undefined) return;
    let revokeAt: Date;
    try {
      revokeAt = addDuration(now, grace);
    } catch {
      return; // source: "Invalid grace_period format ... Expected format like '24h', '2d'." (a warning only)
    }
    if (revokeAt.getTime() <= now.getTime()) return;
    this.deprecated.set(old, { active: row.token, revokeAt }); // upsert on the old token
  }

  rotateKey(rawOrHash: string): { key: string; token: string } {
    const row = this.mustFind(rawOrHash);
    const raw = newRawKey();
    const now = this.now();
    this.retoken(row, raw, this.keyRotationGracePeriod, now);
    row.updated_at = now;
    // source: KeyRotationManager._rotate_key — the rotation columns move only for a key with an interval
    if (row.rotation_interval) {
      row.rotation_count = (row.rotation_count ?? 0) + 1;
      row.last_rotation_at = now;
      try {
        row.key_rotation_at = addDuration(now, row.rotation_interval);
      } catch {
        row.key_rotation_at = null;
      }
    }
    return { key: raw, token: row.token };
  }

  runKeyRotations(): string[] {
    // source: KeyRotationManager._find_keys_needing_rotation: auto_rotate and (key_rotation_at null or <= now)
    const now = this.now().getTime();
    const due = [...this.store.values()].filter(
      (r) => r.auto_rotate === true && (r.key_rotation_at === null || r.key_rotation_at.getTime() <= now),
    );
    return due.map((r) => {
      const old = r.token;
      this.rotateKey(old);
      return old;
    });
  }

  /**
   * source: key_management_endpoints.block_key / unblock_key (master key): body {"key": raw or
   * hash}; sets `blocked` and answers the updated LiteLLM_VerificationToken row; drops the key
   * from the auth cache. Unknown key → 404 "Key=<key> not found" (wording the stand-in's).
   */
  private keyBlock(caller: Caller, path: string, body: unknown): Answer {
    this.requireAdmin(caller, path);
    const data = validateBody(body, { key: 'str' });
    if (typeof data['key'] !== 'string') {
      throw validationError([{ type: 'missing', loc: ['body', 'key'], msg: 'Field required', input: body }]);
    }
    if (!this.dbUp()) throw this.perr(500, this.dbNotConnected(), 'internal_server_error');
    const row = this.store.get(hashIfNeeded(data['key']));
    if (!row) throw this.perr(404, `Key=${data['key']} not found`, 'bad_request_error', 'key');
    row.blocked = path === '/key/block';
    row.updated_at = new Date();
    this.keyCache.delete(row.token);
    return new Answer(200, this.rowDump(row));
  }

  // ----- teams and users (stand-in-teams.ts) ----------------------------------------------------

  /** The directory's half of the stand-in: its keys, clock and database state. */
  private directoryHost(): DirectoryHost {
    const matching = (pred: (k: { user_id: string | null; team_id: string | null; expires: Date | null }) => boolean) =>
      this.sortedRows().filter((r) => pred({ user_id: r.user_id, team_id: r.team_id, expires: r.expires }));
    return {
      dbUp: () => this.dbUp(),
      dbNotConnected: () => this.dbNotConnected(),
      now: () => this.now(),
      budgetResetAt: (now, duration) => budgetResetAt(now, duration),
      iso: (d) => pyIso(d),
      validate: (body, fields) => validateBody(body, fields),
      keyRows: (pred) => matching(pred).map((r) => this.rowDump(r)),
      // delete_many on LiteLLM_VerificationToken: the auth cache is not told (unlike /key/delete).
      deleteKeys: (pred) => {
        const gone = matching(pred);
        for (const r of gone) this.store.delete(r.token);
        return gone.length;
      },
      generateKey: (body) => this.keyGenerate({ kind: 'master' }, body).body as Record<string, unknown>,
    };
  }

  /** Runs a directory handler; its failures answer as LiteLLM's do (envelope, or FastAPI's {"detail"}). */
  private directoryCall(caller: Caller, route: string, fn: () => unknown): Answer {
    this.requireAdmin(caller, route);
    try {
      return new Answer(200, fn());
    } catch (e) {
      if (!(e instanceof DirectoryError)) throw e;
      if (e.detail !== undefined) throw new Answer(e.status, { detail: e.detail });
      throw this.perr(e.status, e.message, e.type, e.param);
    }
  }

  /** GET /user/info: a key may read its own user (source: user_info falls back to the caller's user_id). */
  private userInfo(caller: Caller, q: URLSearchParams): Answer {
    const userId = q.get('user_id');
    if (caller.kind === 'virtual' && userId !== null && userId !== caller.row.user_id) {
      throw this.perr(403, "You are not allowed to access this user's info.", 'auth_error');
    }
    const own = caller.kind === 'virtual' ? caller.row.user_id : null;
    return this.directoryCall({ kind: 'master' }, '/user/info', () => this.directory.userInfo(userId, own, caller.kind === 'master'));
  }

  // ----- models -------------------------------------------------------------------------------

  /** Config models and stored deployments: what the router serves. */
  private servedNames(): string[] {
    return [...new Set([...this.models, ...this.modelStore.names()])];
  }

  private visibleModels(caller: Caller): string[] {
    if (caller.kind === 'master') return this.servedNames();
    const km = caller.row.models;
    if (km.length === 0 || km.includes('*') || km.includes('all-proxy-models')) return this.servedNames();
    const out: string[] = [];
    for (const m of km) {
      if (m.includes('*')) {
        const re = globToRegExp(m);
        for (const s of this.servedNames()) if (re.test(s)) out.push(s);
      } else out.push(m);
    }
    return [...new Set(out)];
  }

  /** source: _virtual_key_max_budget_check → BudgetExceededError, answered with budgetExceededStatus. */
  private budgetExceeded(r: { spend: number; max_budget: number | null }): Answer {
    return this.perr(this.budgetExceededStatus, `Budget has been exceeded! Current cost: ${pyFloat(r.spend)}, Max budget: ${pyFloat(r.max_budget ?? 0)}`, 'budget_exceeded', null);
  }

  private listModels(caller: Caller): Answer {
    if (caller.kind === 'virtual') {
      const r = caller.row;
      // source: _virtual_key_max_budget_check runs on LLM API routes (the /models routes are among them)
      if (r.max_budget !== null && r.spend >= r.max_budget) {
        throw this.budgetExceeded(r);
      }
    }
    return new Answer(200, {
      data: this.visibleModels(caller).map((id) => ({ id, object: 'model', created: 1677610602, owned_by: 'openai' })),
      object: 'list',
    });
  }

  private modelInfo(caller: Caller): Answer {
    const visible = new Set(this.visibleModels(caller));
    return new Answer(200, {
      data: [
        ...this.models
          .filter((m) => visible.has(m))
          .map((m) => ({
            model_name: m,
            litellm_params: { model: m.includes('/') ? m : `${m.startsWith('claude') ? 'anthropic' : 'openai'}/${m}` },
            model_info: { id: sha256Hex(`model:${m}`).slice(0, 32), db_model: false, key: m, mode: 'chat' },
          })),
        // Stored deployments (source: model_info_v1 lists config and DB models alike).
        ...this.modelStore.infoRows().filter((r) => caller.kind === 'master' || visible.has(r['model_name'] as string)),
      ],
    });
  }

  /**
   * The /model/* writes: proxy admin only, a database, then model storage (source: proxy_server.add_new_model
   * checks prisma_client, then store_model_in_db); a config model's id cannot be changed.
   */
  private modelWrite(req: IncomingMessage, route: string, fn: () => Record<string, unknown>): Answer {
    this.requireAdmin(this.authenticate(req), route);
    if (!this.dbUp()) throw this.perr(500, pyRepr({ error: this.dbNotConnected() }), 'internal_server_error');
    try {
      return new Answer(200, fn());
    } catch (e) {
      if (!(e instanceof ModelRouteError)) throw e;
      if (e.plain) return new Answer(e.status, e.message, 'text/plain; charset=utf-8');
      throw this.perr(e.status, e.message, e.type);
    }
  }


  // ----- chat completions (self-contained) ------------------------------------------------------
  //
  // The proxy_config.yaml of this repo routes `openai/*` with `api_key: os.environ/OPENAI_API_KEY`
  // (`anthropic/*` likewise): LiteLLM sends whatever its environment holds upstream, unjudged. The
  // stand-in plays the upstream too, and judges the key as a provider does: by its own table of the
  // keys it issued (`upstreamKeys`, looked up by sha256). A key it never issued (a template
  // placeholder, a LiteLLM virtual key, the master key, anything else) gets what LiteLLM relays for
  // an upstream auth failure:
  // 401 {"error": {"message": "litellm.AuthenticationError: AuthenticationError: OpenAIException - ...",
  // "type": "auth_error", "param": "None", "code": "401"}} (the message names the model group);
  // 1.77 answers a provider key missing altogether with a 500 and the same message.
  // The sha256 of the upstream key used comes back in the x-stand-in-upstream-key-sha256 header.

  /** `openai/gpt-4o-mini` → openai; a bare name → openai, or anthropic for claude-*. */
  private static providerOf(model: string): string {
    const slash = model.indexOf('/');
    if (slash > 0) return model.slice(0, slash);
    return model.startsWith('claude') ? 'anthropic' : 'openai';
  }

  private static exceptionName(provider: string): string {
    const known: Record<string, string> = { openai: 'OpenAIException', anthropic: 'AnthropicException' };
    return known[provider] ?? `${provider.charAt(0).toUpperCase()}${provider.slice(1)}Exception`;
  }

  private upstreamAuthError(provider: string, model: string, detail: string, status = 401): Answer {
    return this.perr(
      status,
      `litellm.AuthenticationError: AuthenticationError: ${StandIn.exceptionName(provider)} - ${detail}\n` +
        `Received Model Group=${model}\nAvailable Model Group Fallbacks=None`,
      'auth_error',
      'None',
    );
  }

  private chatCompletion(caller: Caller, body: unknown): Answer {
    if (!isPlainObject(body) || typeof body['model'] !== 'string' || body['model'] === '') {
      throw this.perr(400, 'Invalid model name passed in model=None. Call `/v1/models` to view available models for your key.', 'invalid_request_error', 'model');
    }
    const model = body['model'];
    const messages = body['messages'];
    if (!Array.isArray(messages) || messages.length === 0) {
      throw this.perr(400, 'litellm.BadRequestError: messages is required and must be a non-empty list', 'invalid_request_error', 'messages');
    }
    // The key may use the model (source: auth_checks.can_key_call_model, wildcards in the key's list included).
    if (caller.kind === 'virtual') {
      const r = caller.row;
      if (r.max_budget !== null && r.spend >= r.max_budget) {
        throw this.budgetExceeded(r);
      }
      const km = r.models;
      const allowed = km.length === 0 || km.includes('*') || km.includes('all-proxy-models') || km.some((k) => servedBy(k, model));
      if (!allowed) {
        throw this.perr(401, `key not allowed to access model. This key can only access models=${pyRepr(km)}. Tried to access ${model}`, 'key_model_access_denied', 'model');
      }
      // source: auth_checks.common_checks "# 2. If team can call model" (can_team_access_model): a team's models
      // bound every key of the team, whatever models the key itself was given.
      const team = r.team_id === null ? undefined : this.directory.team(r.team_id);
      const tm = team?.models ?? [];
      if (team && tm.length > 0 && !tm.includes('all-proxy-models') && !tm.some((t) => servedBy(t, model))) {
        throw this.perr(401, `Team not allowed to access model. Team=${team.team_id}, Model=${model}. Allowed team models = ${pyRepr(tm)}`, 'team_model_access_denied', 'model');
      }
    }
    // The router serves it: exactly, or through a wildcard model_name such as `openai/*` (see servedBy);
    // a stored deployment is routed by its own litellm_params.
    const stored = this.models.some((served) => servedBy(served, model)) ? undefined : this.modelStore.deploymentFor(model, servedBy);
    if (stored === undefined && !this.models.some((served) => servedBy(served, model))) {
      if (this.modelStore.isDead(model)) {
        throw this.perr(400, `litellm.BadRequestError: There are no healthy deployments for this model. Received Model Group=${model}`, 'None', 'None');
      }
      throw this.perr(400, `/chat/completions: Invalid model name passed in model=${model}. Call \`/v1/models\` to view available models for your key.`, 'invalid_request_error', 'model');
    }
    const target = typeof stored?.litellm_params['model'] === 'string' ? (stored.litellm_params['model'] as string).replace('*', model.slice(model.indexOf('/') + 1)) : model;
    const provider = StandIn.providerOf(target);
    // `api_key: os.environ/NAME` reads the proxy's environment; a deployment with an api_base and no
    // api_key (a local runtime such as Ollama) needs no key.
    const keyRef = stored?.litellm_params['api_key'];
    if (stored && keyRef === undefined && typeof stored.litellm_params['api_base'] === 'string') return this.completionAnswer(model, messages, undefined);
    const variable = typeof keyRef === 'string' && keyRef.startsWith('os.environ/') ? keyRef.slice('os.environ/'.length) : `${provider.toUpperCase().replace(/-/g, '_')}_API_KEY`;
    const upstreamKey = typeof keyRef === 'string' && !keyRef.startsWith('os.environ/') ? keyRef : (this.upstreamEnv[variable] ?? '');
    if (upstreamKey.trim() === '') {
      return this.upstreamAuthError(
        provider,
        model,
        `The api_key client option must be set either by passing api_key to the client or by setting the ${variable} environment variable`,
        // 1.77: the openai client raises before any request; the proxy answers it as a 500.
        this.old ? 500 : 401,
      );
    }
    if (!this.upstreamKeyTable.has(sha256Hex(upstreamKey))) {
      return this.upstreamAuthError(
        provider,
        model,
        `Error code: 401 - {'error': {'message': 'Incorrect API key provided: ${maskKey(upstreamKey)}. You can find your API key at https://platform.openai.com/account/api-keys.', 'type': 'invalid_request_error', 'param': None, 'code': 'invalid_api_key'}}`,
      );
    }
    return this.completionAnswer(model, messages, upstreamKey);
  }

  private completionAnswer(model: string, messages: unknown[], upstreamKey: string | undefined): Answer {
    const last = messages[messages.length - 1] as unknown;
    const prompt = isPlainObject(last) && typeof last['content'] === 'string' ? last['content'] : '';
    const content = `Hello from the stand-in's ${model}.`;
    const promptTokens = Math.max(1, Math.ceil(prompt.length / 4));
    const completionTokens = Math.ceil(content.length / 4);
    const answer = new Answer(200, {
      id: `chatcmpl-${randomBytes(12).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: model.slice(model.indexOf('/') + 1),
      system_fingerprint: null,
      choices: [{ index: 0, message: { role: 'assistant', content, tool_calls: null, function_call: null }, finish_reason: 'stop' }],
      usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    });
    if (upstreamKey !== undefined) answer.headers['x-stand-in-upstream-key-sha256'] = sha256Hex(upstreamKey);
    return answer;
  }

  // ----- control API ------------------------------------------------------------------------------

  private handleControl(req: IncomingMessage, method: string, path: string, raw: string, res: ServerResponse): Answer {
    const k = this.credential(req);
    if (k === undefined || k === '' || !safeEqual(k, this.masterKey)) {
      return new Answer(401, { detail: 'stand-in control API: Bearer <master key> required' });
    }
    if (path === '/__stand-in/state' && method === 'GET') return new Answer(200, this.state());
    if (path === '/__stand-in/control' && method === 'POST') {
      let body: unknown;
      try {
        body = raw === '' ? {} : JSON.parse(raw);
      } catch {
        return new Answer(400, { detail: 'stand-in control API: body must be JSON' });
      }
      if (!isPlainObject(body) || typeof body['op'] !== 'string') {
        return new Answer(400, { detail: 'stand-in control API: {"op": "..."} required' });
      }
      try {
        return new Answer(200, { ok: true, ...this.applyControl(body, res) });
      } catch (e) {
        return new Answer(400, { detail: `stand-in control API: ${(e as Error).message}` });
      }
    }
    return new Answer(404, { detail: 'Not Found' });
  }

  private state(): Record<string, unknown> {
    const byRoute: Record<string, number> = {};
    for (const r of this.requests) byRoute[`${r.method} ${r.path}`] = (byRoute[`${r.method} ${r.path}`] ?? 0) + 1;
    return {
      requests: this.requests,
      keys: this.keys(),
      counts: { total: this.requests.length, byRoute, inFlight: this.inFlight, maxInFlight: this.maxInFlight },
      db: this.dbState(),
      flavor: this.flavor,
      models: this.models,
      storedModels: this.modelStore.all(),
      deprecated: this.deprecatedKeys(),
      now: this.now().toISOString(),
      listening: this.listening,
      readySince: this.readySince,
      faults: {
        failNext: this.fails.filter((f) => f.remaining > 0),
        resetNext: this.resets.filter((f) => f.remaining > 0),
        hangNext: this.hangs.filter((f) => f.remaining > 0),
        delays: Object.fromEntries(this.delays),
        flap: this.flapCfg ? { ...this.flapCfg, rng: undefined } : null,
      },
    };
  }

  /**
   * Ops: failNext {n,status?,path?,body?} | resetNext {n,path?} | hangNext {n,path?} |
   * setDelay {ms,path?} | flap {seed,errorRate?,resetRate?,maxDelayMs?,readinessToggleMs?} (no seed = off) |
   * clearFaults | setDb {state} | wipe | resetRequests | expireKey {key, inMs?} | blockKey {key} |
   * addKey {row} -> {key} | setMasterKey {key} | restart {downMs?} (answers, then stops and listens again) |
   * rotateKey {key} -> {key, token} (the proxy's auto-rotation of one key) | runKeyRotations -> {rotated}
   * (one pass of the rotation job) | advanceClock {ms} -> {now}.
   */
  private applyControl(b: Record<string, unknown>, res: ServerResponse): Record<string, unknown> {
    const n = (): number => {
      const v = b['n'];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error('n must be a non-negative integer');
      return v;
    };
    const optPath = (): { path?: string } => (typeof b['path'] === 'string' ? { path: b['path'] } : {});
    const str = (name: string): string => {
      const v = b[name];
      if (typeof v !== 'string') throw new Error(`${name} must be a string`);
      return v;
    };
    switch (b['op']) {
      case 'failNext':
        this.failNext(n(), {
          ...optPath(),
          ...(typeof b['status'] === 'number' ? { status: b['status'] } : {}),
          ...('body' in b ? { body: b['body'] } : {}),
        });
        return {};
      case 'resetNext':
        this.resetNext(n(), optPath());
        return {};
      case 'hangNext':
        this.hangNext(n(), optPath());
        return {};
      case 'setDelay': {
        const ms = b['ms'];
        if (typeof ms !== 'number' || ms < 0) throw new Error('ms must be a non-negative number');
        this.setDelay(ms, optPath());
        return {};
      }
      case 'flap': {
        if (typeof b['seed'] !== 'number') {
          this.flap(null);
          return {};
        }
        const o: StandInFlapOptions = { seed: b['seed'] };
        for (const f of ['errorRate', 'resetRate', 'maxDelayMs', 'readinessToggleMs'] as const) {
          const v = b[f];
          if (typeof v === 'number') o[f] = v;
        }
        this.flap(o);
        return {};
      }
      case 'clearFaults':
        this.clearFaults();
        return {};
      case 'setDb':
        this.setDb(str('state') as StandInDbState);
        return {};
      case 'wipe':
        this.wipe();
        return {};
      case 'resetRequests':
        this.resetRequests();
        return {};
      case 'expireKey':
        this.expireKey(str('key'), typeof b['inMs'] === 'number' ? b['inMs'] : undefined);
        return {};
      case 'rotateKey':
        return this.rotateKey(str('key'));
      case 'runKeyRotations':
        return { rotated: this.runKeyRotations() };
      case 'advanceClock': {
        const ms = b['ms'];
        if (typeof ms !== 'number' || !Number.isFinite(ms)) throw new Error('ms must be a number');
        this.advanceClock(ms);
        return { now: this.now().toISOString() };
      }
      case 'blockKey':
        this.blockKey(str('key'));
        return {};
      case 'addKey': {
        const row = isPlainObject(b['row']) ? b['row'] : {};
        return { key: this.addKey(row as Partial<StandInKeyRow> & { key?: string }) };
      }
      case 'setMasterKey':
        this.setMasterKey(str('key'));
        return {};
      case 'restart': {
        const downMs = typeof b['downMs'] === 'number' ? b['downMs'] : 0;
        res.once('finish', () => {
          void this.stop().then(() => {
            if (this.closed) return;
            this.restartTimer = setTimeout(() => {
              this.restartTimer = null;
              if (!this.closed) void this.start().catch(() => undefined);
            }, downMs);
          });
        });
        return {};
      }
      default:
        throw new Error(`unknown op ${String(b['op'])}`);
    }
  }
}

function parseJson(raw: string): unknown {
  if (raw.trim() === '') return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    throw validationError([
      { type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } },
    ]);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 1_048_576) chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(''));
    req.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

/** A free loopback port (listen on 0, read it, close). */
export async function reservePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Start a stand-in. Resolves once listening — or at once when listenAfterMs is set
 * (the port is reserved up front; use `whenListening()` to wait).
 */
export async function startLiteLLMStandIn(opts: StandInOptions): Promise<LiteLLMStandIn> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port && opts.port > 0 ? opts.port : await reservePort(host === '0.0.0.0' ? '127.0.0.1' : host);
  const si = new StandIn(opts, port);
  if (opts.listenAfterMs !== undefined && opts.listenAfterMs > 0) si.scheduleListen(opts.listenAfterMs);
  else await si.start();
  return si;
}
