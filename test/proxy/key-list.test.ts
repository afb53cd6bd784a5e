/**
 * Reading our keys in pages (src/proxy/key-list.ts) from the LiteLLM stand-in on loopback.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { startLiteLLMStandIn, type LiteLLMStandIn } from '../support/litellm-stand-in.ts';
import { ProxyClient } from '../../src/proxy/client.ts';
import { KeyIndex } from '../../src/proxy/key-list.ts';

const MASTER = 'sk-master-key-list-0001';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

let proxy: LiteLLMStandIn;
let client: ProxyClient;
beforeEach(async () => {
  proxy = await startLiteLLMStandIn({ masterKey: MASTER });
  client = new ProxyClient({ baseUrl: proxy.url, masterKey: MASTER, timeoutMs: 5000 });
});
afterEach(async () => {
  await client.close();
  await proxy.close();
});

const add = (n: number, userId: string) =>
  Array.from({ length: n }, (_, i) => proxy.addKey({ key_alias: `${userId} ${i}`, user_id: userId, models: ['gpt-4o-mini'], max_budget: 1, spend: i % 2 }));

describe('the keys of our users, in pages', () => {
  it('lists every key of each user (pages of 100, all but the first at once, never more than the limit in flight) and no one else\'s', async () => {
    const ours = add(250, 'task-agent');
    const services = add(30, 'services');
    add(40, 'someone-else');
    proxy.setDelay(20, { path: '/key/list' });
    const index = await KeyIndex.load(client, ['task-agent', 'services', 'task-agent'], { concurrency: 2, keyCount: 300 });
    expect(index.size).toBe(280);
    expect(index.covers('task-agent') && index.covers('services')).toBe(true);
    expect(index.covers('someone-else')).toBe(false);
    expect(proxy.requestCount({ path: '/key/list' })).toBe(4); // 3 pages + 1
    expect(proxy.maxInFlight).toBeLessThanOrEqual(2);
    const row = index.get(sha256(ours[7]!))!;
    expect(row).toMatchObject({ alias: 'task-agent 7', userId: 'task-agent', models: ['gpt-4o-mini'], maxBudget: 1, spend: 1, blocked: false });
    expect(index.withAlias('services 3').map((k) => k.token)).toEqual([sha256(services[3]!)]);
    expect(index.get(sha256('sk-not-a-key-of-ours-000'))).toBeUndefined();
  });

  it('gives a user up when listing would take more pages than reading the keys one by one', async () => {
    add(250, 'task-agent');
    const index = await KeyIndex.load(client, ['task-agent'], { concurrency: 8, keyCount: 2 });
    expect(index.covers('task-agent')).toBe(false);
    expect(index.size).toBe(0);
    expect(proxy.requestCount({ path: '/key/list' })).toBe(1);
  });

  it('an older proxy that ignores the user_id filter is not listed past its first page', async () => {
    add(3, 'task-agent');
    // What such a proxy answers: every key, whoever it belongs to.
    const row = { token: sha256('sk-of-someone-else-0000'), key_alias: 'theirs', user_id: 'someone-else', models: [], metadata: {} };
    proxy.failNext(1, { path: '/key/list', status: 200, body: { keys: [row], total_count: 5000, current_page: 1, total_pages: 50 } });
    const index = await KeyIndex.load(client, ['task-agent'], { concurrency: 8, keyCount: 1000 });
    expect(index.covers('task-agent')).toBe(false);
    expect(index.size).toBe(0);
    expect(proxy.requestCount({ path: '/key/list' })).toBe(1);
  });
});
