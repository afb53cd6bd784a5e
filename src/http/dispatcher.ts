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

/**
 * OpenSSL's and Node's codes for a certificate that does not verify: no CA vouches for it, it
 * expired or is not valid yet, or it is for another name. Waiting never changes these.
 */
const TLS_VERIFY_CODES = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_REVOKED|CERT_UNTRUSTED|CERT_REJECTED|CERT_SIGNATURE_FAILURE|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH)$/;

/** What is wrong with the certificate, in words, for an error code of errorCode; undefined when the code is no certificate problem. */
export function certificateProblem(code: string): string | undefined {
  if (!TLS_VERIFY_CODES.test(code)) return undefined;
  if (code === 'CERT_HAS_EXPIRED') return 'it has expired';
  if (code === 'CERT_NOT_YET_VALID') return 'it is not valid yet';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'HOSTNAME_MISMATCH') return 'it is for another host name';
  if (code === 'CERT_REVOKED') return 'it was revoked';
  return 'no trusted certificate authority signed it (self-signed, or a private CA this process does not trust)';
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
