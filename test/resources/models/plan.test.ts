/**
 * The models kind's plan: every decision, without I/O.
 */
import { describe, expect, it } from 'vitest';
import type { ProxyModel } from '../../../src/proxy/client.ts';
import { describeModelStep, describeUnserved, planModels, type ModelPlanInput } from '../../../src/resources/models/plan.ts';
import { desiredModelInfo, modelId, onDemandFrom, onDemandSpec, type ModelSpec } from '../../../src/resources/models/spec.ts';

const OLLAMA: ModelSpec = { name: 'local/llama3', params: { model: 'ollama/llama3', api_base: 'http://ollama:11434' }, source: 'declared at keys.yaml line 7', origin: 'declared' };
const CONFIG_OPENAI: ProxyModel = { name: 'openai/*', id: 'cfg-1', dbModel: false, params: { model: 'openai/*' }, info: { id: 'cfg-1', db_model: false } };

/** A model of ours as /model/info lists it after we registered `spec` (api_key removed). */
function registered(spec: ModelSpec): ProxyModel {
  const { api_key: _hidden, ...shown } = spec.params;
  const info = desiredModelInfo(spec);
  return { name: spec.name, id: info['id'] as string, dbModel: true, params: shown, info: { ...info, db_model: true } };
}

const configured = (providers: string[]) => (model: string, alias: string) => {
  const p = model.split('/')[0]!;
  return model.includes('/') && providers.includes(p) ? onDemandSpec(model, alias) : undefined;
};

function input(over: Partial<ModelPlanInput>): ModelPlanInput {
  return { declared: [], keys: [], proxy: [CONFIG_OPENAI], onDemand: configured([]), onDemandPossible: true, ...over };
}

describe('declared models', () => {
  it('one not on the proxy is registered, with a deterministic id and our marker', () => {
    const plan = planModels(input({ declared: [OLLAMA] }));
    expect(plan.steps).toEqual([{ kind: 'model-register', spec: OLLAMA }]);
    expect(desiredModelInfo(OLLAMA)).toMatchObject({ id: modelId('local/llama3'), provisioned_by: 'llm-proxy-bootstrap' });
    expect(modelId('local/llama3')).toBe(modelId('local/llama3'));
    expect(modelId('local/llama3')).not.toBe(modelId('local/llama4'));
    expect(describeModelStep(plan.steps[0]!)).toBe('register model "local/llama3" on the proxy (declared at keys.yaml line 7; litellm_params.model "ollama/llama3")');
  });

  it('ours and unchanged: nothing to do', () => {
    expect(planModels(input({ declared: [OLLAMA], proxy: [CONFIG_OPENAI, registered(OLLAMA)] })).steps).toEqual([]);
  });

  it('a changed api_base is an update of the same model (same id)', () => {
    const moved = { ...OLLAMA, params: { ...OLLAMA.params, api_base: 'http://gpu-box:11434' } };
    const plan = planModels(input({ declared: [moved], proxy: [registered(OLLAMA)] }));
    expect(plan.steps).toEqual([{ kind: 'model-update', spec: moved, id: modelId(OLLAMA.name), fields: ['api_base'], replace: false }]);
    expect(describeModelStep(plan.steps[0]!)).toBe('update model "local/llama3": api_base');
  });

  it('a changed api_key reference is seen although /model/info never shows api_key', () => {
    const withKey = { ...OLLAMA, params: { ...OLLAMA.params, api_key: 'os.environ/OLLAMA_KEY' } };
    const otherKey = { ...OLLAMA, params: { ...OLLAMA.params, api_key: 'os.environ/OLLAMA_OTHER_KEY' } };
    expect(planModels(input({ declared: [withKey], proxy: [registered(withKey)] })).steps).toEqual([]);
    const plan = planModels(input({ declared: [otherKey], proxy: [registered(withKey)] }));
    expect(plan.steps).toMatchObject([{ kind: 'model-update', fields: ['api_key'], replace: false }]);
  });

  it('a dropped parameter cannot be merged away: the model is re-registered', () => {
    const bare = { ...OLLAMA, params: { model: 'ollama/llama3' } };
    const plan = planModels(input({ declared: [bare], proxy: [registered(OLLAMA)] }));
    expect(plan.steps).toMatchObject([{ kind: 'model-update', fields: ['api_base (removed)'], replace: true }]);
  });

  it('dropped from the file: ours is removed; the step says LiteLLM keeps the name until it restarts', () => {
    const plan = planModels(input({ declared: [], proxy: [CONFIG_OPENAI, registered(OLLAMA)] }));
    expect(plan.steps).toEqual([{ kind: 'model-remove', name: 'local/llama3', id: modelId('local/llama3'), reason: 'no longer declared or needed' }]);
    expect(describeModelStep(plan.steps[0]!)).toMatch(/no healthy deployments.*until it restarts/);
  });

  it('a same-named model that is not ours (config, or stored without our marker) is never changed: a note says so', () => {
    const byHand: ProxyModel = { name: 'local/llama3', id: 'uuid-1', dbModel: true, params: { model: 'ollama/llama3', api_base: 'http://elsewhere' }, info: { id: 'uuid-1', db_model: true } };
    const inConfig: ProxyModel = { ...byHand, dbModel: false, info: { id: 'uuid-1', db_model: false, provisioned_by: 'llm-proxy-bootstrap' } };
    for (const theirs of [byHand, inConfig]) {
      const plan = planModels(input({ declared: [OLLAMA], proxy: [theirs] }));
      expect(plan.steps).toEqual([]);
      expect(plan.notes).toEqual(['model "local/llama3" (declared at keys.yaml line 7) is already served by a model the bootstrap does not own (proxy_config.yaml, or added by hand): left as it is, not registered']);
    }
    // And when the file drops it, theirs is still not touched.
    expect(planModels(input({ declared: [], proxy: [byHand] })).steps).toEqual([]);
  });

  it('a second deployment of ours under another id is removed', () => {
    const stray: ProxyModel = { ...registered(OLLAMA), id: 'old-uuid', info: { ...registered(OLLAMA).info, id: 'old-uuid' } };
    const plan = planModels(input({ declared: [OLLAMA], proxy: [registered(OLLAMA), stray] }));
    expect(plan.steps).toEqual([{ kind: 'model-remove', name: 'local/llama3', id: 'old-uuid', reason: 'a second deployment of ours' }]);
  });

  it('nothing is planned when /model/info could not be read', () => {
    expect(planModels(input({ declared: [OLLAMA], proxy: undefined }))).toEqual({ steps: [], notes: [], unserved: [] });
  });
});

