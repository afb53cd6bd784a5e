/**
 * TEST DOUBLE: the models the LiteLLM stand-in stores in its "database" (POST /model/new and
 * friends), kept apart from the HTTP server in litellm-stand-in.ts. Facts, from
 * /work/shared/litellm-api.md "Model routes with storage on" (measured on LiteLLM 1.77.2) and
 * BerriAI/litellm's proxy_server.py (add_new_model, update_model, delete_model, model_info_v1)
 * and management_endpoints/model_management_endpoints.py (patch_model):
 * - every route needs a database (500 db_not_connected) and model storage (STORE_MODEL_IN_DB=True or
 *   general_settings.store_model_in_db): else 500 auth_error "Set `'STORE_MODEL_IN_DB='True'` ...";
 * - /model/new stores the deployment with model_info.id as its id (a uuid when not given); the same
 *   model_name again adds a second deployment; the same id again is a 500; no litellm_params.model is
 *   a 500 with a plain-text body; every string of the stored litellm_params comes back encrypted;
 * - POST /model/update {model_info: {id}, litellm_params} merges litellm_params only; PATCH
 *   /model/{id}/update merges litellm_params and model_info (source: patch_model,
 *   merged_deployment_dict["model_info"].update(...)); unknown id 400 (POST) / 404 (PATCH);
 * - POST /model/delete {id}; unknown id 400 "{'error': 'Model with id=X not found in db'}"; the
 *   router keeps a deleted model's name as a dead group (400 "no healthy deployments") until restart;
 * - GET /model/info lists stored deployments with model_info.db_model true, custom model_info fields
 *   kept, api_key removed.
 */
import { createHash, randomUUID } from 'node:crypto';

export class ModelRouteError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    /** A plain-text body (FastAPI's unhandled exception) instead of the error envelope. */
    readonly plain = false,
  ) {
    super(message);
  }
}

export interface StoredModel {
  model_id: string;
  model_name: string;
  /** As sent (the stand-in keeps them in clear; answers encrypt or strip what LiteLLM does). */
  litellm_params: Record<string, unknown>;
  model_info: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

export const STORE_MODEL_IN_DB_REFUSAL = "{'error': \"Set `'STORE_MODEL_IN_DB='True'` in your env to enable this feature.\"}";

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What LiteLLM's encrypt_value_helper makes of a string (nacl + base64url); here a recognisable stand-in for it. */
function encrypted(value: unknown): unknown {
  return typeof value === 'string' ? createHash('sha256').update(`enc:${value}`).digest('base64url') : value;
}

/** litellm_params as /model/info shows them: api_key removed (source: model_info_v1 → remove_sensitive_info_from_deployment). */
function shown(params: Record<string, unknown>): Record<string, unknown> {
  const { api_key: _key, aws_secret_access_key: _aws, vertex_credentials: _vertex, ...rest } = params;
  return rest;
}

export class StandInModelStore {
  private readonly rows = new Map<string, StoredModel>();
  /** Names of deleted deployments the router still knows until a restart. */
  private readonly dead = new Set<string>();

  /**
   * `nullClears`: newer LiteLLM (PR #40047, September 2026; the 'current' flavour) clears a
   * litellm_params field sent as an explicit null on update; older ones (1.77) drop nulls (exclude_none).
   */
  constructor(
    private readonly storageOn: boolean,
    private readonly nullClears = false,
  ) {}

  /** litellm_params of an update merged into a row's: nulls dropped, or (nullClears) clearing the field. */
  private mergeParams(row: StoredModel, params: Record<string, unknown>): void {
    Object.assign(row.litellm_params, withoutNulls(params));
    if (this.nullClears) for (const [k, v] of Object.entries(params)) if (v === null) delete row.litellm_params[k];
  }

  private requireStorage(): void {
    if (!this.storageOn) throw new ModelRouteError(500, STORE_MODEL_IN_DB_REFUSAL, 'auth_error');
  }

  all(): StoredModel[] {
    return [...this.rows.values()].map((r) => structuredClone(r));
  }

