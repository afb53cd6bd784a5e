/**
 * The one HTTP transport of the bootstrap: an undici dispatcher with keep-alive,
 * connect/headers/body timeouts, and the standard proxy variables honoured the
 * way undici's EnvHttpProxyAgent reads them (`HTTP_PROXY`/`http_proxy`,
 * `HTTPS_PROXY`/`https_proxy`, `NO_PROXY`/`no_proxy`; the lower-case spelling
 * wins, a `NO_PROXY` entry such as `llm-proxy,localhost,127.0.0.1` is reached
 * directly). `direct` ignores them all (the LiteLLM client over plain http: the
 * master key never crosses a forward proxy in clear text).
 *
 * TLS uses Node's default trust store, so `NODE_EXTRA_CA_CERTS` works as usual;
 * `ca` adds a CA for one caller (e.g. a cluster's own CA) without touching it.
 * Any client that needs HTTP (the LiteLLM client, a Kubernetes API client)
 * makes its dispatcher here and passes it to undici's `request`.
 */
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';

export interface DispatcherOptions {
  /** Connect, headers and body (idle) timeout, in ms. */
  timeoutMs: number;
  /** Where the proxy variables are read; the process environment by default. */
  env?: NodeJS.ProcessEnv;
  /** Extra trusted CA certificate(s), PEM, for this dispatcher only (added to Node's defaults). */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Largest answer accepted, in bytes (16 MiB by default). */
  maxResponseSize?: number;
  /**
   * Never through a forward proxy: for a plain-http origin that is sent a secret (the master
   * key). Over http a forward proxy receives the whole request, Authorization header included
   * (absolute-form forwarding), where over https it only relays an encrypted CONNECT tunnel.
   */
  direct?: boolean;
}

export function createDispatcher(opts: DispatcherOptions): Dispatcher {
  const env = opts.env ?? process.env;
  const tls = opts.ca === undefined ? {} : { ca: [...tlsRootCertificates(), ...[opts.ca].flat()] };
  const common = {
    connect: { timeout: opts.timeoutMs, ...tls },
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    keepAliveTimeout: 4_000,
    maxResponseSize: opts.maxResponseSize ?? 16 * 1024 * 1024,
  };
  if (opts.direct) return new Agent(common);
  return new EnvHttpProxyAgent({
    ...common,
    httpProxy: env['http_proxy'] ?? env['HTTP_PROXY'],
    httpsProxy: env['https_proxy'] ?? env['HTTPS_PROXY'],
    noProxy: env['no_proxy'] ?? env['NO_PROXY'] ?? '',
    // Through a proxy: the CONNECT tunnel's TLS to the origin gets the same trust.
    requestTls: { timeout: opts.timeoutMs, ...tls },
  });
}

/** Node's defaults (bundled roots plus NODE_EXTRA_CA_CERTS): a `ca` option replaces them otherwise. */
function tlsRootCertificates(): string[] {
  const tls = process.getBuiltinModule('node:tls');
  return tls.getCACertificates?.('default') ?? [...tls.rootCertificates];
}

/** Error codes that mean "no answer in time" (undici's per-phase timeouts, an aborted overall deadline). */
export function isTimeout(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  return (
    e?.name === 'TimeoutError' ||
    e?.code === 'UND_ERR_CONNECT_TIMEOUT' ||
    e?.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e?.code === 'UND_ERR_BODY_TIMEOUT' ||
    e?.code === 'ETIMEDOUT'
  );
}

/** The most telling code of a failed request: the socket's (ECONNREFUSED, ...) rather than undici's wrapper. */
export function errorCode(err: unknown): string {
  if (isTimeout(err)) return 'ETIMEDOUT';
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 4; depth++, e = e.cause as typeof e) {
    if (typeof e.code === 'string' && !e.code.startsWith('UND_ERR')) return e.code;
  }
  const code = (err as { code?: unknown })?.code;
  if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') return 'ECONNRESET';
  return typeof code === 'string' ? code : 'ERROR';
}
