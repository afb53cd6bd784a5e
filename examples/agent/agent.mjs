// Example agent: proves the issued key works. Lists the models its key may use through the
// proxy's OpenAI-compatible API and exits 0, or explains what is wrong and exits 1.
// Replace this service with your agent; it reads the same two variables.
const base = (process.env.OPENAI_BASE_URL ?? 'http://llm-proxy:4000/v1').replace(/\/+$/, '');
const key = process.env.OPENAI_API_KEY ?? '';
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
