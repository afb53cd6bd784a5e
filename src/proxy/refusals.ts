/**
 * Answers of the proxy that state a problem with what was sent: retrying them
 * cannot help, whatever their status. LiteLLM turns a ValueError raised while
 * checking a request into a 500 on some routes (/key/generate with
 * `budget_duration: 2mo` answers 500 "Monthly resets currently only support 1
 * month intervals") and into a 400 on others, so a 5xx is not always "try again".
 */
import { ProxyRefusedError } from '../errors.ts';
import { GatewayOnlyError } from './errors.ts';

interface Answer {
  status: number;
  type: string | undefined;
  proxyMessage: string;
}

/** Texts of LiteLLM's request checks (duration_parser.py, key_management_endpoints.py), whatever the status. */
const VALIDATION_MESSAGES = [
  /only support 1 month intervals/i,
  /invalid duration format/i,
  /unsupported duration unit/i,
  /invalid key_alias format/i,
  /cannot be negative/i,
  /invalid key format/i,
  /is over max limit set in config/i,
  /enterprise/i,
  // /model/new and friends without model storage (500 auth_error), and a model id taken (500).
  /STORE_MODEL_IN_DB/,
  /failed to add model to db/i,
];

/** A 4xx/5xx whose message says the request itself is at fault. */
export function statesInvalidRequest(answer: Answer): boolean {
  if (answer.status === 422) return true;
  return VALIDATION_MESSAGES.some((re) => re.test(answer.proxyMessage));
}

/**
 * The proxy's alias rule, when `answer` refuses a key_alias for its format
 * (LiteLLM's `enable_key_alias_format_validation` or `key_alias_pattern`: 400
 * bad_request_error, param key_alias, "Invalid key_alias format. Must be ...").
 */
export function aliasFormatRule(answer: Answer): string | undefined {
  if (answer.status !== 400 || !/invalid key_alias/i.test(answer.proxyMessage)) return undefined;
  return answer.proxyMessage;
}

/**
 * A key write (/key/generate, /key/update, /key/{key}/regenerate) refused by the proxy's own key
 * policy, which no route reads back beforehand: its upper bounds (`litellm_settings.
 * upperbound_key_generate_params`: 400 "<field> is over max limit set in config ..."), a key
 * duration in months other than 1 on versions that round expiries (500 "Monthly resets currently
 * only support 1 month intervals"), or an operator's hook (`general_settings.custom_key_generate`,
 * `custom_key_update`, `custom_key_policy`: 403). Exit 4 naming the proxy's setting; undefined for
 * any other answer.
 */
export function keyPolicyRefusal(what: string, err: Answer & { route: string }): ProxyRefusedError | undefined {
  if (!/^\/key\/(generate|update|.+\/regenerate)$/.test(err.route)) return undefined;
  const said = err.proxyMessage;
  if (/over max limit set in config/i.test(said)) {
    return new ProxyRefusedError(`${what}: the proxy's litellm_settings.upperbound_key_generate_params refuses it (${said})`, {
      hint: "bring the key's setting named there (LITELLM_DEFAULT_KEY_BUDGET, LITELLM_DEFAULT_KEY_DURATION, ... or the keys file's field) within the proxy's bound, or ask its operator to raise the bound",
      cause: err,
    });
  }
  if (/only support 1 month intervals/i.test(said)) {
    return new ProxyRefusedError(`${what}: the proxy takes key durations in months only as 1mo (${said})`, {
      hint: 'use days instead (e.g. 60d for 2mo) in LITELLM_DEFAULT_KEY_DURATION or the keys file\'s duration',
      cause: err,
    });
  }
  if (err.status === 403 && !isMasterKeyLockout(err)) {
    return new ProxyRefusedError(`${what}: the proxy's own key policy refused it (general_settings.custom_key_generate, custom_key_update or custom_key_policy): ${said}`, {
      hint: "the master key was accepted; the operator's policy decides which keys may be issued or changed: ask them, or change the key's settings to what it allows",
      cause: err,
    });
  }
  return undefined;
}

/** The proxy cannot store models: `STORE_MODEL_IN_DB` is off (500 auth_error "Set `'STORE_MODEL_IN_DB='True'` in your env ..."). */
export function isModelStorageOff(answer: Answer): boolean {
  return /STORE_MODEL_IN_DB/.test(answer.proxyMessage);
}

