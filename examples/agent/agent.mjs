// Example agent: proves the issued key works. Lists the models its key may use through the
// proxy's OpenAI-compatible API and exits 0, or says what is wrong and exits 1.
//
// The key is read from the env file when the agent starts (AGENT_ENV_FILE), and only that one
// variable: the bootstrap writes it just before this container starts, which an `env_file:`
// entry would miss (compose reads those when it loads the project). Replace with your agent.
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

const base = (process.env.OPENAI_BASE_URL ?? 'http://llm-proxy:4000/v1').replace(/\/+$/, '');
let key = process.env.OPENAI_API_KEY ?? '';
if (process.env.AGENT_ENV_FILE) {
  try {
    key = parseEnv(readFileSync(process.env.AGENT_ENV_FILE, 'utf8')).OPENAI_API_KEY ?? '';
  } catch (err) {
    console.error(`agent: cannot read ${process.env.AGENT_ENV_FILE}: ${err.code ?? err.message}`);
    process.exit(1);
  }
}
if (key === '' || key === 'sk-proxy-default') {
  console.error('agent: OPENAI_API_KEY is still the placeholder: did llm-proxy-bootstrap run?');
  process.exit(1);
}
try {
  const res = await fetch(`${base}/models`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) {
    console.error(`agent: GET ${base}/models answered ${res.status}`);
    process.exit(1);
  }
  const body = await res.json();
  console.log(`agent: key works; models: ${body.data.map((m) => m.id).join(', ') || '(none)'}`);
} catch (err) {
  console.error(`agent: GET ${base}/models failed: ${err.message}`);
  process.exit(1);
}
