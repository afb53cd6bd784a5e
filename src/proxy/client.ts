/**
 * A small client for LiteLLM's management API (see shared/litellm-api.md).
 * Every request has a timeout; errors are typed so callers can tell "retry"
 * from "give up"; no secret ever goes into a URL.
 */
import { request, type Dispatcher } from 'undici';
import { certificateProblem, createDispatcher, errorCode } from '../http/dispatcher.ts';
import type * as z from 'zod';
import { isOtherGenerationRoute, missingManagementRoutes, statesInvalidRequest } from './refusals.ts';
import { registerSecret, scrub } from '../log/redact.ts';
import { ConfigError, ProxyRefusedError } from '../errors.ts';
import { ProxyClock } from './clock.ts';
import { checkAnswer, generateAnswer, LITELLM_KEY_SHAPE, keyInfoAnswer, keyListAnswer, modelCostMapAnswer, modelInfoAnswer, ShapeError, teamListAnswer, userListAnswer, type keyInfoSchema } from '../http/shape.ts';

/** The proxy answered with a non-2xx status. `message` is the proxy's own, read per the error envelope. */
export class ProxyHttpError extends Error {
  constructor(
    readonly method: string,
    readonly route: string,
    readonly status: number,
    readonly type: string | undefined,
    readonly proxyMessage: string,
  ) {
    super(`${method} ${route} answered ${status}${type ? ` ${type}` : ''}: ${proxyMessage}`);
    this.name = 'ProxyHttpError';
  }
}

/** No answer: connection refused/reset, DNS, timeout. */
export class ProxyNetworkError extends Error {
  constructor(
    readonly method: string,
    readonly route: string,
    readonly code: string,
    detail: string,
  ) {
    super(`${method} ${route} failed: ${code}${detail ? ` (${detail})` : ''}`);
    this.name = 'ProxyNetworkError';
  }
}

/** Worth retrying: the same request may succeed later. */
export function isTransient(err: unknown): boolean {
  if (err instanceof ProxyNetworkError) return true;
  if (err instanceof ProxyHttpError) {
    // A 5xx that states a validation error (LiteLLM: /key/generate with budget_duration 2mo) will not change.
    if (err.status === 408 || err.status === 429 || err.status >= 500) return !statesInvalidRequest(err);
    // Newer proxies: a wrong key while the DB is down → 400 no_db_connection.
    return err.type === 'no_db_connection' || saysNoDatabase(err);
  }
  return false;
}

/** The proxy's words for "no database connection" (LiteLLM's wording varies by version): one pattern for every check. */
export function saysNoDatabase(err: ProxyHttpError): boolean {
  return /(db|database) not connected|not connected to (db|database)|no connected db/i.test(err.proxyMessage);
}

const MAX_MESSAGE = 300;

/**
 * The proxy's text as shown: scrubbed of every registered secret first, then cut (cutting first
 * would leave the start of a secret that straddles the cut, which the scrubber no longer knows
 * whole), then scrubbed again for pieces (log/redact.ts).
 */
function clip(text: string): string {
  return scrub(scrub(text).slice(0, MAX_MESSAGE));
}

/** error.message → detail → raw text, in that order; never assumes JSON. */
export function proxyErrorMessage(text: string): { message: string; type: string | undefined } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { message: clip(text.trim()) || '(empty body)', type: undefined };
  }
  if (body && typeof body === 'object') {
    const error = (body as { error?: unknown }).error;
    if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') {
      const type = (error as { type?: unknown }).type;
      return { message: clip(String((error as { message: string }).message)), type: typeof type === 'string' ? type : undefined };
    }
    if (typeof error === 'string') return { message: clip(error), type: undefined };
    const detail = (body as { detail?: unknown }).detail;
    if (detail !== undefined) {
      return { message: clip(typeof detail === 'string' ? detail : JSON.stringify(detail)), type: undefined };
    }
  }
  return { message: clip(text.trim()), type: undefined };
}

