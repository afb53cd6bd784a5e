/**
 * A small client for the one Kubernetes resource the bootstrap touches: core/v1 Secrets in the
 * pod's namespace. Over undici, trusting only the cluster CA of the service account.
 *
 * - 401 (bad or expired token) and 403 (RBAC) → KubeRefusedError, exit 4, naming the verb and the
 *   resource the service account lacks.
 * - 409 (Conflict, AlreadyExists) and a 404 on update → KubeConflictError: the caller re-reads.
 * - Network failures, timeouts, 429 and 5xx are retried until the deadline, then exit 3.
 * - Before a write, `assertMay` asks the API server (a SelfSubjectAccessReview) whether RBAC will
 *   allow it, so a missing permission stops the run before anything happens on the proxy.
 * A Secret's data never enters a URL, a log line or an error message.
 */
import { Agent, request } from 'undici';
import * as z from 'zod';
import { ConfigError, KubeRefusedError, KubeUnavailableError } from '../errors.ts';
import type { Logger } from '../log/log.ts';
import { errorCode } from '../http/dispatcher.ts';
import { checkAnswer, ShapeError } from '../http/shape.ts';
import { retryUntil } from '../retry.ts';
import { readToken, tokenSubject, type InClusterConfig } from './in-cluster.ts';

export interface SecretMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [k: string]: unknown;
}

export interface KubeSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: SecretMeta;
  type?: string;
  /** base64 values */
  data?: Record<string, string>;
  [k: string]: unknown;
}

/** The API server's error body. */
interface Status {
  message?: string;
  reason?: string;
  code?: number;
}

/** The write lost a race (409 Conflict / AlreadyExists) or the object vanished (404 on update): re-read and try again. */
export class KubeConflictError extends Error {
  constructor(
    readonly reason: 'Conflict' | 'AlreadyExists' | 'NotFound',
    message: string,
  ) {
    super(message);
    this.name = 'KubeConflictError';
  }
}

class TransientError extends Error {}

type Verb = 'get' | 'create' | 'update';

const TLS_CODES = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|ERR_TLS_CERT_ALTNAME_INVALID|CERT_SIGNATURE_FAILURE)$/;

export interface KubeClientOptions {
  timeoutMs: number;
  log: Logger;
  userAgent: string;
}

/** The answer of a SelfSubjectAccessReview (authorization.k8s.io/v1): `status`. */
interface AccessReviewStatus {
  allowed?: boolean;
  denied?: boolean;
  reason?: string;
  evaluationError?: string;
}

export class KubeClient {
  readonly namespace: string;
  private readonly agent: Agent;
  /** Writes a review allowed ("create", "update <name>"). */
  private readonly allowed = new Set<string>();
  /** False once the API server answered a review with 403 or 404 (it does not let us ask). */
  private reviews = true;

  private constructor(
    private readonly cfg: InClusterConfig,
    private readonly opts: KubeClientOptions,
  ) {
    this.namespace = cfg.namespace;
    // Its own dispatcher: only the cluster CA is trusted, and no HTTP proxy is used (in-cluster traffic).
    this.agent = new Agent({ connect: { ca: cfg.caPem, timeout: opts.timeoutMs }, headersTimeout: opts.timeoutMs, bodyTimeout: opts.timeoutMs, connections: 4 });
  }

