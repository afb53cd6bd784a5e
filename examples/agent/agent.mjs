// Example agent: uses the issued key the way an agent does. Lists the models its key may use
// through the proxy's OpenAI-compatible API, then asks the first of them one chat completion and
// prints the answer; exits 0, or says what went wrong (the proxy's own error message) and exits 1.
// With AGENT_EVERY_SECONDS it keeps asking, every that many seconds, like an agent that runs for days
// (a failed request is then logged and the next one tried at the next turn).
//
// The key is read from AGENT_ENV_FILE, the agent's env file that the bootstrap writes just before
// this container starts (an `env_file:` entry would miss it: compose reads those when it loads the
// project). That file holds the agent's key and nothing else, so the master key and the provider
// keys are out of this container's reach. When the proxy refuses the key (401, or 400 expired_key)
// the agent reads the file again and, if a scheduled bootstrap run renewed or repaired the key
// meanwhile, retries that request once with the new key: no restart needed. (Compose mounts the
// file's directory, not the file: a bind-mounted file keeps showing the replaced one.)
// Replace with your agent.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

const base = (process.env.OPENAI_BASE_URL ?? 'http://llm-proxy:4000/v1').replace(/\/+$/, '');
const model = process.env.AGENT_MODEL ?? '';
const every = Number(process.env.AGENT_EVERY_SECONDS ?? '0');

/** The key as the env file (or the environment) holds it now; exits 1 when there is none. */
function readKey() {
  let found = process.env.OPENAI_API_KEY ?? '';
  if (process.env.AGENT_ENV_FILE) {
    try {
      found = parseEnv(readFileSync(process.env.AGENT_ENV_FILE, 'utf8')).OPENAI_API_KEY ?? '';
    } catch (err) {
      console.error(`agent: cannot read ${process.env.AGENT_ENV_FILE}: ${err.code ?? err.message}`);
      process.exit(1);
    }
  }
  if (found === '' || found === 'sk-proxy-default') {
    console.error('agent: no OPENAI_API_KEY (or still the placeholder): did llm-proxy-bootstrap run?');
    process.exit(1);
  }
  return found;
}

let key = readKey();

/** A failed request: said, then the end (a one-shot run) or the next turn (AGENT_EVERY_SECONDS). */
class Failed extends Error {}
function fail(message) {
  console.error(message);
  if (every > 0) throw new Failed(message);
  process.exit(1);
}

/** LiteLLM's answers to a key it no longer takes: unknown/rotated/blocked (401), expired (401, or 400 in 2025 builds). */
function keyRefused(status, json) {
  return status === 401 || (status === 400 && json?.error?.type === 'expired_key');
}

/**
 * LiteLLM's answer to a key over its budget: type budget_exceeded, "Budget has been exceeded! ...",
 * with status 422 by default in newer versions (litellm_settings.budget_exceeded_status_code), 429 in
 * older releases, 400 in 2024 builds and 1.77: read by what it says, whatever the status.
 */
function overBudget(json, text) {
  return json?.error?.type === 'budget_exceeded' || /budget has been exceeded/i.test(json?.error?.message ?? text);
}

/** One request to the proxy; the parsed JSON body, or exit 1 with the proxy's error message. */
async function call(method, path, body, retried = false) {
  let res;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    fail(`agent: ${method} ${base}${path} failed: ${err.cause?.code ?? err.message}`);
  }
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok && !retried && keyRefused(res.status, json)) {
    const now = readKey();
    if (now !== key) {
      console.log(`agent: the proxy refused the key (${res.status}); ${process.env.AGENT_ENV_FILE ?? 'the environment'} has a new one: retrying with it`);
      key = now;
      return call(method, path, body, true);
    }
  }
  if (!res.ok && overBudget(json, text)) {
    fail(`agent: the key is over its budget (${res.status} budget_exceeded: ${String(json?.error?.message ?? text).split('\n')[0].slice(0, 300)}): raise its max_budget (LITELLM_DEFAULT_KEY_BUDGET) or wait for its budget_duration to reset it`);
  }
  if (!res.ok) {
    // LiteLLM: {"error": {"message", "type", "code"}}; FastAPI: {"detail": ...}.
    const message = json?.error?.message ?? (json?.detail === undefined ? text : JSON.stringify(json.detail));
    fail(`agent: ${method} ${base}${path} answered ${res.status}: ${String(message).split('\n')[0].slice(0, 500)}`);
  }
  return json;
}

let models;
for (;;) {
  try {
    models = (await call('GET', '/models')).data.map((m) => m.id);
    break;
  } catch (err) {
    if (!(err instanceof Failed)) throw err;
    await new Promise((r) => setTimeout(r, every * 1000));
  }
}
console.log(`agent: key works; models: ${models.join(', ') || '(none)'}`);
const use = model || models[0];
if (!use) {
  console.error('agent: the key may use no model: check LITELLM_DEFAULT_MODELS in .env');
  process.exit(1);
}
for (;;) {
  try {
    const completion = await call('POST', '/chat/completions', {
      model: use,
      messages: [{ role: 'user', content: 'Say hello in five words or fewer.' }],
      max_tokens: 20,
    });
    const answer = completion.choices?.[0]?.message?.content ?? '';
    console.log(`agent: ${use} answered: ${JSON.stringify(answer)}`);
  } catch (err) {
    if (!(err instanceof Failed)) throw err;
  }
  if (!(every > 0)) break;
  await new Promise((r) => setTimeout(r, every * 1000));
}
