/**
 * Telling a split deployment's gateway (FastAPI's bare 404 on management routes) from LiteLLM's own
 * "not found" answers and from an older LiteLLM without /key/list (src/proxy/refusals.ts).
 */
import { describe, expect, it } from 'vitest';
import { isMissingRoute, missingListing, missingManagementRoutes } from '../../src/proxy/refusals.ts';

describe('a route the proxy does not serve', () => {
  it("is exactly FastAPI's 404 body, not LiteLLM's key-not-found or no-keys-found answers", () => {
    expect(isMissingRoute(404, '{"detail":"Not Found"}')).toBe(true);
    expect(isMissingRoute(404, '{"error":{"message":"Key not found in database","type":"not_found_error","param":"key","code":"404"}}')).toBe(false);
    expect(isMissingRoute(404, '{"detail":"{\'error\': \'No keys found\'}"}')).toBe(false);
    expect(isMissingRoute(404, 'Not Found')).toBe(false);
    expect(isMissingRoute(405, '{"detail":"Not Found"}')).toBe(false);
  });

  it('on a route every LiteLLM with virtual keys has: exit 4 naming PROXY_BASE_URL and the backend', () => {
    const err = missingManagementRoutes('http://gw:4000', 'POST', '/key/generate', 404, '{"detail":"Not Found"}');
    expect(err?.exitCode).toBe(4);
    expect(`${err?.message} ${err?.hint}`).toMatch(/http:\/\/gw:4000 serves no management routes .*PROXY_BASE_URL must point at the backend component .*port 4001/);
    expect(missingManagementRoutes('http://gw:4000', 'GET', '/model/info', 404, '{"detail":"Not Found"}')).toBeDefined();
  });

  it('not on /key/list alone (older LiteLLM versions lack it) nor on health routes; a listing that is required says both causes', () => {
    expect(missingManagementRoutes('http://p', 'GET', '/key/list', 404, '{"detail":"Not Found"}')).toBeUndefined();
    expect(missingManagementRoutes('http://p', 'GET', '/health/readiness', 404, '{"detail":"Not Found"}')).toBeUndefined();
    const listing = missingListing('listing keys by alias', { method: 'GET', route: '/key/list', status: 404, type: undefined, proxyMessage: 'Not Found' });
    expect(listing?.exitCode).toBe(4);
    expect(listing?.message).toMatch(/gateway component of a split LiteLLM deployment .*or a LiteLLM too old to list keys/);
    expect(missingListing('x', { method: 'GET', route: '/key/list', status: 404, type: 'not_found_error', proxyMessage: 'Not Found' })).toBeUndefined();
  });
});
