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
  metadata: Record<string, unknown>;
  /** Where this key was declared, for messages. */
  source: string;
  /** The setting or keys-file line that gave the alias, for messages about the alias. */
  aliasSource: string;
}

/** `metadata.provisioned_by` of every key this bootstrap issues. */
export const PROVISIONED_BY = 'llm-proxy-bootstrap';
