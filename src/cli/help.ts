import { SETTING_NAMES, settingMeta } from '../config/settings.ts';

export function helpText(version: string): string {
  // From the zod settings schema's .meta(), like docs/configuration.md.
  const rows = SETTING_NAMES.map((name) => {
    const meta = settingMeta(name);
    const def = meta.required ? ' Required.' : meta.default !== undefined ? ` Default: ${meta.default}.` : '';
    return `  ${name}${meta.flag ? ` (${meta.flag})` : ''}\n      ${meta.description.replace(/`/g, '')}${def}`;
  });
  return `llm-proxy-bootstrap ${version}
Makes a self-hosted LiteLLM proxy usable: waits for it and its database, mirrors
LITELLM_<PROVIDER>_API_KEY values of .env into the proxy's env file, and issues,
reuses or refreshes the agent's virtual key in .env, and registers on the proxy the
models the keys need (a <provider>/<model> whose key .env holds, the keys file's models:).

Usage: llm-proxy-bootstrap [--dry-run | --check] [--rotate[=<alias>] [--grace <duration>] | --mirror-only] [--take-over-alias] [--<setting-flag> <value>]

  --dry-run          print the plan, change nothing
  --check            exit 5 when the plan is not empty (drift detection)
  --rotate[=alias]   issue a new key, write it, then revoke the old one (every key, or one alias);
                     in place with /key/{hash}/regenerate where the proxy is licensed
  --grace <duration> with --rotate: keep the old key working that long (LITELLM_KEY_GRACE_PERIOD)
  --take-over-alias  a declared alias held by a key this installation did not issue (another stack,
                     or this env directory before its ledger was lost) is taken over: that key is
                     deleted and this installation's own issued; without it such a run exits 2
  --mirror-only      before the proxy starts: create .env from the template if there is none
                     (fresh LITELLM_MASTER_KEY and LITELLM_SALT_KEY), write the proxy's env file;
                     never contacts the proxy
  --help, --version

Settings (flag > environment > .env file), see docs/configuration.md:
${rows.join('\n')}

Exit codes: 0 done, 1 unexpected, 2 bad settings or unusable .env, 3 proxy not ready in time,
4 proxy refused (master key, no database), 5 --check found drift.
`;
}
