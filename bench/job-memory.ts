/**
 * Peak memory of the Kubernetes Job's first run (deploy/kubernetes/job.yaml's `resources.limits.memory`)
 * against a proxy whose GET /model/info is as large as the bootstrap accepts (the 16 MiB response cap,
 * src/proxy/dispatcher.ts): the built CLI, run the way the Job runs it (Secret mode, settings from the
 * environment), under /usr/bin/time -v against the LiteLLM stand-in and the Kubernetes API stand-in on
 * loopback. Prints "Maximum resident set size" for each size.
 *
 *   npm run build && node --import tsx bench/job-memory.ts [--runs 3]
 *
 * What it measures is the Node process's RSS; the container adds nothing but its cgroup accounting of
 * the same pages (no shell, no init of ours in the Job's pod).
 */
import { execFile } from 'node:child_process';
import { parseArgs } from 'node:util';
import { startLiteLLMStandIn } from '../test/support/litellm-stand-in.ts';
import { deployedRules } from '../test/support/kube-rbac.ts';
import { serviceAccountDir, serviceAccountToken, serviceAccountUser, startKubeStandIn } from '../test/support/kube-stand-in.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' } } });
const RUNS = Number(values.runs);
const MASTER = 'sk-master-job-memory-3f9a1c';
const NS = 'litellm';
const CAP = 16 * 1024 * 1024;

async function modelInfoBytes(url: string): Promise<number> {
  const res = await fetch(`${url}/model/info`, { headers: { authorization: `Bearer ${MASTER}` } });
  return (await res.arrayBuffer()).byteLength;
}

function timed(env: NodeJS.ProcessEnv): Promise<{ code: number; rssKiB: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('/usr/bin/time', ['-v', process.execPath, 'dist/cli.cjs'], { env, maxBuffer: 64 * 1024 * 1024 }, (err, _stdout, stderr) => {
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, rssKiB: rss ? Number(rss[1]) : NaN, stderr });
    });
  });
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `openai/bench-model-${String(i).padStart(6, '0')}-${'x'.repeat(40)}`);

console.log('| /model/info | models | first run peak RSS (MiB), each run | exit |');
console.log('|---|---|---|---|');
for (const count of [100, 10_000, 0]) {
  // 0: as many models as fit under the cap (found by measuring one size and scaling).
  let n = count;
  if (n === 0) {
    const probe = await startLiteLLMStandIn({ masterKey: MASTER, models: names(1000) });
    const per = (await modelInfoBytes(probe.url)) / 1000;
    await probe.close();
    n = Math.floor((CAP * 0.97) / per);
  }
  const rss: number[] = [];
  let bytes = 0;
  let code = 0;
  for (let run = 0; run < RUNS; run++) {
    const proxy = await startLiteLLMStandIn({ masterKey: MASTER, models: names(n) });
    bytes = await modelInfoBytes(proxy.url);
    const token = serviceAccountToken(NS, 'llm-proxy-bootstrap');
    const api = await startKubeStandIn({ tokens: { [token]: serviceAccountUser(NS, 'llm-proxy-bootstrap') }, rbac: { [serviceAccountUser(NS, 'llm-proxy-bootstrap')]: await deployedRules(NS) } });
    const sa = serviceAccountDir(api, { token, namespace: NS });
    try {
      const r = await timed({
        PATH: process.env['PATH'],
        LITELLM_KEY_SECRET: 'agent-litellm-key',
        PROXY_BASE_URL: proxy.url,
        LITELLM_DEFAULT_MODELS: 'openai/bench-model-000000-' + 'x'.repeat(40),
        LITELLM_MASTER_KEY: MASTER,
        LITELLM_PROXY_WAIT_SECONDS: '30',
        LOG_FORMAT: 'json',
        ENV_FILE_PATH: '/nonexistent/.env',
        ...sa.env,
      });
      code = r.code;
      if (r.code !== 0) console.error(r.stderr.split('\n').slice(-5).join('\n'));
      rss.push(r.rssKiB / 1024);
    } finally {
      sa.cleanup();
      await api.close();
      await proxy.close();
    }
  }
  console.log(`| ${(bytes / 1024 / 1024).toFixed(1)} MiB | ${n} | ${rss.map((v) => v.toFixed(0)).join(', ')} | ${code} |`);
}
