import type { KeyType } from '../../config/settings.ts';

/** One key the run must converge to: from the LITELLM_DEFAULT_* settings, or a line of the keys file. */
export interface KeySpec {
  alias: string;
  /** Variable the raw key is written to. */
  env: string;
  /** Absolute path of the env file the key is written to (unless `secret` is set). */
  file: string;
  /** Secret mode: the Kubernetes Secret (in the pod's namespace) whose `data[env]` holds the key. */
  secret?: string | undefined;
  models: string[];
  userId: string | undefined;
  duration: string | undefined;
  maxBudget: number | undefined;
  budgetDuration: string | undefined;
  /** LiteLLM's key_type; the proxy stores it as allowed_routes (see allowedRoutesOf). */
  keyType: KeyType;
  teamId: string | undefined;
  tpmLimit: number | undefined;
  rpmLimit: number | undefined;
  maxParallelRequests: number | undefined;
  /** Renew the key when its expiry (as the proxy reports it) is this close; undefined: never renewed early. */
  renewBefore: string | undefined;
  /** Proxy-side rotation asked for (LiteLLM's auto_rotate with this rotation_interval); undefined: auto_rotate off. */
  rotationInterval: string | undefined;
  metadata: Record<string, unknown>;
  /** Where this key was declared, for messages. */
  source: string;
  /** The setting or keys-file line that gave the alias, for messages about the alias. */
  aliasSource: string;
}

/** `metadata.provisioned_by` of every key this bootstrap issues (config/ownership.ts). */
export { PROVISIONED_BY } from '../../config/ownership.ts';

/**
 * What LiteLLM stores for a key_type (key_management_endpoints.handle_key_type): `default`
 * stores no list (every route a default key may call).
 */
export const KEY_TYPE_ROUTES: Record<KeyType, string[]> = {
  default: [],
  llm_api: ['llm_api_routes'],
  management: ['management_routes'],
  read_only: ['info_routes'],
};
