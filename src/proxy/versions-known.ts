/**
 * What a LiteLLM version tells about its behaviour, where the proxy's answers cannot (pure).
 * Versions are compared by their numbers (`1.77.2`, `1.111.1-stand-in` reads as 1.111.1).
 */

/** [major, minor, patch] of a version string, or undefined when it has no numbers. */
export function versionParts(version: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : undefined;
}

/** `version` is older than `major.minor`. Unknown versions are not older (nothing is refused on a guess). */
export function olderThan(version: string | undefined, major: number, minor: number): boolean {
  const v = version === undefined ? undefined : versionParts(version);
  if (!v) return false;
  return v[0] < major || (v[0] === major && v[1] < minor);
}

/**
 * Key durations in months other than `1mo`: LiteLLM 1.77 computes a new key's expiry like a budget
 * reset, which refuses them ("Monthly resets currently only support 1 month intervals", a 500;
 * measured on 1.77.2). 1.81.9 adds the exact duration (measured); versions in between were not run,
 * so they are taken as 1.77.
 */
export const MONTHS_ON_GENERATE_SINCE = [1, 81] as const;

/**
 * An explicit `null` clears a stored model's `litellm_params` field (LiteLLM PR #40047, September
 * 2026). 1.77 and 1.81 drop nulls on update (exclude_none). Taken from the stable line 1.111 on
 * (from the source and release timeline, not run here); whether the 1.108 LTS line carries it is
 * not known, and a
 * null a proxy drops would leave the parameter in place while the marker says it is gone, so 1.108
 * keeps delete + register (it works everywhere; only the deployment's id changes).
 */
export const NULL_CLEARS_MODEL_PARAM_SINCE = [1, 111] as const;
