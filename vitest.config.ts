import { defineConfig } from 'vitest/config';

// The scenario suite runs twice: against the stand-in's default flavour ('current', newer
// LiteLLM's source) with every other test, and against its '1.77' flavour (what a running
// LiteLLM 1.77.2 answers). A test that pins a flavour keeps it in both runs.
const SCENARIOS = ['test/scenarios.test.ts', 'test/scenarios/**/*.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    globalSetup: ['test/support/build-global-setup.ts', 'test/support/docker-global-setup.ts'],
    projects: [
      { extends: true, test: { name: 'stand-in current', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'stand-in 1.77', include: SCENARIOS, env: { STAND_IN_FLAVOR: '1.77' } } },
    ],
  },
});
