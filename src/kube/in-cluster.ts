/**
 * In-cluster access to the Kubernetes API, the standard way (as client-go's rest.InClusterConfig):
 * the API server from KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT, and from the service
 * account directory the kubelet mounts (/var/run/secrets/kubernetes.io/serviceaccount, or
 * KUBERNETES_SERVICE_ACCOUNT_DIR): `token`, `ca.crt` and `namespace`.
 *
 * The token is read again before every request: projected tokens expire and the kubelet
 * replaces the file, so a value read at start-up may be stale by the time a key is written.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface InClusterConfig {
  /** https://host:port */
  server: string;
  /** The pod's namespace (the `namespace` file). */
  namespace: string;
  /** PEM of the cluster CA (`ca.crt`). */
  caPem: string;
  tokenFile: string;
  dir: string;
}

const HINT = 'run in a pod with a service account token mounted (automountServiceAccountToken must not be false), or unset LITELLM_KEY_SECRET to write .env files';

function readServiceAccountFile(dir: string, name: string): string {
  const file = join(dir, name);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read the service account's ${name} at ${file} (${code})`, { hint: HINT, cause: err });
  }
}

export function readToken(tokenFile: string): string {
  let token: string;
  try {
    token = readFileSync(tokenFile, 'utf8').trim();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read the service account token at ${tokenFile} (${code})`, { hint: HINT, cause: err });
  }
  if (token === '') throw new ConfigError(`the service account token at ${tokenFile} is empty`, { hint: HINT });
  return token;
}

export function inClusterConfig(env: NodeJS.ProcessEnv): InClusterConfig {
  const host = env.KUBERNETES_SERVICE_HOST?.trim();
  const port = env.KUBERNETES_SERVICE_PORT?.trim();
  if (!host || !port) {
    throw new ConfigError('LITELLM_KEY_SECRET is set, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not: the Secret store runs inside a Kubernetes pod', { hint: HINT });
  }
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new ConfigError(`KUBERNETES_SERVICE_PORT must be a port number`, { hint: HINT });
  }
  const dir = env.KUBERNETES_SERVICE_ACCOUNT_DIR?.trim() || SERVICE_ACCOUNT_DIR;
  const namespace = readServiceAccountFile(dir, 'namespace').trim();
  if (namespace === '') throw new ConfigError(`the service account's namespace file in ${dir} is empty`, { hint: HINT });
  const caPem = readServiceAccountFile(dir, 'ca.crt');
  const tokenFile = join(dir, 'token');
  readToken(tokenFile); // fail now, before the proxy is touched
  return { server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`, namespace, caPem, tokenFile, dir };
}

/**
 * Whom the token names, for messages: the `sub` claim of a service account token (a JWT, e.g.
 * "system:serviceaccount:litellm:llm-proxy-bootstrap"); undefined for a token of another shape.
 * The signature is not checked (the API server does that); nothing else of the token is used.
 */
export function tokenSubject(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const sub = (JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { sub?: unknown }).sub;
    return typeof sub === 'string' && /^system:serviceaccount:[^:\s]+:[^:\s]+$/.test(sub) ? sub : undefined;
  } catch {
    return undefined;
  }
}
