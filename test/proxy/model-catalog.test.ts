/**
 * Whether LiteLLM knows a model, read from its model cost map as the real map writes names:
 * OpenAI's under their bare names, Gemini's as gemini/<name>, Vertex's with a compound provider.
 * And the proxy's two routes for the map, per version, as the stand-in serves them.
 */
import { describe, expect, it } from 'vitest';
import { closestKnown, isKnownModel } from '../../src/proxy/model-catalog.ts';
import { ProxyClient } from '../../src/proxy/client.ts';
import { startLiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { STAND_IN_COST_MAP } from '../support/stand-in-cost-map.ts';

const map = new Map(Object.entries(STAND_IN_COST_MAP).map(([k, v]) => [k, (v as { litellm_provider: string }).litellm_provider]));

describe('a model LiteLLM knows', () => {
  it('by its bare name and provider, or by its full name', () => {
    expect(isKnownModel(map, 'openai/gpt-4o-mini')).toBe(true);
    expect(isKnownModel(map, 'gemini/gemini-2.5-flash')).toBe(true);
    expect(isKnownModel(map, 'vertex_ai/gemini-pro')).toBe(true);
    expect(isKnownModel(map, 'bedrock/anthropic.claude-3-haiku-20240307-v1:0')).toBe(true);
  });

  it('a typo is unknown, and the closest names of its provider come first', () => {
    expect(isKnownModel(map, 'openai/gpt-4o-mnii')).toBe(false);
    expect(closestKnown(map, 'openai/gpt-4o-mnii')[0]).toBe('openai/gpt-4o-mini');
    // A name of another provider is not a name of this one.
    expect(isKnownModel(map, 'anthropic/gpt-4o-mini')).toBe(false);
  });

  it('a provider the map lists nothing for cannot be judged', () => {
    expect(isKnownModel(map, 'my-backend/anything')).toBeUndefined();
  });
});

describe("the proxy's model cost map", () => {
  for (const flavor of ['current', '1.77'] as const) {
    it(`is read from the route of LiteLLM ${flavor === 'current' ? 'since November 2025 (public)' : '1.77 (proxy admin)'}`, async () => {
      const proxy = await startLiteLLMStandIn({ masterKey: 'sk-master-catalog-1', flavor });
      const client = new ProxyClient({ baseUrl: proxy.url, masterKey: 'sk-master-catalog-1', timeoutMs: 5000 });
      try {
        const got = await client.modelCostMap();
        expect(got?.get('gpt-4o-mini')).toBe('openai');
        const answered = proxy.requests.filter((q) => q.status === 200).map((q) => q.path);
        expect(answered).toEqual([flavor === 'current' ? '/public/litellm_model_cost_map' : '/get/litellm_model_cost_map']);
      } finally {
        await client.close();
        await proxy.close();
      }
    });
  }
});
