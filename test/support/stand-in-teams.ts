/**
 * TEST DOUBLE: the teams and users the LiteLLM stand-in keeps in its "database" (/team/* and
 * /user/*), kept apart from the HTTP server in litellm-stand-in.ts, which routes to it and lends it
 * its keys. Learnt from BerriAI/litellm's source (read 2026-12-04; `current` = the newest source in
 * the index: team_endpoints.py with /v2/team/list and the licence count check,
 * internal_user_endpoints.py importing litellm._uuid), test/stand-in-teams.test.ts cites each
 * behaviour:
 *
 * team_endpoints.py
 * - new_team: team_id defaults to uuid4; a team_id that exists → HTTPException(400, {"error": "Team id
 *   = X already exists. Please use a different team id."}), answered through handle_exception_on_proxy
 *   (ProxyException, type internal_server_error, message str(detail)). team_alias is NOT checked for
 *   uniqueness. budget_duration sets budget_reset_at. The caller (the master key authenticates as
 *   user_id "default_user_id", litellm_proxy_admin_name) joins members_with_roles as admin; the answer
 *   is the row as created: newer versions create it with members_with_roles [] and add the members
 *   afterwards (_add_team_members_to_team).
 * - update_team: no try/except: its HTTPExceptions reach FastAPI as {"detail": ...}. Unknown team_id
 *   → 404 {"detail": {"error": "Team not found, passed team_id=X"}}; updates exactly the fields sent
 *   (data.json(exclude_unset=True)); keys are not touched; answers {"team_id", "data": row}.
 * - delete_team: every team_id must exist (404 {"detail": {"error": "Team not found, passed
 *   team_id=X"}}, nothing deleted); then "DELETE ASSOCIATED KEYS" (every key whose team_id is in the
 *   list), the memberships, the teams; answers {"deleted_teams": [...]} (PrismaClient.delete_data).
 * - team_info: no team_id → 422, unknown → 404, both ProxyException auth_error with message
 *   str(detail) ({'message': ...}); answers {team_id, team_info, keys (the team's unexpired keys; the
 *   "REMOVE HASHED TOKEN" loop rebinds a local, so `token` stays), team_memberships}.
 * - list_team: every team as TeamListResponseObject (row + team_memberships + keys), sorted by
 *   team_alias ("" for none); ?user_id= keeps teams with that member.
 * - list_team_v2 (/v2/team/list): {"teams", "total", "page", "page_size", "total_pages"}, newest
 *   first, filters team_id (exact), team_alias (contains, case-insensitive), page/page_size (10).
 * internal_user_endpoints.py
 * - new_user: user_id defaults to uuid4; a user_email already used (case-insensitive) → 400 "{'error':
 *   'User with email X already exists'}"; an existing user_id is NOT an error (insert_data upserts
 *   with update={}: the row stays as it was) and gets one more key; auto_create_key false makes no
 *   key; `teams` adds the user to each existing team (a missing team is skipped: _add_user_to_team
 *   swallows "doesn't exist").
 * - user_update: user_id or user_email required (else ProxyException auth_error "Authentication
 *   Error, Either user_id or user_email must be provided"); sets only non-default values (None, [] and
 *   {} are skipped); upserts by user_id (an unknown user_id is created); answers {"user_id", "data"}.
 * - delete_user: every user_id must exist (404 {"detail": {"error": "User not found, passed
 *   user_id=X"}}); deletes the users' keys, their team memberships (members_with_roles cleaned), the
 *   users; answers the count delete_many returns (a bare number).
 * - user_info: a user without a row → ProxyException 404 "User X not found"; no user_id with the
 *   master key → every team and key. (1.77.2 made a user row for a key's new user_id, so /user/info
 *   answered 200 for it; 1.81.9 answers 404: /work/shared/litellm-api.md. litellm-stand-in.ts keyGenerate.)
 * - get_users (/user/list): {"users" (rows + key_count), "total", "page", "page_size" (25),
 *   "total_pages"}, newest first; filters user_ids (comma list; a single id matches by contains), team,
 *   role.
 */
