/**
 * The stand-in's teams and users (test/support/stand-in-teams.ts), checked against LiteLLM's source:
 * BerriAI/litellm litellm/proxy/management_endpoints/team_endpoints.py and internal_user_endpoints.py,
 * key_management_endpoints.py (generate_key_fn), proxy/utils.py (handle_exception_on_proxy,
 * PrismaClient.delete_data / insert_data / update_data), as stored in the source index on 2026-12-04
 * (the newest version there: new_team counts teams for the licence, list_team_v2 exists). The function
 * each behaviour comes from is named in the test. `current` is that source; `1.77` differs only where
 * /work/shared/litellm-api.md measured 1.77.2 doing otherwise (said where it applies).
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startLiteLLMStandIn, type LiteLLMStandIn, type StandInFlavor } from './support/litellm-stand-in.ts';

const MASTER = 'sk-master-teams-0000';
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

const open: LiteLLMStandIn[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function standIn(flavor: StandInFlavor = 'current'): Promise<LiteLLMStandIn> {
  const s = await startLiteLLMStandIn({ masterKey: MASTER, flavor, models: ['openai/gpt-4o-mini', 'openai/gpt-5'] });
  open.push(s);
  return s;
}

interface Reply {
  status: number;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function call(si: LiteLLMStandIn, method: 'GET' | 'POST', path: string, body?: unknown, key = MASTER): Promise<Reply> {
  const res = await fetch(si.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) };
}

const RESEARCH = { team_alias: 'research', models: ['openai/gpt-4o-mini', 'openai/gpt-5'], max_budget: 25, budget_duration: '30d', tpm_limit: 50000, rpm_limit: 100, metadata: { owner: 'platform' } };

for (const flavor of ['current', '1.77'] as const) {
  describe(`teams (${flavor})`, () => {
    it('POST /team/new stores what it is given and makes up a team_id (uuid4) when none is sent', async () => {
      // source: new_team — `if data.team_id is None: data.team_id = str(uuid.uuid4())`; budget_duration sets budget_reset_at
      const si = await standIn(flavor);
      const r = await call(si, 'POST', '/team/new', RESEARCH);
      expect(r.status).toBe(200);
      expect(r.json.team_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r.json).toMatchObject({ ...RESEARCH, blocked: false, spend: 0 });
      expect(Date.parse(r.json.budget_reset_at)).toBeGreaterThan(Date.parse(r.json.created_at));
      const named = await call(si, 'POST', '/team/new', { team_id: 'team-research', team_alias: 'research' });
      expect(named.json.team_id).toBe('team-research');
    });

    it('the caller joins as admin: the master key is the user "default_user_id" (litellm_proxy_admin_name)', async () => {
      // source: new_team — `if user_api_key_dict.user_id is not None: ... members_with_roles.append(Member(role="admin", ...))`;
      // the row is created with members_with_roles [] and the members added after it (_add_team_members_to_team), so the
      // answer shows none. (Older source in the index created the row with them; whether 1.77.2 did is not known here:
      // its tag was not readable, so both flavours follow the newest source.)
      const si = await standIn(flavor);
      const r = await call(si, 'POST', '/team/new', { team_id: 't1' });
      expect(r.json.members_with_roles).toEqual([]);
      const info = await call(si, 'GET', '/team/info?team_id=t1');
      expect(info.json.team_info.members_with_roles).toEqual([{ user_id: 'default_user_id', user_email: null, role: 'admin' }]);
    });

    it('a team_id that exists: 400, the message naming it, through handle_exception_on_proxy; team_alias need not be unique', async () => {
      // source: new_team — HTTPException(400, {"error": f"Team id = {data.team_id} already exists. Please use a different team id."});
      // generate's `except Exception as e: raise handle_exception_on_proxy(e)` → ProxyException(message=detail, type=internal_server_error)
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'dup', team_alias: 'same' });
      const again = await call(si, 'POST', '/team/new', { team_id: 'dup' });
      expect(again.status).toBe(400);
      expect(again.json.error).toEqual({
        message: "{'error': 'Team id = dup already exists. Please use a different team id.'}",
        type: 'internal_server_error',
        param: 'None',
        code: '400',
      });
      // new_team checks team_id only: a second team with the same alias is created.
      expect((await call(si, 'POST', '/team/new', { team_id: 'other', team_alias: 'same' })).status).toBe(200);
      expect((await call(si, 'GET', '/team/list')).json.filter((t: { team_alias: string }) => t.team_alias === 'same')).toHaveLength(2);
    });

    it('POST /team/update changes only the fields sent, keeps the team_id and the team\'s keys', async () => {
      // source: update_team — updated_kv = data.json(exclude_unset=True); litellm_teamtable.update(where team_id); returns {"team_id", "data"}
      const si = await standIn(flavor);
      const t = (await call(si, 'POST', '/team/new', { team_id: 'research', ...RESEARCH })).json;
      const key = (await call(si, 'POST', '/key/generate', { team_id: 'research', key_alias: 'researcher-1' })).json.key as string;
      const r = await call(si, 'POST', '/team/update', { team_id: 'research', max_budget: 40, models: ['openai/gpt-5'] });
      expect(r.status).toBe(200);
      expect(r.json.team_id).toBe('research');
      expect(r.json.data).toMatchObject({ team_id: 'research', team_alias: 'research', max_budget: 40, models: ['openai/gpt-5'], tpm_limit: 50000, budget_duration: '30d', created_at: t.created_at });
      const info = await call(si, 'GET', '/team/info?team_id=research');
      expect(info.json.keys.map((k: { token: string }) => k.token)).toEqual([sha256(key)]);
      expect((await call(si, 'GET', '/v1/models', undefined, key)).status).toBe(200);
    });

    it('/team/update of an unknown team: FastAPI\'s 404 {"detail": {"error": ...}} (update_team has no ProxyException wrapper); no team_id: 422', async () => {
      // source: update_team — HTTPException(status_code=404, detail={"error": f"Team not found, passed team_id={data.team_id}"}),
      // raised straight out (management_endpoint_wrapper re-raises); UpdateTeamRequest.team_id: str is required
      const si = await standIn(flavor);
      const r = await call(si, 'POST', '/team/update', { team_id: 'ghost', max_budget: 1 });
      expect(r).toEqual({ status: 404, json: { detail: { error: 'Team not found, passed team_id=ghost' } } });
      const none = await call(si, 'POST', '/team/update', { max_budget: 1 });
      expect(none.status).toBe(422);
      expect(none.json.detail[0]).toMatchObject({ type: 'missing', loc: ['body', 'team_id'] });
    });

    it('POST /team/delete deletes the teams and every key of theirs; other keys stay', async () => {
      // source: delete_team — "## DELETE ASSOCIATED KEYS": prisma_client.delete_data(team_id_list=data.team_ids, table_name="key")
      // (delete_many where team_id in list), then the teams: delete_data(..., table_name="team") → {"deleted_teams": team_id_list}
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'gone' });
      await call(si, 'POST', '/team/new', { team_id: 'kept' });
      const teamKey = (await call(si, 'POST', '/key/generate', { team_id: 'gone' })).json.key as string;
      const otherTeamKey = (await call(si, 'POST', '/key/generate', { team_id: 'kept' })).json.key as string;
      const loose = (await call(si, 'POST', '/key/generate', {})).json.key as string;
      const r = await call(si, 'POST', '/team/delete', { team_ids: ['gone'] });
      expect(r).toEqual({ status: 200, json: { deleted_teams: ['gone'] } });
      expect(si.keys().map((k) => k.token).sort()).toEqual([sha256(otherTeamKey), sha256(loose)].sort());
      expect((await call(si, 'GET', '/v1/models', undefined, teamKey)).status).toBe(401);
      expect((await call(si, 'GET', '/team/info?team_id=gone')).status).toBe(404);
    });

    it('/team/delete with one unknown team_id deletes nothing: 404 {"detail": {"error": ...}}', async () => {
      // source: delete_team — "check that all teams passed exist" before any delete: HTTPException(404, {"error": f"Team not found, passed team_id={team_id}"})
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'real' });
      const key = (await call(si, 'POST', '/key/generate', { team_id: 'real' })).json.key as string;
      const r = await call(si, 'POST', '/team/delete', { team_ids: ['real', 'ghost'] });
      expect(r).toEqual({ status: 404, json: { detail: { error: 'Team not found, passed team_id=ghost' } } });
      expect((await call(si, 'GET', '/team/info?team_id=real')).status).toBe(200);
      expect(si.keys().map((k) => k.token)).toEqual([sha256(key)]);
      expect((await call(si, 'POST', '/team/delete', {})).status).toBe(422); // DeleteTeamRequest.team_ids is required
    });

    it('GET /team/info: {team_id, team_info, keys, team_memberships}; missing or unknown team_id as ProxyException auth_error with str(detail)', async () => {
      // source: team_info — 422 detail {"message": "Malformed request. No team id passed in."}; 404 {"message": f"Team not found, passed team id: {team_id}."};
      // its except: HTTPException → ProxyException(message=detail, type=auth_error, code=status_code). Keys: get_data(team_id, table "key",
      // expires=now) — unexpired ones; the "REMOVE HASHED TOKEN" loop rebinds a local name, so each key keeps its token.
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'ops', team_alias: 'ops' });
      const key = (await call(si, 'POST', '/key/generate', { team_id: 'ops', key_alias: 'ops-1' })).json.key as string;
      const r = await call(si, 'GET', '/team/info?team_id=ops');
      expect(r.status).toBe(200);
      expect(Object.keys(r.json).sort()).toEqual(['keys', 'team_id', 'team_info', 'team_memberships']);
      expect(r.json.team_info).toMatchObject({ team_id: 'ops', team_alias: 'ops' });
      expect(r.json.keys).toMatchObject([{ token: sha256(key), key_alias: 'ops-1', team_id: 'ops' }]);
      const none = await call(si, 'GET', '/team/info');
      expect(none.status).toBe(422);
      expect(none.json.error).toMatchObject({ message: "{'message': 'Malformed request. No team id passed in.'}", type: 'auth_error', code: '422' });
      const ghost = await call(si, 'GET', '/team/info?team_id=ghost');
      expect(ghost.status).toBe(404);
      expect(ghost.json.error).toMatchObject({ message: "{'message': 'Team not found, passed team id: ghost.'}", type: 'auth_error', code: '404' });
    });

    it('GET /team/list: every team with its keys and memberships, sorted by team_alias; ?user_id= keeps the teams it is a member of', async () => {
      // source: list_team — TeamListResponseObject(**team, team_memberships, keys); returned_responses.sort(key=team_alias or "");
      // user_id filter: teams whose members_with_roles hold that user_id
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'b', team_alias: 'beta' });
      await call(si, 'POST', '/team/new', { team_id: 'a', team_alias: 'alpha' });
      await call(si, 'POST', '/team/new', { team_id: 'n' });
      await call(si, 'POST', '/user/new', { user_id: 'ann', teams: ['b'], auto_create_key: false });
      const key = (await call(si, 'POST', '/key/generate', { team_id: 'a' })).json.key as string;
      const all = await call(si, 'GET', '/team/list');
      expect(all.json.map((t: { team_id: string }) => t.team_id)).toEqual(['n', 'a', 'b']);
      expect(all.json[1].keys.map((k: { token: string }) => k.token)).toEqual([sha256(key)]);
      expect(all.json[1].team_memberships).toEqual([]);
      expect((await call(si, 'GET', '/team/list?user_id=ann')).json.map((t: { team_id: string }) => t.team_id)).toEqual(['b']);
    });

    it('GET /v2/team/list: a page of teams, newest first, with total and total_pages; team_alias matches case-insensitively in part', async () => {
      // source: list_team_v2 — page_size default 10, order created_at desc, team_alias {"contains", "mode": "insensitive"},
      // {"teams", "total", "page", "page_size", "total_pages"}
      const si = await standIn(flavor);
      for (const [id, alias] of [['t1', 'Research'], ['t2', 'research-eu'], ['t3', 'ops']]) {
        await call(si, 'POST', '/team/new', { team_id: id, team_alias: alias });
        await new Promise((r) => setTimeout(r, 5)); // distinct created_at
      }
      const page = await call(si, 'GET', '/v2/team/list?page_size=2');
      expect(page.json).toMatchObject({ total: 3, page: 1, page_size: 2, total_pages: 2 });
      expect(page.json.teams.map((t: { team_id: string }) => t.team_id)).toEqual(['t3', 't2']);
      const found = await call(si, 'GET', '/v2/team/list?team_alias=RESEARCH');
      expect(found.json.teams.map((t: { team_id: string }) => t.team_id)).toEqual(['t2', 't1']);
    });

    it('/key/generate with the master key takes any team_id, even one no team has: the admin is not checked against the team', async () => {
      // source: generate_key_fn — get_team_object(...) inside `try ... except Exception: verbose_proxy_logger.debug(...)` (a missing team
      // leaves team_table None); key_generation_check → _team_key_generation_check returns True for PROXY_ADMIN; the team's models and
      // budget are not compared with the key's at generate time (only _check_team_key_limits for "guaranteed_throughput" limit types).
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'narrow', models: ['openai/gpt-4o-mini'], max_budget: 1 });
      const wide = await call(si, 'POST', '/key/generate', { team_id: 'narrow', models: ['openai/gpt-5'], max_budget: 100 });
      expect(wide.status).toBe(200);
      expect(wide.json).toMatchObject({ team_id: 'narrow', models: ['openai/gpt-5'], max_budget: 100 });
      const orphan = await call(si, 'POST', '/key/generate', { team_id: 'no-such-team' });
      expect(orphan.status).toBe(200);
      expect(orphan.json.team_id).toBe('no-such-team');
    });

    it('a team\'s models bound its keys when they call: a key given more models than its team still cannot use the others', async () => {
      // source: auth_checks.common_checks — `if _model and team_object: if not await can_team_access_model(...)`: ProxyException(
      // message=f"Team not allowed to access model. Team={team_object.team_id}, Model={_model}. Allowed team models = {team_object.models}",
      // type=team_model_access_denied, param="model", code=401)
      const si = await startLiteLLMStandIn({ masterKey: MASTER, flavor, models: ['openai/gpt-4o-mini', 'openai/gpt-5'], upstreamEnv: { OPENAI_API_KEY: 'sk-upstream-teams' }, upstreamKeys: ['sk-upstream-teams'] });
      open.push(si);
      await call(si, 'POST', '/team/new', { team_id: 'narrow', models: ['openai/gpt-4o-mini'] });
      const key = (await call(si, 'POST', '/key/generate', { team_id: 'narrow', models: ['openai/gpt-4o-mini', 'openai/gpt-5'] })).json.key as string;
      const ask = (model: string) => call(si, 'POST', '/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] }, key);
      expect((await ask('openai/gpt-4o-mini')).status).toBe(200);
      const denied = await ask('openai/gpt-5');
      expect(denied.status).toBe(401);
      expect(denied.json.error).toEqual({
        message: "Team not allowed to access model. Team=narrow, Model=openai/gpt-5. Allowed team models = ['openai/gpt-4o-mini']",
        type: 'team_model_access_denied',
        param: 'model',
        code: '401',
      });
      // /team/update widens the team: the same key, unchanged, may now use it.
      await call(si, 'POST', '/team/update', { team_id: 'narrow', models: [] });
      expect((await ask('openai/gpt-5')).status).toBe(200);
    });

    it('team routes are the admin\'s: a virtual key gets the auth_error every management route gives it', async () => {
      const si = await standIn(flavor);
      const key = (await call(si, 'POST', '/key/generate', {})).json.key as string;
      const r = await call(si, 'POST', '/team/new', { team_id: 'x' }, key);
      expect(r.status).toBe(401);
      expect(r.json.error.type).toBe('auth_error');
      expect((await call(si, 'GET', '/team/info?team_id=x')).status).toBe(404);
    });

    it('/key/update moving a key into another team: refused (403) unless the key\'s user is a member of that team; /key/generate by the master key is not checked', async () => {
      // source: key_management_endpoints.update_key_fn → is_different_team → validate_key_team_change
      // ("Check if the key's user_id is a member of the team": HTTPException 403, answered by
      // update_key_fn as ProxyException auth_error with the detail as message).
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'team-a', team_alias: 'a' });
      const key = await call(si, 'POST', '/key/generate', { user_id: 'alice', models: ['openai/gpt-4o-mini'] });
      const moved = await call(si, 'POST', '/key/update', { key: key.json.key, team_id: 'team-a' });
      expect(moved.status).toBe(403);
      expect(moved.json.error).toMatchObject({ type: 'auth_error', message: 'User=alice is not a member of the team=team-a. Check team members via `/team/info`.' });
      expect(si.keys()[0]!.team_id).toBeNull();
      // A key issued into the team by the master key (generate_key_fn does not check membership), and a key without a user, move freely.
      const issued = await call(si, 'POST', '/key/generate', { user_id: 'alice', team_id: 'team-a', models: ['openai/gpt-4o-mini'] });
      expect(issued.status).toBe(200);
      const userless = await call(si, 'POST', '/key/generate', { models: ['openai/gpt-4o-mini'] });
      expect((await call(si, 'POST', '/key/update', { key: userless.json.key, team_id: 'team-a' })).status).toBe(200);
    });
  });

  describe(`users (${flavor})`, () => {
    it('POST /user/new makes the user and a key for it; user_id defaults to a uuid4; budgets and limits are stored', async () => {
      // source: new_user — _update_internal_new_user_params (user_id = str(uuid.uuid4()) when None); generate_key_helper_fn(request_type="user")
      const si = await standIn(flavor);
      const r = await call(si, 'POST', '/user/new', { user_id: 'researcher', models: ['openai/gpt-4o-mini'], max_budget: 5, budget_duration: '30d', tpm_limit: 1000, rpm_limit: 10 });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ user_id: 'researcher', models: ['openai/gpt-4o-mini'], max_budget: 5, budget_duration: '30d', tpm_limit: 1000, rpm_limit: 10 });
      expect(r.json.key).toMatch(/^sk-/);
      expect(si.keys().find((k) => k.token === sha256(r.json.key))?.user_id).toBe('researcher');
      const anon = await call(si, 'POST', '/user/new', { auto_create_key: false });
      expect(anon.json.user_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      // auto_create_key false: data_json["table_name"] = "user" — no key
      expect(si.keys()).toHaveLength(1);
    });

    it('an existing user_id is no error: the row stays as it was, and gets one more key; an existing email is a 400', async () => {
      // source: PrismaClient.insert_data(table_name="user") upserts with "update": {} ; new_user → _check_duplicate_user_email:
      // HTTPException(400, {"error": f"User with email {existing_user.user_email} already exists"}) → handle_exception_on_proxy
      const si = await standIn(flavor);
      await call(si, 'POST', '/user/new', { user_id: 'u1', user_email: 'U1@example.com', max_budget: 5 });
      const again = await call(si, 'POST', '/user/new', { user_id: 'u1', max_budget: 99 });
      expect(again.status).toBe(200);
      expect(again.json.max_budget).toBe(5);
      expect(si.keys().filter((k) => k.user_id === 'u1')).toHaveLength(2);
      const email = await call(si, 'POST', '/user/new', { user_id: 'u2', user_email: 'u1@EXAMPLE.com' });
      expect(email.status).toBe(400);
      expect(email.json.error).toEqual({ message: "{'error': 'User with email U1@example.com already exists'}", type: 'internal_server_error', param: 'None', code: '400' });
    });

    it('POST /user/new with teams joins the teams that exist and skips the others', async () => {
      // source: new_user → add_new_user_to_default_team → _add_user_to_team swallows "doesn't exist"
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'research' });
      const r = await call(si, 'POST', '/user/new', { user_id: 'ann', teams: ['research', 'ghost'] });
      expect(r.status).toBe(200);
      expect((await call(si, 'GET', '/team/info?team_id=research')).json.team_info.members_with_roles).toContainEqual({ user_id: 'ann', user_email: null, role: 'user' });
      expect((await call(si, 'GET', '/user/info?user_id=ann')).json.teams.map((t: { team_id: string }) => t.team_id)).toEqual(['research']);
    });

    it('POST /user/update sets what is sent (None, [] and {} are "not sent") and answers {user_id, data}; an unknown user_id is created', async () => {
      // source: user_update → _update_single_user_helper → _update_internal_user_params (non_default_values) →
      // PrismaClient.update_data(user_id, table_name="user"): litellm_usertable.upsert(create, update) → {"user_id", "data": row}
      const si = await standIn(flavor);
      await call(si, 'POST', '/user/new', { user_id: 'u', max_budget: 5, models: ['openai/gpt-4o-mini'], auto_create_key: false });
      const r = await call(si, 'POST', '/user/update', { user_id: 'u', max_budget: 7, models: [], tpm_limit: null });
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ user_id: 'u', data: { user_id: 'u', max_budget: 7, models: ['openai/gpt-4o-mini'] } });
      const made = await call(si, 'POST', '/user/update', { user_id: 'new-one', rpm_limit: 3 });
      expect(made.json.data).toMatchObject({ user_id: 'new-one', rpm_limit: 3 });
      expect((await call(si, 'GET', '/user/info?user_id=new-one')).status).toBe(200);
    });

    it('/user/update with neither user_id nor user_email: 400 auth_error "Authentication Error, Either user_id or user_email must be provided"', async () => {
      // source: _update_single_user_helper raises ValueError; user_update's except wraps a non-HTTP error as
      // ProxyException(message="Authentication Error, " + str(e), type=auth_error, code=400)
      const si = await standIn(flavor);
      const r = await call(si, 'POST', '/user/update', { max_budget: 1 });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ message: 'Authentication Error, Either user_id or user_email must be provided', type: 'auth_error', code: '400' });
    });

    it('POST /user/delete deletes the users, their keys and their team memberships; answers the count', async () => {
      // source: delete_user — "DELETE ASSOCIATED KEYS" (verificationtoken.delete_many where user_id in), members_with_roles cleaned
      // (_cleanup_members_with_roles), users deleted; `return deleted_users` (the count delete_many returns)
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'research' });
      const gone = (await call(si, 'POST', '/user/new', { user_id: 'gone', teams: ['research'] })).json.key as string;
      const kept = (await call(si, 'POST', '/user/new', { user_id: 'kept' })).json.key as string;
      const r = await call(si, 'POST', '/user/delete', { user_ids: ['gone'] });
      expect(r).toEqual({ status: 200, json: 1 });
      expect(si.keys().map((k) => k.token)).toEqual([sha256(kept)]);
      expect((await call(si, 'GET', '/v1/models', undefined, gone)).status).toBe(401);
      const members = (await call(si, 'GET', '/team/info?team_id=research')).json.team_info.members_with_roles as { user_id: string }[];
      expect(members.map((m) => m.user_id)).not.toContain('gone');
    });

    it('/user/delete with an unknown user_id deletes nothing: 404 {"detail": {"error": ...}}', async () => {
      // source: delete_user — HTTPException(404, {"error": f"User not found, passed user_id={user_id}"}) before any delete, unwrapped
      const si = await standIn(flavor);
      await call(si, 'POST', '/user/new', { user_id: 'real' });
      const r = await call(si, 'POST', '/user/delete', { user_ids: ['real', 'ghost'] });
      expect(r).toEqual({ status: 404, json: { detail: { error: 'User not found, passed user_id=ghost' } } });
      expect(si.keys()).toHaveLength(1);
    });

    it('GET /user/info: the row, its keys (with team_alias) and its teams; a user without a row is a 404', async () => {
      // source: user_info — HTTPException(404, detail=f"User {user_id} not found") → handle_exception_on_proxy (internal_server_error);
      // _process_keys_for_user_info adds team_alias to each key
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'research', team_alias: 'research' });
      await call(si, 'POST', '/user/new', { user_id: 'ann', auto_create_key: false });
      await call(si, 'POST', '/key/generate', { user_id: 'ann', team_id: 'research' });
      const r = await call(si, 'GET', '/user/info?user_id=ann');
      expect(r.status).toBe(200);
      expect(r.json.user_info).toMatchObject({ user_id: 'ann' });
      expect(r.json.keys).toMatchObject([{ user_id: 'ann', team_id: 'research', team_alias: 'research' }]);
      const ghost = await call(si, 'GET', '/user/info?user_id=ghost');
      expect(ghost.status).toBe(404);
      expect(ghost.json.error).toMatchObject({ message: 'User ghost not found', type: 'internal_server_error', code: '404' });
    });

    it(`a user known only from a key's user_id: ${flavor === 'current' ? '404 (1.81.9, measured)' : '200, /key/generate made its row (1.77.2, measured)'}`, async () => {
      // /work/shared/litellm-api.md: "/user/info for a user known only from a key's user_id → 404 on 1.81.9 (200 on 1.77.2)"
      const si = await standIn(flavor);
      await call(si, 'POST', '/key/generate', { user_id: 'only-a-key' });
      expect((await call(si, 'GET', '/user/info?user_id=only-a-key')).status).toBe(flavor === 'current' ? 404 : 200);
    });

    it('GET /user/list: a page of users with key_count, newest first; user_ids and team filter', async () => {
      // source: get_users — page_size 25, order created_at desc, LiteLLM_UserTableWithKeyCount, where teams {"has": team};
      // one user_id in user_ids matches by "contains", several by "in"
      const si = await standIn(flavor);
      await call(si, 'POST', '/team/new', { team_id: 'research' });
      for (const id of ['ann', 'bob', 'annie']) {
        await call(si, 'POST', '/user/new', { user_id: id, ...(id === 'bob' ? { teams: ['research'] } : {}) });
        await new Promise((r) => setTimeout(r, 5)); // distinct created_at
      }
      const all = await call(si, 'GET', '/user/list');
      expect(all.json).toMatchObject({ page: 1, page_size: 25, total_pages: 1 });
      const ids = all.json.users.map((u: { user_id: string }) => u.user_id);
      expect(ids.filter((id: string) => ['ann', 'bob', 'annie'].includes(id))).toEqual(['annie', 'bob', 'ann']);
      expect(all.json.users.find((u: { user_id: string }) => u.user_id === 'bob').key_count).toBe(1);
      expect((await call(si, 'GET', '/user/list?user_ids=ann')).json.users.map((u: { user_id: string }) => u.user_id)).toEqual(['annie', 'ann']);
      expect((await call(si, 'GET', '/user/list?user_ids=ann,bob')).json.users.map((u: { user_id: string }) => u.user_id)).toEqual(['bob', 'ann']);
      // The team's members: bob, and the master key's user, who joined as admin when it made the team (new_team).
      expect((await call(si, 'GET', '/user/list?team=research')).json.users.map((u: { user_id: string }) => u.user_id)).toEqual(['bob', 'default_user_id']);
    });
  });
}
