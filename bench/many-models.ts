/**
 * The models section of the bench (issue 15): a keys file declaring N models (Ollama-style, an
 * api_base each) and one key scoped to them, against the LiteLLM stand-in with model storage on,
 * answering every management request after 20 ms (a LiteLLM + Postgres round trip). For each N:
 * first run (N registrations, at most LITELLM_MAX_CONCURRENCY in flight) and warm re-run (nothing
 * to do: the key and one /model/info) wall time and requests; checked: every model registered
 * once, the warm run registers nothing and stays at ≤ 2 requests.
 *
 * Self-contained: bench/run.ts calls manyModelsBench() and prints what it returns.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startLiteLLMStandIn } from '../test/support/litellm-stand-in.ts';
import { stats, timedSpawn, type Stats, type TimedRun } from './lib.ts';
import type { ManyKeysOptions } from './many-keys.ts';

export const MODEL_COUNTS = [100];
export const DELAY_MS = 20;
export const MODEL_GOALS = { warmRequests: 2, inFlight: 8 };

export interface ManyModelsRow {
  n: number;
  first: Stats;
  warm: Stats;
  firstRequests: number;
  warmRequests: number;
  mostInFlight: number;
  /** Every declared model stored exactly once, with our marker. */
  everyModelRegistered: boolean;
  /** The warm runs sent no /model/* write. */
  warmWroteNothing: boolean;
}

/** The same options as the many-keys section. */
export type ManyModelsOptions = ManyKeysOptions;

function fail(what: string, r: TimedRun): never {
  throw new Error(`${what} exited ${r.code ?? r.signal}:\n${r.stderr.trim().split('\n').slice(-5).join('\n')}`);
}

export async function manyModelsBench(o: ManyModelsOptions): Promise<{ rows: ManyModelsRow[]; markdown: string; failed: string[] }> {
  const rows: ManyModelsRow[] = [];
  for (const n of o.counts) {
    const names = Array.from({ length: n }, (_, i) => `local/bench-${i}`);
    const yaml = [
      'keys:',
      '  - alias: bench agent',
      '    env: OPENAI_API_KEY',
      `    models: [${names.join(', ')}]`,
      'models:',
      ...names.flatMap((name, i) => [`  - model_name: ${name}`, '    litellm_params:', `      model: ollama/bench-${i}`, `      api_base: http://ollama-${i % 4}:11434`]),
      '',
    ].join('\n');
    const firstMs: number[] = [];
    const warmMs: number[] = [];
    let firstRequests = 0;
    let warmRequests = 0;
    let mostInFlight = 0;
    let registered = true;
    let warmWroteNothing = true;
    for (let run = 0; run < o.runs; run++) {
      o.progress(`many models: N = ${n}, round ${run + 1} of ${o.runs}`);
      const standIn = await startLiteLLMStandIn({ masterKey: o.masterKey, models: ['openai/*'], storeModelsInDb: true });
      const dir = await mkdtemp(path.join(o.scratch, `models-${n}-`));
      try {
        await writeFile(path.join(dir, '.env'), `LITELLM_MASTER_KEY=${o.masterKey}\nLITELLM_DEFAULT_MODELS=openai/gpt-4o-mini\nOPENAI_API_KEY=sk-proxy-default\n`, { mode: 0o600 });
        await writeFile(path.join(dir, 'keys.yaml'), yaml);
        const env: NodeJS.ProcessEnv = {
          ...o.baseEnv,
          LOG_FORMAT: 'json',
          ENV_FILE_PATH: path.join(dir, '.env'),
          LITELLM_ENV_FILE_PATH: path.join(dir, '.env.litellm'),
          LITELLM_BOOTSTRAP_CONFIG: 'keys.yaml',
          PROXY_BASE_URL: standIn.url,
          LITELLM_PROXY_WAIT_SECONDS: '60',
        };
        standIn.setDelay(DELAY_MS);
        standIn.resetRequests();
        const first = await timedSpawn(o.node, [o.cli], { env, timeoutMs: 300_000 });
        if (first.code !== 0) fail(`a first run over ${n} models`, first);
        firstMs.push(first.ms);
        firstRequests = Math.max(firstRequests, standIn.requests.length);
        mostInFlight = Math.max(mostInFlight, standIn.maxInFlight);
        const stored = standIn.storedModels();
        if (stored.length !== n || new Set(stored.map((m) => m.model_name)).size !== n || stored.some((m) => m.model_info['provisioned_by'] !== 'llm-proxy-bootstrap')) registered = false;
        standIn.resetRequests();
        const warm = await timedSpawn(o.node, [o.cli], { env, timeoutMs: 300_000 });
        if (warm.code !== 0) fail(`a warm run over ${n} models`, warm);
        warmMs.push(warm.ms);
        warmRequests = Math.max(warmRequests, standIn.requests.length);
        mostInFlight = Math.max(mostInFlight, standIn.maxInFlight);
        if (standIn.requests.some((r) => r.path.startsWith('/model/') && r.method !== 'GET')) warmWroteNothing = false;
      } finally {
        await standIn.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
    rows.push({ n, first: stats(firstMs), warm: stats(warmMs), firstRequests, warmRequests, mostInFlight, everyModelRegistered: registered, warmWroteNothing });
  }
  const failed: string[] = [];
  for (const r of rows) {
    if (r.warmRequests > MODEL_GOALS.warmRequests) failed.push(`${r.n} models: ${r.warmRequests} requests per warm run`);
    if (r.mostInFlight > MODEL_GOALS.inFlight) failed.push(`${r.n} models: ${r.mostInFlight} requests in flight`);
    if (!r.everyModelRegistered) failed.push(`${r.n} models: not every model registered exactly once`);
    if (!r.warmWroteNothing) failed.push(`${r.n} models: a warm run wrote a model`);
  }
  const sec = (ms: number) => (ms / 1000).toFixed(2);
  const head = '| declared models | first run | requests | warm re-run | requests (warm) | most in flight | every model registered once | warm run writes nothing |';
  const sep = `|${head.split('|').slice(1, -1).map((c) => '-'.repeat(c.length)).join('|')}|`;
  const markdown = [
    `Many models: a keys file declaring N models (api_base each) and one key scoped to them, the stand-in with model storage on answering every request after ${DELAY_MS} ms, LITELLM_MAX_CONCURRENCY default (8); medians of ${o.runs} round(s), each on a fresh proxy and .env; requests and in-flight are the stand-in's counts.`,
    '',
    head,
    sep,
    ...rows.map((r) => `| ${r.n} | ${sec(r.first.median)} s | ${r.firstRequests} | ${sec(r.warm.median)} s | ${r.warmRequests} | ${r.mostInFlight} | ${r.everyModelRegistered ? 'yes' : '**no**'} | ${r.warmWroteNothing ? 'yes' : '**no**'} |`),
    '',
    `Goals: a warm run ≤ ${MODEL_GOALS.warmRequests} requests, never more than ${MODEL_GOALS.inFlight} in flight, every model registered once. ${failed.length ? `Not met: ${failed.join('; ')}.` : 'All met.'}`,
  ].join('\n');
  return { rows, markdown, failed };
}