import { randomUUID } from 'node:crypto';

/** A failure as LiteLLM answers it: a ProxyException envelope, or FastAPI's {"detail": ...}. */
export class DirectoryError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = 'None',
    /** Set when the HTTPException reaches FastAPI unwrapped: the body is {"detail": detail}. */
    readonly detail?: unknown,
  ) {
    super(message);
  }
}

/** What the directory needs of the stand-in: its keys, its clock, its database state. */
export interface DirectoryHost {
  dbUp(): boolean;
  dbNotConnected(): string;
  now(): Date;
  /** LiteLLM's get_budget_reset_time (throws on a bad duration, as LiteLLM does). */
  budgetResetAt(now: Date, duration: string): Date | null;
  iso(d: Date | null): string | null;
  /** A pydantic-like check of a JSON body (throws the stand-in's 422). */
  validate(body: unknown, fields: Record<string, 'str' | 'list' | 'num' | 'int' | 'dict' | 'bool'>): Record<string, unknown>;
  /** Key rows (as /key/info dumps them, token included) matching `pred`. */
  keyRows(pred: (k: { user_id: string | null; team_id: string | null; expires: Date | null }) => boolean): Record<string, unknown>[];
  /** Deletes the keys matching `pred`; returns how many. */
  deleteKeys(pred: (k: { user_id: string | null; team_id: string | null }) => boolean): number;
  /** POST /key/generate as the proxy admin; its answer. */
  generateKey(body: Record<string, unknown>): Record<string, unknown>;
}

interface Member {
  user_id: string | null;
  user_email: string | null;
  role: 'admin' | 'user';
}

export interface TeamRow {
  team_id: string;
  team_alias: string | null;
  organization_id: string | null;
  admins: string[];
  members: string[];
  members_with_roles: Member[];
  metadata: Record<string, unknown>;
  tpm_limit: number | null;
  rpm_limit: number | null;
  max_budget: number | null;
  budget_duration: string | null;
  budget_reset_at: Date | null;
  models: string[];
  blocked: boolean;
  spend: number;
  max_parallel_requests: number | null;
  created_at: Date;
  updated_at: Date;
}

export interface UserRow {
  user_id: string;
  user_alias: string | null;
  user_email: string | null;
  user_role: string;
  teams: string[];
  models: string[];
  max_budget: number | null;
  budget_duration: string | null;
  budget_reset_at: Date | null;
  tpm_limit: number | null;
  rpm_limit: number | null;
  metadata: Record<string, unknown>;
  spend: number;
  created_at: Date;
  updated_at: Date;
}

/** litellm_proxy_admin_name: the user_id the master key authenticates as. */
export const PROXY_ADMIN_USER_ID = 'default_user_id';

const TEAM_FIELDS = {
  team_id: 'str',
  team_alias: 'str',
  models: 'list',
  max_budget: 'num',
  budget_duration: 'str',
  tpm_limit: 'int',
  rpm_limit: 'int',
  max_parallel_requests: 'int',
  metadata: 'dict',
  blocked: 'bool',
  organization_id: 'str',
} as const;

const USER_FIELDS = {
  user_id: 'str',
  user_alias: 'str',
  user_email: 'str',
  user_role: 'str',
  teams: 'list',
  models: 'list',
  max_budget: 'num',
  budget_duration: 'str',
  tpm_limit: 'int',
  rpm_limit: 'int',
  metadata: 'dict',
  auto_create_key: 'bool',
  key_alias: 'str',
  duration: 'str',
} as const;

/** pydantic's 422 for a required field left out (FastAPI answers {"detail": [...]}). */
const missing = (field: string, input: unknown) =>
  new DirectoryError(422, 'Field required', 'validation', 'None', [{ type: 'missing', loc: ['body', field], msg: 'Field required', input }]);

/** Python's str() of a dict detail, as ProxyException(message=detail) shows it. */
function pyDict(d: Record<string, string>): string {
  const q = (s: string) => (s.includes("'") && !s.includes('"') ? `"${s}"` : `'${s.replace(/'/g, "\\'")}'`);
  return `{${Object.entries(d).map(([k, v]) => `${q(k)}: ${q(v)}`).join(', ')}}`;
}