export interface KeyInfo {
  alias: string | null;
  models: string[];
  userId: string | null;
  metadata: Record<string, unknown>;
  expires: string | null;
  blocked: boolean;
  maxBudget: number | null;
  budgetDuration: string | null;
  /** sha256 of the raw key, when the proxy says it. */
  token: string | null;
  /** USD spent so far, when the proxy says it (a budget is exceeded when spend ≥ max_budget). */
  spend?: number | null;
  teamId?: string | null;
  tpmLimit?: number | null;
  rpmLimit?: number | null;
  maxParallelRequests?: number | null;
  /** What the proxy stores of the key_type (`["llm_api_routes"]`, ...); undefined when the answer has no such field. */
  allowedRoutes?: string[] | undefined;
  /** Proxy-side rotation (LiteLLM PR #14877), when the version reports it. */
  rotation?: { autoRotate: boolean | null; count: number | null; lastAt: string | null; nextAt: string | null };
  /** When the proxy issued the key (its clock), when it says. */
  createdAt?: string | null;
}

function toKeyInfo(row: z.output<typeof keyInfoSchema>): KeyInfo {
  return {
    alias: row.key_alias ?? null,
    models: row.models ?? [],
    userId: row.user_id ?? null,
    metadata: row.metadata ?? {},
    expires: row.expires ?? null,
    blocked: row.blocked ?? false,
    maxBudget: row.max_budget ?? null,
    budgetDuration: row.budget_duration ?? null,
    token: row.token ?? null,
    spend: row.spend ?? null,
    teamId: row.team_id ?? null,
    tpmLimit: row.tpm_limit ?? null,
    rpmLimit: row.rpm_limit ?? null,
    maxParallelRequests: row.max_parallel_requests ?? null,
    createdAt: row.created_at ?? null,
    allowedRoutes: Array.isArray(row.allowed_routes) ? row.allowed_routes.map(String) : undefined,
    rotation: {
      autoRotate: row.auto_rotate ?? null,
      count: row.rotation_count ?? null,
      lastAt: row.last_rotation_at ?? null,
      nextAt: row.key_rotation_at ?? null,
    },
  };
}

/** A team as the proxy lists it (`/team/list`). */
export interface ProxyTeam extends Budgeted {
  teamId: string;
  alias: string | null;
  maxParallelRequests: number | null;
}

/** A user as the proxy lists it (`/user/list`). */
export interface ProxyUser extends Budgeted {
  userId: string;
}

/** What a team and a user both carry on the proxy. */
export interface Budgeted {
  metadata: Record<string, unknown>;
  models: string[];
  maxBudget: number | null;
  budgetDuration: string | null;
  tpmLimit: number | null;
  rpmLimit: number | null;
}

/** The shared fields of a team's or user's row, unset ones as empty or null. */
function budgetedOf(row: { metadata?: Record<string, unknown> | null; models?: string[] | null; max_budget?: number | null; budget_duration?: string | null; tpm_limit?: number | null; rpm_limit?: number | null }): Budgeted {
  return {
    metadata: row.metadata ?? {},
    models: row.models ?? [],
    maxBudget: row.max_budget ?? null,
    budgetDuration: row.budget_duration ?? null,
    tpmLimit: row.tpm_limit ?? null,
    rpmLimit: row.rpm_limit ?? null,
  };
}

/** The fields of `/team/new` and `/team/update` the bootstrap sends (only what is declared; `null` clears a field on update). */
export interface TeamRequest {
  team_id: string;
  team_alias?: string;
  models?: string[];
  max_budget?: number | null;
  budget_duration?: string | null;
  tpm_limit?: number | null;
  rpm_limit?: number | null;
  max_parallel_requests?: number | null;
  metadata?: Record<string, unknown>;
}

/** The fields of `/user/new` and `/user/update` the bootstrap sends (LiteLLM's user_update skips None, [] and {}). */
export interface UserRequest {
  user_id: string;
  models?: string[];
  max_budget?: number;
  budget_duration?: string;
  tpm_limit?: number;
  rpm_limit?: number;
  metadata?: Record<string, unknown>;
}

/** A deployment as `/model/info` lists it. */
export interface ProxyModel {
  name: string;
  id: string | undefined;
  /** Stored in the proxy's database (added through /model/new), not in its config file. */
  dbModel: boolean;
  /** As shown: api_key removed. */
  params: Record<string, unknown>;
  info: Record<string, unknown>;
}

/** `POST /model/new`. Credentials only as `os.environ/NAME` references (see resources/models/spec.ts). */
export interface NewModelRequest {
  model_name: string;
  litellm_params: Record<string, string | number | boolean>;
  model_info: Record<string, unknown>;
}

