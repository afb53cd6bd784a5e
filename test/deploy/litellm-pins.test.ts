/**
 * The LiteLLM version the repository pins: one place says the minimum and why (src/proxy/versions.ts),
 * and no pin anywhere a user copies from (compose, docs, examples, Kubernetes manifests, Helm values)
 * may be below it. A stack pinned at 1.108.12 lacks the /key/info security backport of 1.108.13.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareVersions, LITELLM_IMAGE_REPOSITORY, MINIMUM_LITELLM, PINNED_LITELLM } from '../../src/proxy/versions.ts';
import { exec, REPO_ROOT } from '../support/process.ts';

/** LiteLLM's images, in every registry and variant LiteLLM publishes. */
const IMAGE = /\b(?:ghcr\.io\/berriai|docker\.litellm\.ai\/berriai|docker\.io\/litellm|berriai)\/litellm(?:-database|-non_root)?:(v?\d+\.\d+\.\d+[\w.-]*)/g;
/** Helm values: `repository: <a LiteLLM image>` with `tag: ...` within the next lines. */
const HELM = /repository:\s*["']?(?:ghcr\.io\/berriai|docker\.litellm\.ai\/berriai|docker\.io\/litellm)\/litellm[\w-]*["']?[^\n]*\n(?:[^\n]*\n){0,3}?\s*tag:\s*["']?(v?\d+\.\d+\.\d+[\w.-]*)/g;
/** A line that names an old version on purpose (e.g. how to test against it) says so. */
const NOT_A_PIN = '(not a pin)';

export interface Pin {
  file: string;
  line: number;
  version: string;
}

export function pinsIn(file: string, text: string): Pin[] {
  const pins: Pin[] = [];
  const lines = text.split('\n');
  const lineAt = (index: number) => text.slice(0, index).split('\n').length;
  for (const re of [IMAGE, HELM]) {
    for (const m of text.matchAll(re)) {
      const line = lineAt(m.index! + m[0].length);
      if (lines[line - 1]!.includes(NOT_A_PIN)) continue;
      pins.push({ file, line, version: m[1]!.replace(/^v/, '') });
    }
  }
  return pins;
}

async function repoFiles(): Promise<string[]> {
  const r = await exec('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: REPO_ROOT });
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter((f) => f && !f.startsWith('node_modules/') && /\.(ya?ml|md|json|sh|mjs|ts|txt|template)$|Dockerfile$|crontab$/.test(f))
    .filter((f) => !f.startsWith('test/deploy/litellm-pins')); // this file's own examples
}

describe('the LiteLLM pin', () => {
  it('one place names the minimum with its reason, and the pin is at or above it', () => {
    expect(MINIMUM_LITELLM.why).toMatch(/#52838/);
    expect(compareVersions(PINNED_LITELLM.version, MINIMUM_LITELLM.version)).toBeGreaterThanOrEqual(0);
  });

  it("docker-compose.yml's default image is the pinned release from LiteLLM's documented registry", () => {
    const compose = readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain(`image: \${LITELLM_IMAGE:-${LITELLM_IMAGE_REPOSITORY}:v${PINNED_LITELLM.version}}`);
  });

  it('no LiteLLM image pinned anywhere in the repository (compose, docs, examples, manifests, Helm values) is below the minimum', async () => {
    const files = await repoFiles();
    const pins = files.flatMap((f) => pinsIn(f, readFileSync(path.join(REPO_ROOT, f), 'utf8')));
    // The compose file, the stack guide and the Kubernetes guide's Helm values pin it, at least.
    for (const f of ['docker-compose.yml', 'docs/stack.md', 'docs/kubernetes.md']) expect(pins.map((p) => p.file), f).toContain(f);
    const below = pins.filter((p) => compareVersions(p.version, MINIMUM_LITELLM.version) < 0).map((p) => `${p.file}:${p.line} pins ${p.version}`);
    expect(below, `below ${MINIMUM_LITELLM.version} (${MINIMUM_LITELLM.why})`).toEqual([]);
  });

  it('the check finds a pin below the minimum in each form a user writes one', () => {
    const found = (text: string) => pinsIn('x', text).map((p) => p.version);
    expect(found('    image: ${LITELLM_IMAGE:-ghcr.io/berriai/litellm:v1.108.12}')).toEqual(['1.108.12']);
    expect(found('LITELLM_IMAGE=docker.litellm.ai/berriai/litellm-database:v1.77.2 docker compose up')).toEqual(['1.77.2']);
    expect(found('image:\n  repository: docker.litellm.ai/berriai/litellm\n  pullPolicy: IfNotPresent\n  tag: "v1.108.9"\n')).toEqual(['1.108.9']);
    expect(found('docker run ghcr.io/berriai/litellm:v1.77.2 # (not a pin): how the 1.77 row was measured')).toEqual([]);
    expect(compareVersions('1.108.12', MINIMUM_LITELLM.version)).toBeLessThan(0);
    expect(compareVersions('1.111.0-dev.3', '1.111.0')).toBeLessThan(0);
    expect(compareVersions('1.111.0-dev.10', '1.111.0-dev.3')).toBeGreaterThan(0);
  });
});