export class StandInDirectory {
  private readonly teams = new Map<string, TeamRow>();
  readonly users = new Map<string, UserRow>();

  constructor(private readonly host: DirectoryHost) {}

  clear(): void {
    this.teams.clear();
    this.users.clear();
  }

  hasTeam(teamId: string): boolean {
    return this.teams.has(teamId);
  }

  team(teamId: string): TeamRow | undefined {
    return this.teams.get(teamId);
  }

  // ----- teams ------------------------------------------------------------------------------

  /** source: team_endpoints.new_team */
  teamNew(body: unknown): Record<string, unknown> {
    const data = this.host.validate(body ?? {}, TEAM_FIELDS);
    if (!this.host.dbUp()) throw new DirectoryError(500, pyDict({ error: 'No db connected' }), 'internal_server_error');
    let teamId = typeof data['team_id'] === 'string' ? data['team_id'] : null;
    if (teamId === null) teamId = randomUUID();
    else if (this.teams.has(teamId)) {
      throw new DirectoryError(400, pyDict({ error: `Team id = ${teamId} already exists. Please use a different team id.` }), 'internal_server_error');
    }
    const now = this.host.now();
    const budgetDuration = typeof data['budget_duration'] === 'string' ? data['budget_duration'] : null;
    let resetAt: Date | null = null;
    if (budgetDuration !== null) {
      try {
        resetAt = this.host.budgetResetAt(now, budgetDuration);
      } catch (e) {
        throw new DirectoryError(500, (e as Error).message, 'internal_server_error');
      }
    }
    const admin: Member = { user_id: PROXY_ADMIN_USER_ID, user_email: null, role: 'admin' };
    const row: TeamRow = {
      team_id: teamId,
      team_alias: typeof data['team_alias'] === 'string' ? data['team_alias'] : null,
      organization_id: typeof data['organization_id'] === 'string' ? data['organization_id'] : null,
      admins: [],
      members: [],
      members_with_roles: [],
      metadata: isObject(data['metadata']) ? structuredClone(data['metadata']) : {},
      tpm_limit: num(data['tpm_limit']),
      rpm_limit: num(data['rpm_limit']),
      max_budget: num(data['max_budget']),
      budget_duration: budgetDuration,
      budget_reset_at: resetAt,
      models: Array.isArray(data['models']) ? (data['models'] as unknown[]).map(String) : [],
      blocked: data['blocked'] === true,
      spend: 0,
      max_parallel_requests: num(data['max_parallel_requests']),
      created_at: now,
      updated_at: now,
    };
    // The source creates the row without members and adds them afterwards (_add_team_members_to_team);
    // the answer is the row as created. Both flavours: the 1.77.2 tag could not be read (see the test).
    const answer = this.teamDump(row);
    this.teams.set(teamId, row);
    this.addMember(row, admin);
    return answer;
  }

  /** source: team_endpoints.update_team */
  teamUpdate(body: unknown): Record<string, unknown> {
    const data = this.host.validate(body, TEAM_FIELDS);
    if (typeof data['team_id'] !== 'string') throw missing('team_id', body);
    if (!this.host.dbUp()) throw new DirectoryError(500, '', 'internal_server_error', 'None', { error: this.host.dbNotConnected() });
    const row = this.teams.get(data['team_id']);
    if (!row) throw new DirectoryError(404, '', 'not_found', 'None', { error: `Team not found, passed team_id=${data['team_id']}` });
    const given = (k: string) => Object.prototype.hasOwnProperty.call(body, k);
    const now = this.host.now();
    if (given('team_alias')) row.team_alias = typeof data['team_alias'] === 'string' ? data['team_alias'] : null;
    if (given('models')) row.models = Array.isArray(data['models']) ? (data['models'] as unknown[]).map(String) : [];
    for (const k of ['max_budget', 'tpm_limit', 'rpm_limit', 'max_parallel_requests'] as const) if (given(k)) row[k] = num(data[k]);
    if (given('metadata')) row.metadata = isObject(data['metadata']) ? structuredClone(data['metadata']) : {};
    if (given('blocked')) row.blocked = data['blocked'] === true;
    if (given('budget_duration')) {
      row.budget_duration = typeof data['budget_duration'] === 'string' ? data['budget_duration'] : null;
      if (row.budget_duration !== null) {
        try {
          row.budget_reset_at = this.host.budgetResetAt(now, row.budget_duration);
        } catch (e) {
          throw new DirectoryError(500, (e as Error).message, 'internal_server_error');
        }
      }
    }
    row.updated_at = now;
    return { team_id: row.team_id, data: this.teamDump(row) };
  }