describe('models of keys', () => {
  const agent = { alias: 'task-agent default', models: ['gemini/gemini-2.5-flash', 'openai/gpt-4o-mini'] };

  it("a key's <provider>/<model> not served, its provider key configured: exactly that model is registered, its key a reference", () => {
    const plan = planModels(input({ keys: [agent], onDemand: configured(['gemini']) }));
    expect(plan.steps).toEqual([
      {
        kind: 'model-register',
        spec: { name: 'gemini/gemini-2.5-flash', params: { model: 'gemini/gemini-2.5-flash', api_key: 'os.environ/GEMINI_API_KEY' }, source: 'model of key "task-agent default"', origin: 'on-demand' },
      },
    ]);
    expect(plan.unserved).toEqual([]);
  });

  it('registered once, it stays while a key needs it and goes when none does', () => {
    const spec = onDemandSpec('gemini/gemini-2.5-flash', 'task-agent default');
    const proxy = [CONFIG_OPENAI, registered(spec)];
    expect(planModels(input({ keys: [agent], proxy, onDemand: configured(['gemini']) })).steps).toEqual([]);
    const gone = planModels(input({ keys: [{ ...agent, models: ['openai/gpt-4o-mini'] }], proxy, onDemand: configured(['gemini']) }));
    expect(gone.steps).toMatchObject([{ kind: 'model-remove', name: 'gemini/gemini-2.5-flash' }]);
  });

  it('a model the proxy serves (exactly, or through a wildcard such as openai/*) or a key wildcard needs nothing', () => {
    const plan = planModels(input({ keys: [{ alias: 'a', models: ['openai/gpt-4o-mini', 'anthropic/*', 'all-proxy-models'] }], onDemand: configured(['openai', 'anthropic']) }));
    expect(plan).toEqual({ steps: [], notes: [], unserved: [] });
  });

  it('a declared model serves the keys scoped to it: no on-demand registration of the same name', () => {
    const plan = planModels(input({ declared: [OLLAMA], keys: [{ alias: 'a', models: ['local/llama3'] }], onDemand: configured(['local']) }));
    expect(plan.steps).toEqual([{ kind: 'model-register', spec: OLLAMA }]);
  });

  it('not served and its provider not configured: unserved (one entry per model, every alias), naming the provider key to set', () => {
    const plan = planModels(input({ keys: [agent, { alias: 'b', models: ['gemini/gemini-2.5-flash'] }] }));
    expect(plan.steps).toEqual([]);
    expect(plan.unserved).toEqual([{ model: 'gemini/gemini-2.5-flash', aliases: ['task-agent default', 'b'], closest: 'openai/*', providerKey: 'LITELLM_GEMINI_API_KEY' }]);
    expect(describeUnserved(plan.unserved[0]!)).toBe(
      'model "gemini/gemini-2.5-flash" of key "task-agent default", "b" is not served by the proxy (closest configured: "openai/*"): set LITELLM_GEMINI_API_KEY in .env to have it registered, or declare it under models: in the keys file',
    );
  });

  it('in Secret mode (no on-demand registration) the hint is to declare it', () => {
    const plan = planModels(input({ keys: [agent], onDemandPossible: false }));
    expect(describeUnserved(plan.unserved[0]!)).toMatch(/: declare it under models: in the keys file, or add it to the proxy$/);
  });

  it('a model of ours whose provider key was removed is removed, and the key\'s model becomes unserved', () => {
    const spec = onDemandSpec('gemini/gemini-2.5-flash', 'task-agent default');
    const plan = planModels(input({ keys: [agent], proxy: [CONFIG_OPENAI, registered(spec)] }));
    expect(plan.steps).toMatchObject([{ kind: 'model-remove', name: 'gemini/gemini-2.5-flash' }]);
    expect(plan.unserved.map((u) => u.model)).toEqual(['gemini/gemini-2.5-flash']);
  });
});