/**
 * LiteLLM's master-key lockout (newest versions, master key empty or the docs'
 * `sk-1234`): 403 auth_error, param master_key, "This functionality is unavailable
 * until the master key has been set. ..." on credential and key-management routes.
 */
export function isMasterKeyLockout(answer: Answer): boolean {
  return answer.status === 403 && /until the master key has been set/i.test(answer.proxyMessage);
}

/**
 * Management routes every LiteLLM with virtual keys has (the `backend` component of a split
 * deployment serves them). Not /key/list: older versions lack it and answer FastAPI's 404 there too.
 */
const MANAGEMENT_ROUTE = /^\/(key\/(generate|info|update|delete)|model\/(info|new|delete))$/;

/**
 * FastAPI's own 404 for a path the app does not serve, `{"detail":"Not Found"}`: not LiteLLM's
 * answers for a key or model it cannot find (404 `not_found_error`, or "Key ... not found"). The one
 * recogniser of it, on a parsed answer (a ProxyHttpError).
 */
export function isBareNotFound(answer: Answer): boolean {
  return answer.status === 404 && answer.type === undefined && answer.proxyMessage.trim() === 'Not Found';
}

/**
 * A route of the other generation of LiteLLM is not there: a 404, whatever its body (FastAPI's
 * bare "Not Found", or a gateway's). Used for the model cost map, which moved from
 * `/get/litellm_model_cost_map` (1.77, admin) to `/public/litellm_model_cost_map` (newer).
 */
export function isOtherGenerationRoute(answer: Answer): boolean {
  return answer.status === 404;
}

/** The same on a raw answer: a body of `detail` alone. */
export function isMissingRoute(status: number, text: string): boolean {
  try {
    const body = JSON.parse(text) as unknown;
    const detail = typeof body === 'object' && body !== null && Object.keys(body).length === 1 ? (body as { detail?: unknown }).detail : undefined;
    return typeof detail === 'string' && isBareNotFound({ status, type: undefined, proxyMessage: detail });
  } catch {
    return false;
  }
}

/**
 * A management request that found no route: a split LiteLLM deployment (LiteLLM PR #27557,
 * `docker-entrypoint.sh gateway|backend`) where PROXY_BASE_URL names the `gateway`, which keeps only
 * the inference and health routes (gateway/routes/allowlist.py); `/key/*` and `/model/*` are the
 * `backend`'s (backend/routes/allowlist.py), on port 4001. Exit 4 at once: waiting cannot help.
 */
const BACKEND_HINT = 'PROXY_BASE_URL must point at the backend component (`docker-entrypoint.sh backend`, port 4001, e.g. http://litellm-backend:4001); the agent keeps the gateway (port 4000): docs/stack.md#split-deployments-gateway-and-backend';

/**
 * `/key/list` answered FastAPI's bare 404 where no listing can be done without: a gateway, or a
 * LiteLLM older than the listing (one that reads keys one by one instead never gets here).
 */
export function missingListing(what: string, err: Answer & { method: string; route: string }): ProxyRefusedError | undefined {
  if (!isBareNotFound(err) || !err.route.startsWith('/key/')) return undefined;
  return new ProxyRefusedError(
    `${what}: ${err.method} ${err.route} answered FastAPI's 404 "Not Found": the proxy has no such route; either it is the gateway component of a split LiteLLM deployment (inference only), or a LiteLLM too old to list keys`,
    // The cause stays: a caller that can do without the listing (many keys: read one by one) still can.
    { hint: `${BACKEND_HINT}; or upgrade LiteLLM`, cause: err },
  );
}

export function missingManagementRoutes(baseUrl: string, method: string, route: string, status: number, text: string): GatewayOnlyError | undefined {
  if (!MANAGEMENT_ROUTE.test(route) || !isMissingRoute(status, text)) return undefined;
  return new GatewayOnlyError(
    `${baseUrl} serves no management routes (${method} ${route} answered FastAPI's 404 "Not Found"): it looks like the gateway component of a split LiteLLM deployment, which serves inference only`,
    undefined,
    { hint: BACKEND_HINT },
  );
}