  /** source: team_endpoints.delete_team */
  teamDelete(body: unknown): Record<string, unknown> {
    const data = this.host.validate(body, { team_ids: 'list' });
    if (!Array.isArray(data['team_ids'])) throw missing('team_ids', body);
    if (!this.host.dbUp()) throw new DirectoryError(500, '', 'internal_server_error', 'None', { error: 'No db connected' });
    const ids = (data['team_ids'] as unknown[]).map(String);
    for (const id of ids) {
      if (!this.teams.has(id)) throw new DirectoryError(404, '', 'not_found', 'None', { error: `Team not found, passed team_id=${id}` });
    }
    // "## DELETE ASSOCIATED KEYS": every key of these teams goes with them.
    this.host.deleteKeys((k) => k.team_id !== null && ids.includes(k.team_id));
    for (const id of ids) {
      for (const u of this.users.values()) u.teams = u.teams.filter((t) => t !== id);
      this.teams.delete(id);
    }
    return { deleted_teams: ids };
  }

  /** source: team_endpoints.team_info */
  teamInfo(teamId: string | null): Record<string, unknown> {
    if (!this.host.dbUp()) {
      throw new DirectoryError(500, pyDict({ error: 'Database not connected. Connect a database to your proxy - https://docs.litellm.ai/docs/simple_proxy#managing-auth---virtual-keys' }), 'auth_error');
    }
    if (teamId === null) throw new DirectoryError(422, pyDict({ message: 'Malformed request. No team id passed in.' }), 'auth_error');
    const row = this.teams.get(teamId);
    if (!row) throw new DirectoryError(404, pyDict({ message: `Team not found, passed team id: ${teamId}.` }), 'auth_error');
    const now = this.host.now();
    return {
      team_id: teamId,
      team_info: { ...this.teamDump(row), team_member_budget_table: null },
      keys: this.host.keyRows((k) => k.team_id === teamId && (k.expires === null || k.expires > now)),
      team_memberships: [],
    };
  }

  /** source: team_endpoints.list_team */
  teamList(userId: string | null): unknown[] {
    if (!this.host.dbUp()) throw new DirectoryError(400, pyDict({ error: this.host.dbNotConnected() }), 'internal_server_error');
    return [...this.teams.values()]
      .filter((t) => userId === null || t.members_with_roles.some((m) => m.user_id === userId))
      .map((t): Record<string, unknown> => ({ ...this.teamDump(t), team_memberships: [], keys: this.host.keyRows((k) => k.team_id === t.team_id) }))
      .sort((a, b) => cmp(String(a['team_alias'] ?? ''), String(b['team_alias'] ?? '')));
  }

  /** source: team_endpoints.list_team_v2 */
  teamListV2(q: URLSearchParams): Record<string, unknown> {
    if (!this.host.dbUp()) throw new DirectoryError(500, '', 'internal_server_error', 'None', { error: 'No db connected. prisma client=None' });
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    const pageSize = Math.min(100, Math.max(1, Number(q.get('page_size') ?? 10) || 10));
    const teamId = q.get('team_id');
    const alias = q.get('team_alias')?.toLowerCase();
    const all = [...this.teams.values()]
      .filter((t) => !teamId || t.team_id === teamId)
      .filter((t) => !alias || (t.team_alias ?? '').toLowerCase().includes(alias))
      .sort((a, b) => b.created_at.getTime() - a.created_at.getTime());
    return {
      teams: all.slice((page - 1) * pageSize, page * pageSize).map((t) => this.teamDump(t)),
      total: all.length,
      page,
      page_size: pageSize,
      total_pages: Math.ceil(all.length / pageSize),
    };
  }

