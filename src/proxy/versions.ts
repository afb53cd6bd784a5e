/**
 * The LiteLLM versions this project pins and accepts, with the reason for each: the one place the
 * repository says so. `test/deploy/litellm-pins.test.ts` fails when a LiteLLM image pinned anywhere in
 * the repository (compose, docs, examples, Kubernetes manifests, Helm values) is below MINIMUM_LITELLM;
 * docs/compatibility.md reads KNOWN_LITELLM. Sources: ../shared/litellm-api.md, "Newer versions, read
 * again 2026-12-04", and LiteLLM's release notes.
 */

export interface LiteLLMVersion {
  version: string;
  why: string;
}

/** The image the compose stack and the docs default to (LiteLLM's docs and Helm chart use this registry now; ghcr.io/berriai/litellm is still published). */
export const LITELLM_IMAGE_REPOSITORY = 'docker.litellm.ai/berriai/litellm';

/** What docker-compose.yml pins: the newest patched release of the 1.108 LTS line. */
export const PINNED_LITELLM: LiteLLMVersion = {
  version: '1.108.23',
  why: 'the newest release of the 1.108 LTS line (backported fixes only; the `lts` tag follows it), signed keyless',
};

/** No pin in this repository may be below this. */
export const MINIMUM_LITELLM: LiteLLMVersion = {
  version: '1.108.13',
  why: 'the /key/info security backport (LiteLLM #52838, #52925): below it a key with no user can read other userless keys by hash or alias, and the bootstrap issues its keys without a team',
};

/** Versions the project has evidence for (docs/compatibility.md gives each its evidence). */
export const KNOWN_LITELLM: readonly LiteLLMVersion[] = [
  { version: '1.77.2', why: 'run here with PostgreSQL (2026-12-02, 2026-12-04)' },
  { version: '1.81.9', why: 'run here with PostgreSQL (2026-12-04)' },
  PINNED_LITELLM,
  { version: '1.111.1', why: 'the stable line at 2026-12-04: source and release notes read, not run here' },
];

/** Signing of LiteLLM's images, by version range (docs/stack.md, "Supply chain"). */
export const KEYLESS_SIGNING_FROM = { lts: '1.108.10', main: '1.111.0-dev.3' } as const;
export const KEYLESS_IDENTITY = 'https://github.com/BerriAI/project-releaser/.github/workflows/release.yml@refs/heads/main';
export const KEYLESS_ISSUER = 'https://token.actions.githubusercontent.com';

/** `1.108.23` → [1, 108, 23]; a pre-release (`1.111.0-dev.3`) ranks below its release. Undefined when not a version. */
export function parseVersion(text: string): { parts: [number, number, number]; pre: string | undefined } | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-stable)?(?:[-.]?((?:rc|dev|nightly)[.\w-]*))?$/i.exec(text.trim());
  if (!m) return undefined;
  return { parts: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] };
}

/** Negative when a < b, 0 when equal, positive when a > b. Throws on a text that is not a version. */
export function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) throw new Error(`not a LiteLLM version: ${JSON.stringify(pa ? b : a)}`);
  for (let i = 0; i < 3; i++) if (pa.parts[i] !== pb.parts[i]) return pa.parts[i]! - pb.parts[i]!;
  if (pa.pre === pb.pre) return 0;
  if (pa.pre === undefined) return 1;
  if (pb.pre === undefined) return -1;
  return pa.pre.localeCompare(pb.pre, 'en', { numeric: true });
}
