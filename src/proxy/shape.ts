/**
 * Checks of the proxy's JSON answers: just what the bootstrap reads, typed.
 * Unknown fields are kept (LiteLLM adds fields all the time); a field we read
 * with the wrong type fails with its path, never with its value.
 */
export class ShapeError extends Error {}

export type Check<T> = (value: unknown, path: string) => T;

const fail = (path: string, expected: string): never => {
  throw new ShapeError(`expected ${path || 'the answer'} to be ${expected}`);
};
const at = (path: string, key: string | number) => (path ? `${path}.${key}` : String(key));
const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const string: Check<string> = (v, p) => (typeof v === 'string' ? v : fail(p, 'a string'));
export const number: Check<number> = (v, p) => (typeof v === 'number' && Number.isFinite(v) ? v : fail(p, 'a number'));
export const boolean: Check<boolean> = (v, p) => (typeof v === 'boolean' ? v : fail(p, 'true or false'));
export const nonEmptyString: Check<string> = (v, p) => (typeof v === 'string' && v.length > 0 ? v : fail(p, 'a non-empty string'));
export const record: Check<Record<string, unknown>> = (v, p) => (isPlainObject(v) ? v : fail(p, 'an object'));

export const nullish =
  <T>(check: Check<T>): Check<T | null | undefined> =>
  (v, p) =>
    v === null || v === undefined ? v : check(v, p);

export const array =
  <T>(check: Check<T>): Check<T[]> =>
  (v, p) =>
    Array.isArray(v) ? v.map((item, i) => check(item, at(p, i))) : fail(p, 'an array');

export const either =
  <A, B>(a: Check<A>, b: Check<B>): Check<A | B> =>
  (v, p) => {
    try {
      return a(v, p);
    } catch (err) {
      if (!(err instanceof ShapeError)) throw err;
      return b(v, p);
    }
  };

/** An object with at least these fields (others are kept as they are). */
export const object =
  <S extends Record<string, Check<unknown>>>(shape: S): Check<{ [K in keyof S]: ReturnType<S[K]> }> =>
  (v, p) => {
    if (!isPlainObject(v)) return fail(p, 'an object');
    const out: Record<string, unknown> = { ...v };
    for (const [key, check] of Object.entries(shape)) out[key] = check(v[key], at(p, key));
    return out as { [K in keyof S]: ReturnType<S[K]> };
  };

export type Infer<C> = C extends Check<infer T> ? T : never;