  private addMember(team: TeamRow, m: Member): void {
    if (!team.members_with_roles.some((x) => x.user_id === m.user_id)) team.members_with_roles.push(m);
    if (m.user_id === null) return;
    const u = this.users.get(m.user_id) ?? this.addUser(m.user_id, {});
    if (!u.teams.includes(team.team_id)) u.teams.push(team.team_id);
  }

  teamDump(t: TeamRow): Record<string, unknown> {
    return {
      team_id: t.team_id,
      team_alias: t.team_alias,
      organization_id: t.organization_id,
      admins: t.admins,
      members: t.members,
      members_with_roles: t.members_with_roles.map((m) => ({ ...m })),
      team_member_permissions: [],
      metadata: t.metadata,
      tpm_limit: t.tpm_limit,
      rpm_limit: t.rpm_limit,
      max_budget: t.max_budget,
      budget_duration: t.budget_duration,
      models: t.models,
      blocked: t.blocked,
      spend: t.spend,
      max_parallel_requests: t.max_parallel_requests,
      budget_reset_at: this.host.iso(t.budget_reset_at),
      model_id: null,
      object_permission_id: null,
      created_at: this.host.iso(t.created_at),
      updated_at: this.host.iso(t.updated_at),
    };
  }

  // ----- users ------------------------------------------------------------------------------

  addUser(userId: string, fields: Partial<Omit<UserRow, 'user_id'>>): UserRow {
    const now = this.host.now();
    const u: UserRow = {
      user_id: userId,
      user_alias: null,
      user_email: null,
      user_role: 'internal_user',
      teams: [],
      models: [],
      max_budget: null,
      budget_duration: null,
      budget_reset_at: null,
      tpm_limit: null,
      rpm_limit: null,
      metadata: {},
      spend: 0,
      created_at: now,
      updated_at: now,
      ...fields,
    };
    this.users.set(userId, u);
    return u;
  }

  /** source: internal_user_endpoints.new_user (→ generate_key_helper_fn(request_type="user")) */
  userNew(body: unknown): Record<string, unknown> {
    const data = this.host.validate(body ?? {}, USER_FIELDS);
    if (!this.host.dbUp()) throw new DirectoryError(400, this.host.dbNotConnected(), 'internal_server_error');
    const email = typeof data['user_email'] === 'string' ? data['user_email'] : null;
    if (email !== null) {
      const taken = [...this.users.values()].find((u) => u.user_email !== null && u.user_email.toLowerCase() === email.trim().toLowerCase());
      if (taken) throw new DirectoryError(400, pyDict({ error: `User with email ${taken.user_email} already exists` }), 'internal_server_error');
    }
    const userId = typeof data['user_id'] === 'string' ? data['user_id'] : randomUUID();
    const models = Array.isArray(data['models']) ? (data['models'] as unknown[]).map(String) : [];
    const budgetDuration = typeof data['budget_duration'] === 'string' ? data['budget_duration'] : null;
    const now = this.host.now();
    // insert_data upserts the user with update={}: an existing row stays as it was.
    const u =
      this.users.get(userId) ??
      this.addUser(userId, {
        user_alias: typeof data['user_alias'] === 'string' ? data['user_alias'] : null,
        user_email: email,
        user_role: typeof data['user_role'] === 'string' ? data['user_role'] : 'internal_user',
        models,
        max_budget: num(data['max_budget']),
        budget_duration: budgetDuration,
        budget_reset_at: budgetDuration === null ? null : this.host.budgetResetAt(now, budgetDuration),
        tpm_limit: num(data['tpm_limit']),
        rpm_limit: num(data['rpm_limit']),
        metadata: isObject(data['metadata']) ? structuredClone(data['metadata']) : {},
      });
    let key: Record<string, unknown> = { key: '', expires: null, key_alias: null };
    if (data['auto_create_key'] !== false) {
      key = this.host.generateKey({
        user_id: userId,
        models,
        ...(typeof data['key_alias'] === 'string' ? { key_alias: data['key_alias'] } : {}),
        ...(typeof data['duration'] === 'string' ? { duration: data['duration'] } : {}),
      });
    }
    for (const teamId of Array.isArray(data['teams']) ? (data['teams'] as unknown[]).map(String) : []) {
      const team = this.teams.get(teamId);
      if (team) this.addMember(team, { user_id: userId, user_email: email, role: 'user' });
    }
    return {
      key: key['key'],
      key_alias: key['key_alias'] ?? null,
      expires: key['expires'] ?? null,
      user_id: u.user_id,
      user_alias: u.user_alias,
      user_email: u.user_email,
      user_role: u.user_role,
      teams: u.teams.length ? [...u.teams] : null,
      models: u.models,
      max_budget: u.max_budget,
      budget_duration: u.budget_duration,
      tpm_limit: u.tpm_limit,
      rpm_limit: u.rpm_limit,
      metadata: u.metadata,
      spend: u.spend,
      token: null,
    };
  }

