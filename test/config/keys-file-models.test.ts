/**
 * The keys file's `models:` section: parsed with its lines, credentials only as references.
 */
import { describe, expect, it } from 'vitest';
import { parseBootstrapConfig } from '../../src/resources/keys-file.ts';

const settings = { envFilePath: '/env/.env', defaultModels: ['gpt-4o-mini'], defaultUser: 'task-agent' };
const KEYS = 'keys:\n  - alias: a\n    env: A_KEY\n';
const parse = (text: string) => parseBootstrapConfig(text, '/cfg/keys.yaml', settings);
const failure = (text: string) => parse(text).then(() => new Error('no error'), (e: unknown) => e as Error);

describe('keys file: models', () => {
  it('declares models with their litellm_params (strings, numbers, booleans) and where they were declared', async () => {
    const { keys, models } = await parse(
      `${KEYS}models:\n  - model_name: local/llama3\n    litellm_params:\n      model: ollama/llama3\n      api_base: http://ollama:11434\n      max_tokens: 8192\n      stream: true\n  - model_name: gemma-4-31b\n    litellm_params: { model: openai/google/gemma-4-31b-it, api_base: "http://vllm:8000/v1", api_key: os.environ/VLLM_API_KEY }\n`,
    );
    expect(keys.map((k) => k.alias)).toEqual(['a']);
    expect(models).toEqual([
      { name: 'local/llama3', params: { model: 'ollama/llama3', api_base: 'http://ollama:11434', max_tokens: 8192, stream: true }, source: 'declared at /cfg/keys.yaml line 5', origin: 'declared' },
      { name: 'gemma-4-31b', params: { model: 'openai/google/gemma-4-31b-it', api_base: 'http://vllm:8000/v1', api_key: 'os.environ/VLLM_API_KEY' }, source: 'declared at /cfg/keys.yaml line 11', origin: 'declared' },
    ]);
    expect((await parse(KEYS)).models).toEqual([]);
    expect((await parse('- alias: a\n  env: A_KEY\n')).models).toEqual([]);
  });

  it('a literal secret in api_key (or any credential parameter) is refused naming the line, never quoting the value', async () => {
    const secret = 'sk-ant-api03-LITERAL-secret-value-123';
    for (const param of ['api_key', 'aws_secret_access_key', 'vertex_credentials']) {
      const err = await failure(`${KEYS}models:\n  - model_name: m\n    litellm_params:\n      model: x/y\n      ${param}: ${secret}\n`);
      expect(err.message).toMatch(new RegExp(`^invalid keys file /cfg/keys\\.yaml: line 8: models\\.0\\.litellm_params\\.${param} must be a reference os\\.environ/NAME, not a value`));
      expect(err.message).not.toContain(secret);
      expect((err as { exitCode?: number }).exitCode).toBe(2);
    }
    // os.environ/ references pass; numbers are no credential (input_cost_per_token).
    await expect(parse(`${KEYS}models:\n  - model_name: m\n    litellm_params: { model: x/y, api_key: os.environ/X_KEY, input_cost_per_token: 0.000001 }\n`)).resolves.toBeDefined();
  });

  it('model_name twice, no litellm_params.model, an unknown field or a nested value: exit 2 naming the line', async () => {
    expect((await failure(`${KEYS}models:\n  - model_name: m\n    litellm_params: { model: x/y }\n  - model_name: m\n    litellm_params: { model: x/z }\n`)).message).toMatch(/line 7: model_name "m" is already declared at line 5/);
    expect((await failure(`${KEYS}models:\n  - model_name: m\n    litellm_params: { api_base: "http://x" }\n`)).message).toMatch(/line 6: models\.0\.litellm_params\.model /);
    expect((await failure(`${KEYS}models:\n  - model_name: m\n    params: { model: x }\n`)).message).toMatch(/line 5: models\.0/);
    expect((await failure(`${KEYS}models:\n  - model_name: m\n    litellm_params: { model: x/y, extra: { a: 1 } }\n`)).message).toMatch(/models\.0\.litellm_params\.extra must be a string, number or boolean/);
  });
});
