import { describe, expect, it } from 'vitest';
import { checkAnswer, keyInfoAnswer, keyListAnswer, generateAnswer, ShapeError } from '../../src/http/shape.ts';

describe('checks of the proxy answers', () => {
  it('reads the fields it knows and keeps the ones it does not (LiteLLM adds fields all the time)', () => {
    // Fields of newer LiteLLM versions the schema does not name (organization_id, object_permission, a
    // nested object), at the key's level and at the answer's: kept as they came, beside the known ones.
    const answer = {
      key: 'hash',
      info: {
        key_alias: 'a',
        models: ['m'],
        max_budget: null,
        spend: 1.5,
        team_id: 't',
        organization_id: 'org-1',
        object_permission: { vector_stores: ['vs-1'], mcp_servers: [] },
        router_settings: null,
      },
    };
    const checked = checkAnswer(keyInfoAnswer, structuredClone(answer));
    expect(checked).toEqual(answer);
    expect(checked.info['organization_id']).toBe('org-1');
    expect(checked.info['object_permission']).toEqual({ vector_stores: ['vs-1'], mcp_servers: [] });
    expect(checkAnswer(generateAnswer, { key: 'sk-x', token_id: 'h', litellm_budget_table: { budget_id: 'b' } })).toEqual({ key: 'sk-x', token_id: 'h', litellm_budget_table: { budget_id: 'b' } });
  });

  it('names the path of a field of the wrong type, never its value', () => {
    expect(() => checkAnswer(keyInfoAnswer, { info: { models: ['m', 42] } })).toThrow(new ShapeError('info.models.1: expected string, received number'));
    const wrong = (() => {
      try {
        checkAnswer(keyInfoAnswer, { info: { key_alias: 'sk-secret-value', max_budget: 'sk-secret-budget' } });
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(wrong).toMatch(/^info\.max_budget: expected number/);
    expect(wrong).not.toContain('sk-secret');
    expect(() => checkAnswer(keyInfoAnswer, [])).toThrow(/^the answer: expected object/);
    expect(() => checkAnswer(generateAnswer, { key: '' })).toThrow(/^key: /);
  });

  it('key lists: hashes (older proxies) or full objects', () => {
    expect(checkAnswer(keyListAnswer, { keys: ['hash', { key_alias: 'x' }] }).keys).toEqual(['hash', { key_alias: 'x' }]);
    expect(() => checkAnswer(keyListAnswer, { keys: [7] })).toThrow(/^keys\.0: /);
  });
});