  /** source: internal_user_endpoints.user_update → _update_single_user_helper */
  userUpdate(body: unknown): Record<string, unknown> {
    const data = this.host.validate(body, USER_FIELDS);
    if (!this.host.dbUp()) throw new DirectoryError(400, 'Authentication Error, Not connected to DB!', 'auth_error');
    const userId = typeof data['user_id'] === 'string' && data['user_id'] !== '' ? data['user_id'] : null;
    const email = typeof data['user_email'] === 'string' ? data['user_email'] : null;
    if (userId === null && email === null) throw new DirectoryError(400, 'Authentication Error, Either user_id or user_email must be provided', 'auth_error');
    const target = userId ?? [...this.users.values()].find((u) => u.user_email === email)?.user_id ?? randomUUID();
    const u = this.users.get(target) ?? this.addUser(target, { user_email: email });
    // _update_internal_user_params: only values that are not None, [] or {}.
    const set = (k: string) => {
      const v = data[k];
      return v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0) && !(isObject(v) && Object.keys(v).length === 0);
    };
    if (set('user_alias')) u.user_alias = data['user_alias'] as string;
    if (set('user_email')) u.user_email = data['user_email'] as string;
    if (set('user_role')) u.user_role = data['user_role'] as string;
    if (set('models')) u.models = (data['models'] as unknown[]).map(String);
    for (const k of ['max_budget', 'tpm_limit', 'rpm_limit'] as const) if (set(k)) u[k] = data[k] as number;
    if (set('metadata')) u.metadata = { ...u.metadata, ...(data['metadata'] as Record<string, unknown>) };
    if (set('budget_duration')) {
      u.budget_duration = data['budget_duration'] as string;
      u.budget_reset_at = this.host.budgetResetAt(this.host.now(), u.budget_duration);
    }
    u.updated_at = this.host.now();
    return { user_id: u.user_id, data: this.userDump(u) };
  }

  /** source: internal_user_endpoints.delete_user */
  userDelete(body: unknown): number {
    const data = this.host.validate(body, { user_ids: 'list' });
    if (!Array.isArray(data['user_ids'])) throw missing('user_ids', body);
    if (!this.host.dbUp()) throw new DirectoryError(500, '', 'internal_server_error', 'None', { error: 'No db connected' });
    const ids = (data['user_ids'] as unknown[]).map(String);
    for (const id of ids) {
      if (!this.users.has(id)) throw new DirectoryError(404, '', 'not_found', 'None', { error: `User not found, passed user_id=${id}` });
    }
    for (const t of this.teams.values()) t.members_with_roles = t.members_with_roles.filter((m) => m.user_id === null || !ids.includes(m.user_id));
    this.host.deleteKeys((k) => k.user_id !== null && ids.includes(k.user_id));
    let deleted = 0;
    for (const id of ids) if (this.users.delete(id)) deleted++;
    return deleted;
  }

  /** source: internal_user_endpoints.user_info */
  userInfo(userId: string | null, callerUserId: string | null, isAdmin: boolean): Record<string, unknown> {
    if (!this.host.dbUp()) {
      throw new DirectoryError(500, 'Database not connected. Connect a database to your proxy - https://docs.litellm.ai/docs/simple_proxy#managing-auth---virtual-keys', 'internal_server_error');
    }
    if (userId === null && isAdmin) {
      // _get_user_info_for_proxy_admin: every team and every key.
      return { user_id: null, user_info: null, keys: this.host.keyRows(() => true).map((k) => this.withTeamAlias(k)), teams: this.teamsSorted([...this.teams.values()]) };
    }
    const id = userId ?? callerUserId;
    const u = id === null ? undefined : this.users.get(id);
    const keys = this.host.keyRows((k) => k.user_id === id).map((k) => this.withTeamAlias(k));
    if (!u) throw new DirectoryError(404, `User ${String(id)} not found`, 'internal_server_error');
    const teams = [...this.teams.values()].filter((t) => u.teams.includes(t.team_id) || t.members_with_roles.some((m) => m.user_id === u.user_id));
    return { user_id: u.user_id, user_info: this.userDump(u), keys, teams: this.teamsSorted(teams) };
  }

  /** source: internal_user_endpoints.get_users */
  userList(q: URLSearchParams): Record<string, unknown> {
    if (!this.host.dbUp()) throw new DirectoryError(500, '', 'internal_server_error', 'None', { error: 'No db connected. prisma client=None' });
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    const pageSize = Math.min(100, Math.max(1, Number(q.get('page_size') ?? 25) || 25));
    const ids = (q.get('user_ids') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
    const team = q.get('team');
    const role = q.get('role');
    const all = [...this.users.values()]
      .filter((u) => ids.length === 0 || (ids.length === 1 ? u.user_id.toLowerCase().includes(ids[0]!.toLowerCase()) : ids.includes(u.user_id)))
      .filter((u) => !team || u.teams.includes(team))
      .filter((u) => !role || u.user_role === role)
      .sort((a, b) => b.created_at.getTime() - a.created_at.getTime());
    return {
      users: all.slice((page - 1) * pageSize, page * pageSize).map((u) => ({ ...this.userDump(u), key_count: this.host.keyRows((k) => k.user_id === u.user_id).length })),
      total: all.length,
      page,
      page_size: pageSize,
      total_pages: Math.ceil(all.length / pageSize),
    };
  }

  userDump(u: UserRow): Record<string, unknown> {
    return {
      user_id: u.user_id,
      user_alias: u.user_alias,
      team_id: null,
      sso_user_id: null,
      organization_id: null,
      password: null,
      teams: [...u.teams],
      user_role: u.user_role,
      max_budget: u.max_budget,
      spend: u.spend,
      user_email: u.user_email,
      models: u.models,
      metadata: u.metadata,
      max_parallel_requests: null,
      tpm_limit: u.tpm_limit,
      rpm_limit: u.rpm_limit,
      budget_duration: u.budget_duration,
      budget_reset_at: this.host.iso(u.budget_reset_at),
      allowed_cache_controls: [],
      model_spend: {},
      model_max_budget: {},
      created_at: this.host.iso(u.created_at),
      updated_at: this.host.iso(u.updated_at),
    };
  }

  /** _process_keys_for_user_info: a key's team_alias, or the string "None" for a key without a team. */
  private withTeamAlias(k: Record<string, unknown>): Record<string, unknown> {
    const teamId = k['team_id'];
    return { ...k, team_alias: typeof teamId === 'string' ? (this.teams.get(teamId)?.team_alias ?? null) : 'None' };
  }

  private teamsSorted(teams: TeamRow[]): Record<string, unknown>[] {
    return teams.map((t) => this.teamDump(t)).sort((a, b) => cmp(String(a['team_alias'] ?? ''), String(b['team_alias'] ?? '')));
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' ? v : null;
}

/** Python's str ordering (code points), as list.sort(key=...) orders. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