export interface GenerateRequest {
  /** Omitted: a key without alias (LiteLLM checks neither format nor uniqueness then). */
  key_alias?: string;
  models: string[];
  user_id?: string | undefined;
  metadata: Record<string, unknown>;
  duration?: string | undefined;
  max_budget?: number | undefined;
  budget_duration?: string | undefined;
  key_type?: string;
  team_id?: string | undefined;
  tpm_limit?: number | undefined;
  rpm_limit?: number | undefined;
  max_parallel_requests?: number | undefined;
  /** Off unless asked (older versions ignore the field: pydantic drops unknown fields). */
  auto_rotate?: boolean;
  rotation_interval?: string | undefined;
}

export interface UpdateRequest {
  /** raw key or its sha256 */
  key: string;
  /** `null` only to free the alias of a key being retired (LiteLLM: an explicit null clears the field). */
  key_alias?: string | null;
  models?: string[];
  user_id?: string;
  metadata?: Record<string, unknown>;
  max_budget?: number | null;
  budget_duration?: string | null;
  team_id?: string;
  tpm_limit?: number;
  rpm_limit?: number;
  max_parallel_requests?: number;
  /** What key_type sets on /key/generate; /key/update takes the list itself. */
  allowed_routes?: string[];
  /** A new lifetime from now (LiteLLM adds exact seconds on /key/update). */
  duration?: string;
  /** Newer LiteLLM (PR #14877); older versions ignore it. */
  auto_rotate?: boolean;
}

/** `POST /key/{key}/regenerate` (Enterprise): the fields a renewal or rotation sends. */
export interface RegenerateRequest {
  /** Keep the old key working this long (newer LiteLLM; older versions ignore it and revoke at once). */
  grace_period?: string;
  /** A fresh lifetime for the regenerated key. */
  duration?: string;
}

/** What a new key is: its raw value (never logged), sha256, and the expiry the proxy gave it. */
export interface IssuedKey {
  key: string;
  token: string | null;
  expires: string | null;
  /** When the proxy issued it (its clock), when the answer says. */
  createdAt?: string | null;
}

export interface ProxyClientOptions {
  baseUrl: string;
  masterKey: string;
  timeoutMs: number;
  /** The transport; by default one made by createDispatcher (keep-alive, timeouts, HTTPS_PROXY/NO_PROXY of `env` for an https proxy; an http one is reached directly). */
  dispatcher?: Dispatcher;
  /** Where the proxy variables are read; the process environment by default. */
  env?: NodeJS.ProcessEnv;
  /** Called for every request, after it ends (for request counting in logs). */
  onRequest?: (method: string, route: string, status: number | string, ms: number) => void;
}

export class ProxyClient {
  readonly baseUrl: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly origin: string;
  private readonly masterKey: string;
  private readonly timeoutMs: number;
  private readonly onRequest: ProxyClientOptions['onRequest'];
  private readonly basePath: string;
  /** The proxy's clock, read from its answers' Date headers (see proxy/clock.ts). */
  readonly clock = new ProxyClock();
  /** The LiteLLM version the proxy stated (readiness, or its details), once known. */
  private version: string | undefined;