describe('on demand, as .env allows it (onDemandFrom)', () => {
  it('a provider counts when its LITELLM_<PROVIDER>_API_KEY is set; its API_BASE is referenced when set; nothing without .env', () => {
    const onDemand = onDemandFrom({ LITELLM_GEMINI_API_KEY: 'AIza-x', LITELLM_MISTRAL_API_KEY: ' ', LITELLM_VERTEX_AI_API_KEY: 'v', LITELLM_VERTEX_AI_API_BASE: 'https://vertex.example' });
    expect(onDemand('gemini/gemini-2.5-flash', 'a')?.params).toEqual({ model: 'gemini/gemini-2.5-flash', api_key: 'os.environ/GEMINI_API_KEY' });
    expect(onDemand('mistral/mistral-small', 'a')).toBeUndefined();
    expect(onDemand('vertex_ai/gemini-pro', 'a')?.params).toEqual({ model: 'vertex_ai/gemini-pro', api_key: 'os.environ/VERTEX_AI_API_KEY', api_base: 'os.environ/VERTEX_AI_API_BASE' });
    expect(onDemand('gpt-4o-mini', 'a')).toBeUndefined();
    expect(onDemandFrom(undefined)('gemini/gemini-2.5-flash', 'a')).toBeUndefined();
  });

  it('a local runtime configured by its API base alone gets the base, no key; ollama_chat reads Ollama\'s; Bedrock (AWS credentials passed through) the model alone', () => {
    const onDemand = onDemandFrom({ LITELLM_OLLAMA_API_BASE: 'http://ollama:11434', LITELLM_PROXY_ENV_AWS_ACCESS_KEY_ID: 'AKIA-x' });
    expect(onDemand('ollama/llama3', 'a')?.params).toEqual({ model: 'ollama/llama3', api_base: 'os.environ/OLLAMA_API_BASE' });
    expect(onDemand('ollama_chat/llama3', 'a')?.params).toEqual({ model: 'ollama_chat/llama3', api_base: 'os.environ/OLLAMA_API_BASE' });
    expect(onDemand('bedrock/anthropic.claude-3', 'a')?.params).toEqual({ model: 'bedrock/anthropic.claude-3' });
  });
});