  add(body: unknown): Record<string, unknown> {
    this.requireStorage();
    const params = isObject(body) && isObject(body['litellm_params']) ? body['litellm_params'] : undefined;
    if (!isObject(body) || typeof body['model_name'] !== 'string' || params === undefined || typeof params['model'] !== 'string') {
      throw new ModelRouteError(500, 'Internal Server Error', 'internal_server_error', true);
    }
    const info = isObject(body['model_info']) ? { ...body['model_info'] } : {};
    const id = typeof info['id'] === 'string' && info['id'] !== '' ? info['id'] : randomUUID();
    if (this.rows.has(id)) {
      throw new ModelRouteError(500, `Failed to add model to db. Error - Unique constraint failed on the fields: (\`model_id\`)`, 'internal_server_error');
    }
    const now = new Date().toISOString();
    const row: StoredModel = { model_id: id, model_name: body['model_name'], litellm_params: { ...params }, model_info: { ...info, id }, created_at: now, updated_at: now };
    this.rows.set(id, row);
    this.dead.delete(row.model_name);
    return this.answerRow(row);
  }

  /** POST /model/update: litellm_params merged, everything else of the body ignored. */
  update(body: unknown): Record<string, unknown> {
    this.requireStorage();
    const id = isObject(body) && isObject(body['model_info']) ? body['model_info']['id'] : undefined;
    const row = typeof id === 'string' ? this.rows.get(id) : undefined;
    if (row === undefined) throw new ModelRouteError(400, 'model not found', 'auth_error');
    if (isObject(body) && isObject(body['litellm_params'])) this.mergeParams(row, body['litellm_params']);
    row.updated_at = new Date().toISOString();
    return this.answerRow(row);
  }

  /** PATCH /model/{id}/update: litellm_params and model_info merged (null values are dropped: exclude_none). */
  patch(id: string, body: unknown): Record<string, unknown> {
    this.requireStorage();
    const row = this.rows.get(id);
    if (row === undefined) throw new ModelRouteError(404, `Model with id ${id} not found`, 'not_found_error');
    if (isObject(body)) {
      if (typeof body['model_name'] === 'string') row.model_name = body['model_name'];
      if (isObject(body['litellm_params'])) this.mergeParams(row, body['litellm_params']);
      if (isObject(body['model_info'])) Object.assign(row.model_info, withoutNulls(body['model_info']), { id });
    }
    row.updated_at = new Date().toISOString();
    return this.answerRow(row);
  }

  delete(body: unknown): Record<string, unknown> {
    this.requireStorage();
    const id = isObject(body) ? body['id'] : undefined;
    const row = typeof id === 'string' ? this.rows.get(id) : undefined;
    if (row === undefined) throw new ModelRouteError(400, `{'error': 'Model with id=${String(id)} not found in db'}`, 'auth_error');
    this.rows.delete(row.model_id);
    if (![...this.rows.values()].some((r) => r.model_name === row.model_name)) this.dead.add(row.model_name);
    return { message: `Model: ${row.model_id} deleted successfully` };
  }

  /** The router forgets dead groups when the proxy restarts. */
  restarted(): void {
    this.dead.clear();
  }

  isDead(name: string): boolean {
    return this.dead.has(name);
  }

  /** Rows of GET /model/info. */
  infoRows(): Record<string, unknown>[] {
    return [...this.rows.values()].map((r) => ({
      model_name: r.model_name,
      litellm_params: shown(r.litellm_params),
      model_info: { ...r.model_info, db_model: true },
    }));
  }

  names(): string[] {
    return [...new Set([...this.rows.values()].map((r) => r.model_name))];
  }

  /** The deployment a completion for `model_name` is routed to (exact name, or a stored wildcard). */
  deploymentFor(model: string, matches: (served: string, model: string) => boolean): StoredModel | undefined {
    const rows = [...this.rows.values()];
    return rows.find((r) => r.model_name === model) ?? rows.find((r) => matches(r.model_name, model));
  }

  private answerRow(row: StoredModel): Record<string, unknown> {
    return {
      model_id: row.model_id,
      model_name: row.model_name,
      litellm_params: Object.fromEntries(Object.entries(row.litellm_params).map(([k, v]) => [k, encrypted(v)])),
      model_info: { ...row.model_info },
      created_at: row.created_at,
      created_by: 'default_user_id',
      updated_at: row.updated_at,
      updated_by: 'default_user_id',
    };
  }
}

function withoutNulls(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== null && v !== undefined));
}