  static async open(cfg: InClusterConfig, opts: KubeClientOptions): Promise<KubeClient> {
    return new KubeClient(cfg, opts);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private path(name?: string): string {
    const base = `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/secrets`;
    return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
  }

  /** What the user must grant, for 403 messages. */
  private grant(verb: Verb, name: string): string {
    return verb === 'create'
      ? `a Role rule with verbs ["create"] on resources ["secrets"] (create cannot be limited by resourceNames)`
      : `a Role rule with verbs ["get", "update", "patch"] on resources ["secrets"] with resourceNames ["${name}"]`;
  }

  /** One request; maps the answer to a value or a typed error. Retries nothing. `review`: other 4xx than 401 and 429 are the caller's. */
  private async once(verb: Verb, name: string, method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, review = false): Promise<{ status: number; json: unknown }> {
    const token = readToken(this.cfg.tokenFile); // again on every request: projected tokens are rotated
    let status: number;
    let text: string;
    try {
      const res = await request(`${this.cfg.server}${path}`, {
        method,
        dispatcher: this.agent,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          'user-agent': this.opts.userAgent,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const code = errorCode(err);
      if (TLS_CODES.test(code)) {
        throw new ConfigError(`the Kubernetes API at ${this.cfg.server} presented a certificate that ${this.cfg.dir}/ca.crt does not vouch for (${code})`, {
          hint: 'KUBERNETES_SERVICE_HOST must be the API server the service account belongs to; check the mounted ca.crt',
          cause: err,
        });
      }
      throw new TransientError(`${verb} secret "${name}": ${code === 'ETIMEDOUT' ? `no answer within ${this.opts.timeoutMs} ms` : code}`);
    }
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (status >= 200 && status < 300) return { status, json };
    if (review && status >= 400 && status < 500 && status !== 401 && status !== 429) return { status, json };
    const st = (typeof json === 'object' && json !== null ? json : {}) as Status;
    const message = typeof st.message === 'string' ? st.message.slice(0, 400) : text.slice(0, 200);
    const where = `secret "${name}" in namespace "${this.namespace}"`;
    if (status === 401) {
      throw new KubeRefusedError(`the Kubernetes API rejected the service account token (401 ${st.reason ?? 'Unauthorized'}) when trying to ${verb} ${where}`, {
        hint: `the token at ${this.cfg.tokenFile} is missing, expired or from another cluster: check the Job's serviceAccountName and that its token is mounted`,
      });
    }
    if (status === 403) {
      throw new KubeRefusedError(`the service account may not ${verb} ${verb === 'create' ? `secrets in namespace "${this.namespace}"` : where} (403 Forbidden: ${message})`, {
        hint: `grant it ${this.grant(verb, name)} and bind the Role to the Job's service account (deploy/kubernetes/rbac.yaml)`,
      });
    }
    if (status === 409) throw new KubeConflictError(st.reason === 'AlreadyExists' ? 'AlreadyExists' : 'Conflict', message);
    if (status === 404) return { status, json };
    if (status === 429 || status >= 500) throw new TransientError(`${verb} ${where}: ${status} ${st.reason ?? ''} ${message}`.trim());
    throw new KubeRefusedError(`the Kubernetes API refused to ${verb} ${where} (${status} ${st.reason ?? ''}: ${message})`.replace(' :', ':'), {
      hint: 'see the message above; LITELLM_KEY_SECRET must be a valid Secret name',
    });
  }

  /** Retries transient failures (src/retry.ts: p-retry, with backoff) until `deadline`. */
  private async call(verb: Verb, name: string, method: 'GET' | 'POST' | 'PUT', path: string, deadline: number, body?: unknown, review = false): Promise<{ status: number; json: unknown }> {
    try {
      return await retryUntil(() => this.once(verb, name, method, path, body, review), {
        deadline,
        retryable: (err) => err instanceof TransientError,
        onRetry: (err, attempt, retryInMs) => this.opts.log.warn({ step: `${verb} secret`, attempt, retryInMs, reason: err.message }, 'transient Kubernetes API failure, retrying'),
      });
    } catch (err) {
      if (!(err instanceof TransientError)) throw err;
      throw new KubeUnavailableError(`the Kubernetes API at ${this.cfg.server} kept failing until the deadline; last error: ${err.message}`, {
        hint: 'check the API server and the pod network, then run the Job again',
        cause: err,
      });
    }
  }

  /** The Secret, or undefined when there is none. */
  async getSecret(name: string, deadline: number): Promise<KubeSecret | undefined> {
    const { status, json } = await this.call('get', name, 'GET', this.path(name), deadline);
    if (status === 404) return undefined;
    return checkSecret(json, name);
  }

  /** Creates the Secret; KubeConflictError('AlreadyExists') when another writer was first. */
  async createSecret(secret: KubeSecret, deadline: number): Promise<KubeSecret> {
    const { status, json } = await this.call('create', secret.metadata.name, 'POST', `${this.path()}?fieldManager=llm-proxy-bootstrap`, deadline, secret);
    if (status === 404) throw new KubeRefusedError(`cannot create secret "${secret.metadata.name}": namespace "${this.namespace}" does not exist`);
    return checkSecret(json, secret.metadata.name);
  }

  /**
   * Replaces the Secret. `secret.metadata.resourceVersion` is the precondition: a write since then
   * (or a deletion) is a KubeConflictError, never a lost update.
   */
  async replaceSecret(secret: KubeSecret, deadline: number): Promise<KubeSecret> {
    const name = secret.metadata.name;
    const { status, json } = await this.call('update', name, 'PUT', `${this.path(name)}?fieldManager=llm-proxy-bootstrap`, deadline, secret);
    if (status === 404) throw new KubeConflictError('NotFound', `secrets "${name}" not found`);
    return checkSecret(json, name);
  }

  /**
   * Fails (KubeRefusedError, exit 4) when RBAC will not let the service account `verb` the Secret
   * `name`: asked with a SelfSubjectAccessReview, which every authenticated user may create (the
   * default ClusterRole system:basic-user) and which changes nothing. A create is asked without the
   * name, as RBAC sees the create itself (the name is in the body). An API server that does not
   * let us ask (403 or 404 for the review) is left to answer the write itself.
   */
  async assertMay(verb: 'create' | 'update', name: string, deadline: number): Promise<void> {
    const what = verb === 'create' ? 'create' : `update ${name}`;
    if (!this.reviews || this.allowed.has(what)) return;
    const review = {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { namespace: this.namespace, verb, resource: 'secrets', ...(verb === 'create' ? {} : { name }) } },
    };
    const { status, json } = await this.call(verb, name, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', deadline, review, true);
    const answer = (json as { status?: AccessReviewStatus } | undefined)?.status;
    if (status >= 300 || typeof answer?.allowed !== 'boolean') {
      this.reviews = false;
      this.opts.log.debug({ status }, `the Kubernetes API answered no SelfSubjectAccessReview (${status}); whether the service account may write secrets shows at the write (a key issued for a refused write is deleted again)`);
      return;
    }
    if (answer.allowed) {
      this.allowed.add(what);
      return;
    }
    const subject = tokenSubject(readToken(this.cfg.tokenFile));
    const who = `the service account${subject ? ` "${subject}"` : ''}`;
    const why = [answer.reason, answer.evaluationError].filter(Boolean).join('; ');
    const checked = `asked with a SelfSubjectAccessReview before issuing any key: ${answer.denied ? 'denied' : 'not allowed'}${why ? ` (${why.slice(0, 300)})` : ''}`;
    throw new KubeRefusedError(
      verb === 'create'
        ? `${who} may not create secrets in namespace "${this.namespace}", which writing secret "${name}" (it does not exist yet) needs; ${checked}`
        : `${who} may not update secret "${name}" in namespace "${this.namespace}"; ${checked}`,
      { hint: `grant it ${this.grant(verb, name)} and bind the Role to the Job's service account (deploy/kubernetes/rbac.yaml); nothing was issued on the proxy` },
    );
  }
}

/** What the bootstrap relies on in a Secret the API server returns; every other field is kept as it is. */
const secretAnswer = z.looseObject({
  metadata: z.looseObject({ resourceVersion: z.string() }),
  data: z.record(z.string(), z.string()).optional(),
});

function checkSecret(json: unknown, name: string): KubeSecret {
  try {
    return checkAnswer(secretAnswer, json) as KubeSecret;
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    throw new KubeRefusedError(`the Kubernetes API answered with something that is not a Secret for secret "${name}" (${err.message})`);
  }
}
