/**
 * Answers of the proxy that state a problem with what was sent: retrying them
 * cannot help, whatever their status. LiteLLM turns a ValueError raised while
 * checking a request into a 500 on some routes (/key/generate with
 * `budget_duration: 2mo` answers 500 "Monthly resets currently only support 1
 * month intervals") and into a 400 on others, so a 5xx is not always "try again".
 */

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
