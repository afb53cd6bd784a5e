import { describe, expect, it } from 'vitest';
import { array, either, nonEmptyString, nullish, number, object, record, ShapeError, string } from '../../src/proxy/shape.ts';

const keyInfo = object({ key_alias: nullish(string), models: nullish(array(string)), max_budget: nullish(number), metadata: nullish(record) });

describe('checks of the proxy answers', () => {
  it('reads the fields it knows and keeps the ones it does not (LiteLLM adds fields all the time)', () => {
    const info = keyInfo({ key_alias: 'a', models: ['m'], max_budget: null, spend: 1.5, team_id: 't' }, '');
    expect(info).toEqual({ key_alias: 'a', models: ['m'], max_budget: null, metadata: undefined, spend: 1.5, team_id: 't' });
  });

  it('names the path of a field of the wrong type, never its value', () => {
    const wrap = object({ info: keyInfo });
    expect(() => wrap({ info: { models: ['m', 42] } }, '')).toThrow(new ShapeError('expected info.models.1 to be a string'));
    expect(() => wrap({ info: { key_alias: 'sk-secret-value', max_budget: 'lots' } }, '')).toThrow(/expected info\.max_budget to be a number$/);
    expect(() => wrap([], '')).toThrow('expected the answer to be an object');
    expect(() => object({ key: nonEmptyString })({ key: '' }, '')).toThrow('expected key to be a non-empty string');
  });

  it('either: the first check that fits (key/list answers strings or objects)', () => {
    const keys = array(either(string, keyInfo));
    expect(keys(['hash', { key_alias: 'x' }], 'keys')).toEqual(['hash', { key_alias: 'x', models: undefined, max_budget: undefined, metadata: undefined }]);
    expect(() => keys([7], 'keys')).toThrow('expected keys.0 to be an object');
  });
});