  constructor(opts: ProxyClientOptions) {
    const url = new URL(opts.baseUrl);
    // Shown in logs and errors: never with credentials in it.
    const shown = new URL(opts.baseUrl);
    shown.username = '';
    shown.password = '';
    this.baseUrl = shown.toString().replace(/\/+$/, '');
    this.basePath = url.pathname.replace(/\/+$/, '');
    this.masterKey = opts.masterKey;
    this.timeoutMs = opts.timeoutMs;
    this.onRequest = opts.onRequest;
    // Credentials in the URL are never sent (nor shown): the proxy authenticates with the Bearer key.
    this.origin = url.origin;
    this.ownsDispatcher = opts.dispatcher === undefined;
    // Over plain http every request carries the master key in clear: never through HTTP_PROXY (a forward
    // proxy would read it), always straight to the origin. Over https the proxy only relays a TLS tunnel.
    this.dispatcher = opts.dispatcher ?? createDispatcher({ timeoutMs: opts.timeoutMs, env: opts.env, direct: url.protocol === 'http:' });
  }

  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  /** Sends a request; returns status and text for 2xx, throws ProxyHttpError / ProxyNetworkError otherwise. */
  private async send(method: 'GET' | 'POST' | 'PATCH', route: string, opts: { query?: Record<string, string>; body?: unknown; auth: string | null; okStatuses?: number[]; deadline?: number | undefined }): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.auth !== null) headers.authorization = `Bearer ${opts.auth}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const query = opts.query ? `?${new URLSearchParams(opts.query).toString()}` : '';
    const started = Date.now();
    // A request never outlives the deadline it is given: its timeout is clipped to the time left.
    const timeoutMs = opts.deadline === undefined ? this.timeoutMs : Math.max(1, Math.min(this.timeoutMs, opts.deadline - started));
    let status: number;
    let text: string;
    try {
      const res = await request(`${this.origin}${this.basePath}${route}${query}`, {
        method,
        headers,
        body,
        dispatcher: this.dispatcher,
        // The whole exchange, not only each phase: a proxy trickling bytes cannot hold the run.
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = res.statusCode;
      this.clock.observe(res.headers.date, Date.now());
      text = await res.body.text();
    } catch (err) {
      const code = errorCode(err);
      this.onRequest?.(method, route, code, Date.now() - started);
      const problem = certificateProblem(code);
      if (problem !== undefined) {
        throw new ConfigError(`the proxy at ${this.baseUrl} presented a certificate that does not verify: ${problem} (${code})`, {
          hint: 'for a private CA, give its certificate in NODE_EXTRA_CA_CERTS (a PEM file); for another host name, use the name the certificate is for in PROXY_BASE_URL',
        });
      }
      const timeout = code === 'ETIMEDOUT';
      // Cut short by the caller's deadline rather than the request timeout: the deadline's doing, not the proxy's.
      const clipped = timeout && timeoutMs < this.timeoutMs;
      throw new ProxyNetworkError(method, route, clipped ? 'deadline' : timeout ? 'timeout' : code, timeout ? `no answer within ${timeoutMs} ms${clipped ? ', the time left before the deadline' : ''}` : '');
    }
    this.onRequest?.(method, route, status, Date.now() - started);
    if ((status >= 200 && status < 300) || opts.okStatuses?.includes(status)) return { status, text };
    // Not a ProxyHttpError: no caller may read this 404 as "no such key".
    const split = missingManagementRoutes(this.baseUrl, method, route, status, text);
    if (split) throw split;
    const { message, type } = proxyErrorMessage(text);
    throw new ProxyHttpError(method, route, status, type, message);
  }

  /** The answer to `method route`, checked against `schema`; an answer that is not what was expected names the request as it was sent. */
  private json<S extends z.ZodType>(schema: S, method: string, route: string, text: string): z.output<S> {
    let body: unknown;
    // Named with the URL and its setting: a 200 that is not LiteLLM's is most often another service at PROXY_BASE_URL.
    const where = `${this.baseUrl}${route} (PROXY_BASE_URL ${this.baseUrl})`;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ProxyHttpError(method, route, 200, 'invalid_response', `the answer of ${where} is not JSON: not what a LiteLLM proxy answers`);
    }
    try {
      return checkAnswer(schema, body);
    } catch (err) {
      if (!(err instanceof ShapeError)) throw err;
      throw new ProxyHttpError(method, route, 200, 'invalid_response', `the answer of ${where} is not shaped as a LiteLLM proxy's (${err.message})`);
    }
  }

  /** `/health/readiness`, without auth. Resolves for 200 and 503 (a live proxy whose DB is not ready). Ends by `deadline` (epoch ms) when given. */
  async readiness(deadline?: number): Promise<{ status: number; db: string | undefined; message: string }> {
    const { status, text } = await this.send('GET', '/health/readiness', { auth: null, okStatuses: [503], deadline });
    let db: string | undefined;
    try {
      const body = JSON.parse(text) as { db?: unknown; litellm_version?: unknown };
      if (typeof body?.db === 'string') db = body.db;
      // Older versions (1.77) say their version here; newer ones only behind /health/readiness/details.
      if (typeof body?.litellm_version === 'string') this.version = body.litellm_version;
    } catch {
      /* not JSON: db unknown */
    }
    return { status, db, message: status === 503 ? proxyErrorMessage(text).message : '' };
  }

  /**
   * The proxy's LiteLLM version: from readiness when it said so (older versions, at no cost when
   * the run waited for readiness), else `/health/readiness/details` (master key, newer versions).
   * Undefined when neither tells (a route refused or missing).
   */
  async litellmVersion(): Promise<string | undefined> {
    if (this.version !== undefined) return this.version;
    try {
      await this.readiness();
      if (this.version !== undefined) return this.version;
      const { text } = await this.send('GET', '/health/readiness/details', { auth: this.masterKey });
      const body = JSON.parse(text) as { litellm_version?: unknown };
      if (typeof body?.litellm_version === 'string') this.version = body.litellm_version;
    } catch {
      /* not told: undefined */
    }
    return this.version;
  }

  /** Info of a key by its sha256, with the master key (reads expired and blocked keys too). Ends by `deadline` (epoch ms) when given. */
  async keyInfoByHash(token: string, deadline?: number): Promise<KeyInfo> {
    const { text } = await this.send('GET', '/key/info', { auth: this.masterKey, query: { key: token }, deadline });
    const info = toKeyInfo(this.json(keyInfoAnswer, 'GET', '/key/info', text).info);
    return { ...info, token: info.token ?? token };
  }

  /** Every key carrying `alias` (filtered client-side too: older proxies ignore the filter). */
  async keysWithAlias(alias: string): Promise<KeyInfo[]> {
    return this.listKeys({ key_alias: alias }, (info) => info.alias === alias);
  }

  /** Every key issued to `userId` (every key when undefined) that `keep` accepts. */
  async keysOfUser(userId: string | undefined, keep: (info: KeyInfo) => boolean): Promise<KeyInfo[]> {
    return this.listKeys(userId === undefined ? {} : { user_id: userId }, (info) => (userId === undefined || info.userId === userId) && keep(info));
  }

  /** Every page, one after the other (at most 100 pages of 100). */
  private async listKeys(filter: Record<string, string>, keep: (info: KeyInfo) => boolean): Promise<KeyInfo[]> {
    const found: KeyInfo[] = [];
    for (let page = 1; page <= 100; page++) {
      const { rows, listed, totalPages } = await this.listKeysPage(filter, page, 100);
      found.push(...rows.filter(keep));
      if (listed < 100 || (totalPages ?? page) <= page) break;
    }
    return found;
  }

  /**
   * One page of `/key/list` with full rows (master key). `filter` goes into the query as
   * given (user_id, key_alias, ...); older proxies may ignore a filter, so callers check rows.
   * Rows without a token (hash-only answers) are dropped; `listed` counts every row of the page.
   */
  async listKeysPage(filter: Record<string, string>, page: number, size: number): Promise<{ rows: KeyInfo[]; listed: number; totalPages: number | null; totalCount: number | null }> {
    const { text } = await this.send('GET', '/key/list', {
      auth: this.masterKey,
      query: { ...filter, return_full_object: 'true', page: String(page), size: String(size) },
    });
    const body = this.json(keyListAnswer, 'GET', '/key/list', text);
    const rows = body.keys.flatMap((row) => (typeof row === 'string' ? [] : [toKeyInfo(row)])).filter((k) => k.token !== null);
    return { rows, listed: body.keys.length, totalPages: body.total_pages ?? null, totalCount: body.total_count ?? null };
  }

  async generate(req: GenerateRequest): Promise<IssuedKey> {
    const { text } = await this.send('POST', '/key/generate', { auth: this.masterKey, body: req });
    const body = this.json(generateAnswer, 'POST', '/key/generate', text);
    return { key: this.issuedKey('POST /key/generate', body.key), token: body.token ?? body.token_id ?? null, expires: body.expires ?? null, createdAt: body.created_at ?? null };
  }

  /** The key of an answer, when it looks like a LiteLLM key; exit 4 otherwise, naming what is wrong but never the value. */
  private issuedKey(request: string, key: string): string {
    if (LITELLM_KEY_SHAPE.test(key)) return key;
    registerSecret(key);
    const why = !key.startsWith('sk-') ? 'does not start with sk-' : key.length < 19 || key.length > 131 ? `is ${key.length} characters long` : 'holds characters other than letters, digits, - and _';
    throw new ProxyRefusedError(`${request} at ${this.baseUrl} answered with a key that is not shaped like a LiteLLM key (it ${why}); nothing was written`, {
      hint: 'LiteLLM issues sk- followed by 16 to 128 letters, digits, - or _; check that PROXY_BASE_URL points at your LiteLLM proxy and nothing in between rewrites its answers',
    });
  }

  /**
   * Rotation in place (Enterprise): the key's row (identity, spend, budget window) is kept, with a
   * new raw key. Named by its sha256 in the path: LiteLLM treats a value without "sk" as a hash
   * (regenerate_key_fn), and a hex hash has none, so the raw key never enters a URL.
   */
  async regenerate(token: string, req: RegenerateRequest): Promise<IssuedKey> {
    const route = `/key/${token}/regenerate`;
    const { text } = await this.send('POST', route, { auth: this.masterKey, body: req });
    const body = this.json(generateAnswer, 'POST', route, text);
    return { key: this.issuedKey(`POST ${route}`, body.key), token: body.token_id ?? body.token ?? null, expires: body.expires ?? null };
  }

  /**
   * Updates a key named by its raw value (LiteLLM then clears its cache entry, so the
   * change takes effect at once) or by its sha256 (when the raw key is unknown). A raw
   * key travels only in the body; LiteLLM echoes it in some errors ("User Key=..."),
   * so it is cut out of the error before anyone sees it.
   */
  async update(req: UpdateRequest): Promise<void> {
    try {
      await this.send('POST', '/key/update', { auth: this.masterKey, body: req });
    } catch (err) {
      if (err instanceof ProxyHttpError && req.key.startsWith('sk-') && err.proxyMessage.includes(req.key)) {
        throw new ProxyHttpError(err.method, err.route, err.status, err.type, err.proxyMessage.split(req.key).join(`sk-...${req.key.slice(-4)}`));
      }
      throw err;
    }
  }

  /** Deletes keys by sha256. A key already gone is not an error. */
  async deleteKeys(tokens: string[]): Promise<void> {
    if (tokens.length === 0) return;
    try {
      await this.send('POST', '/key/delete', { auth: this.masterKey, body: { keys: tokens } });
    } catch (err) {
      if (err instanceof ProxyHttpError && err.status === 404) return;
      throw err;
    }
  }

  /** Every team (`GET /team/list`, master key: one list, not paged). */
  async teams(): Promise<ProxyTeam[]> {
    const { text } = await this.send('GET', '/team/list', { auth: this.masterKey });
    return this.json(teamListAnswer, 'GET', '/team/list', text).map((t) => ({
      teamId: t.team_id,
      alias: t.team_alias ?? null,
      ...budgetedOf(t),
      maxParallelRequests: t.max_parallel_requests ?? null,
    }));
  }

  /** `POST /team/new` with our own team_id (a retried or racing create then fails instead of making a second team). */
  async createTeam(req: TeamRequest): Promise<void> {
    await this.send('POST', '/team/new', { auth: this.masterKey, body: req });
  }

  /** `POST /team/update`: exactly the fields sent (LiteLLM: exclude_unset), the team's keys kept. */
  async updateTeam(req: TeamRequest): Promise<void> {
    await this.send('POST', '/team/update', { auth: this.masterKey, body: req });
  }

  /** `POST /team/delete`. LiteLLM deletes the team's keys with it (callers check it has none left). A team already gone is not an error. */
  async deleteTeam(teamId: string): Promise<void> {
    await this.deleteUnlessGone('/team/delete', { team_ids: [teamId] });
  }

  /** A delete (master key) whose 404 means the row is gone already: done, not an error. */
  private async deleteUnlessGone(route: string, body: unknown): Promise<void> {
    try {
      await this.send('POST', route, { auth: this.masterKey, body });
    } catch (err) {
      if (err instanceof ProxyHttpError && err.status === 404) return;
      throw err;
    }
  }

  /** Every key of a team, expired ones too (`/key/list?team_id=`; filtered here too). */
  async keysOfTeam(teamId: string): Promise<KeyInfo[]> {
    return this.listKeys({ team_id: teamId }, (info) => info.teamId === teamId);
  }

  /** Every user, in pages of 100 (`GET /user/list`, master key). */
  async users(): Promise<ProxyUser[]> {
    const found: ProxyUser[] = [];
    for (let page = 1; page <= 1000; page++) {
      const { text } = await this.send('GET', '/user/list', { auth: this.masterKey, query: { page: String(page), page_size: '100' } });
      const body = this.json(userListAnswer, 'GET', '/user/list', text);
      for (const u of body.users) {
        found.push({ userId: u.user_id, ...budgetedOf(u) });
      }
      if (body.users.length < 100 || (body.total_pages ?? page) <= page) break;
    }
    return found;
  }

  /** `POST /user/new` without a key (`auto_create_key: false`). */
  async createUser(req: UserRequest): Promise<void> {
    await this.send('POST', '/user/new', { auth: this.masterKey, body: { ...req, auto_create_key: false } });
  }

  /** `POST /user/update`: the values sent that are not empty; metadata merged. */
  async updateUser(req: UserRequest): Promise<void> {
    await this.send('POST', '/user/update', { auth: this.masterKey, body: req });
  }

  /** `POST /user/delete`. LiteLLM deletes the user's keys with it (callers check it has none left). A user already gone is not an error. */
  async deleteUser(userId: string): Promise<void> {
    await this.deleteUnlessGone('/user/delete', { user_ids: [userId] });
  }

  /** Every deployment the proxy serves, config and stored (`/model/info`, master key). */
  async models(): Promise<ProxyModel[]> {
    const { text } = await this.send('GET', '/model/info', { auth: this.masterKey });
    const body = this.json(modelInfoAnswer, 'GET', '/model/info', text);
    return body.data.flatMap((m) =>
      typeof m.model_name === 'string'
        ? [{ name: m.model_name, id: m.model_info?.id ?? undefined, dbModel: m.model_info?.db_model === true, params: m.litellm_params ?? {}, info: m.model_info ?? {} }]
        : [],
    );
  }

  /**
   * The models LiteLLM knows (its model cost map, `litellm.model_cost`): model name → provider
   * (`litellm_provider`). Newer proxies serve it publicly at `GET /public/litellm_model_cost_map`
   * (LiteLLM PR #16795, November 2025, moved it there); older ones (1.77) at
   * `GET /get/litellm_model_cost_map`, proxy admin only. Undefined when the proxy serves neither.
   */
  async modelCostMap(): Promise<Map<string, string | undefined> | undefined> {
    for (const [route, auth] of [
      ['/public/litellm_model_cost_map', null],
      ['/get/litellm_model_cost_map', this.masterKey],
    ] as const) {
      let text: string;
      try {
        ({ text } = await this.send('GET', route, { auth }));
      } catch (err) {
        // The route of the other generation of LiteLLM: FastAPI's 404.
        if (err instanceof ProxyHttpError && isOtherGenerationRoute(err)) continue;
        throw err;
      }
      const body = this.json(modelCostMapAnswer, 'GET', route, text);
      const map = new Map<string, string | undefined>();
      for (const [name, entry] of Object.entries(body)) {
        const provider = entry && typeof entry === 'object' ? (entry as { litellm_provider?: unknown }).litellm_provider : undefined;
        map.set(name, typeof provider === 'string' ? provider : undefined);
      }
      return map;
    }
    return undefined;
  }

  /** Stores a deployment (needs model storage on the proxy: STORE_MODEL_IN_DB). */
  async addModel(req: NewModelRequest): Promise<void> {
    await this.send('POST', '/model/new', { auth: this.masterKey, body: req });
  }

  /** Merges litellm_params and model_info into a stored deployment (`PATCH /model/{id}/update`); a null clears a parameter on newer LiteLLM. */
  async patchModel(id: string, req: { litellm_params: Record<string, string | number | boolean | null>; model_info: Record<string, unknown> }): Promise<void> {
    await this.send('PATCH', `/model/${encodeURIComponent(id)}/update`, { auth: this.masterKey, body: req });
  }

  /** Deletes a stored deployment by id; one already gone is not an error. */
  async deleteModel(id: string): Promise<void> {
    try {
      await this.send('POST', '/model/delete', { auth: this.masterKey, body: { id } });
    } catch (err) {
      if (err instanceof ProxyHttpError && err.status < 500 && /not found/i.test(err.proxyMessage)) return;
      throw err;
    }
  }
}
