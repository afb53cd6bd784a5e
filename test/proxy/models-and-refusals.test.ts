/**
 * A model is "served" the way LiteLLM's router routes it
 * (router_utils/pattern_match_deployments.py), so no false "not served" warning.
 */
import { describe, expect, it } from 'vitest';
import { isKeyWildcard, isServed } from '../../src/proxy/models.ts';
import { unservedModels } from '../../src/proxy/models.ts';
import { aliasFormatRule, isMasterKeyLockout, statesInvalidRequest } from '../../src/proxy/refusals.ts';

describe('isServed', () => {
  const shipped = ['openai/*', 'anthropic/*'];

  it('a provider wildcard serves every model under that provider', () => {
    expect(isServed('openai/gpt-4o-mini', shipped)).toBe(true);
    expect(isServed('anthropic/claude-3-5-sonnet', shipped)).toBe(true);
    expect(isServed('mistral/large', shipped)).toBe(false);
  });

  it('the pattern is anchored at the start only, like re.match; regex characters in names are literal', () => {
    expect(isServed('openai/gpt-4o', ['openai/gpt-4*'])).toBe(true);
    expect(isServed('xopenai/gpt-4o', ['openai/*'])).toBe(false);
    expect(isServed('hello-meta.llama3-70b', ['*meta.llama3*'])).toBe(true);
    expect(isServed('azure/gpt+4', ['azure/gpt+*'])).toBe(true);
    expect(isServed('azure/gpttt4', ['azure/gpt+*'])).toBe(false);
  });

  it('exact names; a bare name counts as served when provider wildcards could route it', () => {
    expect(isServed('gpt-4o', ['gpt-4o', 'gpt-4o-mini'])).toBe(true);
    expect(isServed('gpt-4o-mini', ['gpt-4o'])).toBe(false);
    expect(isServed('gpt-4o-mini', shipped)).toBe(true);
  });

  it("a key's own wildcards are never reported", () => {
    expect(isKeyWildcard('openai/*')).toBe(true);
    expect(isKeyWildcard('all-proxy-models')).toBe(true);
    expect(unservedModels(['openai/*', 'openai/gpt-4o-mini', 'mistral/large'], shipped).map((u) => u.model)).toEqual(['mistral/large']);
  });
});

describe('refusals', () => {
  it('a 500 stating a validation error is an invalid request; a 500 "DB not connected" is not', () => {
    expect(statesInvalidRequest({ status: 500, type: 'internal_server_error', proxyMessage: 'Monthly resets currently only support 1 month intervals' })).toBe(true);
    expect(statesInvalidRequest({ status: 500, type: 'internal_server_error', proxyMessage: "{'error': 'DB not connected. See https://docs.litellm.ai/docs/proxy/virtual_keys'}" })).toBe(false);
  });

  it("an alias refusal yields the proxy's rule; a duplicate alias is not a format refusal", () => {
    const rule = 'Invalid key_alias format. Must be at most 255 characters and match the configured key_alias_pattern: [a-z]+';
    expect(aliasFormatRule({ status: 400, type: 'bad_request_error', proxyMessage: rule })).toBe(rule);
    expect(aliasFormatRule({ status: 400, type: 'bad_request_error', proxyMessage: "Key with alias 'x' already exists. Unique key aliases across all keys are required." })).toBeUndefined();
  });

  it('the master-key lockout is told from a rejected master key', () => {
    expect(isMasterKeyLockout({ status: 403, type: 'auth_error', proxyMessage: 'This functionality is unavailable until the master key has been set. Set LITELLM_MASTER_KEY ...' })).toBe(true);
    expect(isMasterKeyLockout({ status: 401, type: 'auth_error', proxyMessage: 'Authentication Error, Invalid proxy server token passed.' })).toBe(false);
  });
});
