/**
 * TEST DOUBLE — a stand-in for the parts of a Kubernetes API server that the
 * bootstrap (and `kubectl`, to prove the wire format) use: core/v1 Secrets.
 *
 * What it copies from the real kube-apiserver (k8s.io/apiserver, k8s.io/apimachinery):
 * - HTTPS only, with a CA made at test time (openssl); clients trust it like a pod trusts
 *   /var/run/secrets/kubernetes.io/serviceaccount/ca.crt.
 * - Authentication by bearer token: no or an unknown token → 401 `Status` (reason Unauthorized),
 *   on every path, discovery included (a presented bad token is never "anonymous").
 * - Authorization like RBAC: a table of rules per user (verbs × resources × resourceNames, in a
 *   namespace); a denied request → 403 `Status` with the apiserver's exact message
 *   (`secrets "x" is forbidden: User "..." cannot get resource "secrets" in API group "" in the
 *   namespace "ns"`). `create` and `list` carry no name, as in RBAC (resourceNames cannot limit them).
 * - core/v1 Secrets: get, list (labelSelector/fieldSelector metadata.name), create (201; 409
 *   AlreadyExists), update/PUT (resourceVersion precondition → 409 Conflict; 404 when missing:
 *   secrets are not created on update), patch (merge-patch, strategic-merge-patch — for a Secret
 *   the same as merge-patch: it has no lists with merge keys that we model — and json-patch),
 *   delete (Status Success; preconditions), `data` as base64 (bad base64 → 400), `stringData`
 *   folded into `data`, names, labels, annotations and data keys validated (422 Invalid),
 *   a write that changes nothing keeps its resourceVersion.
 * - Content types: JSON in, JSON out; a protobuf body → 415, a protobuf-only Accept → 406.
 * - authorization.k8s.io/v1 SelfSubjectAccessReviews (`kubectl auth can-i`), answered from the RBAC
 *   table as kube-apiserver's registry (pkg/registry/authorization/selfsubjectaccessreview) and RBAC
 *   authorizer (plugin/pkg/auth/authorizer/rbac) do: every authenticated user may create one (the
 *   default ClusterRole system:basic-user); nothing is stored; the review comes back with 201,
 *   `metadata.creationTimestamp: null` and `status.allowed` (true with RBAC's "allowed by …" reason;
 *   false and nothing else when no rule matches: RBAC has no opinion, it never denies). A review's
 *   body may be JSON or protobuf (kubectl sends protobuf here); the answer is JSON, which kubectl
 *   accepts too. `selfReviews('forbidden' | 'absent')` makes a server that refuses (403) or does
 *   not serve (404) them.
 * - Legacy discovery (/api, /apis, /api/v1) and /version; aggregated discovery is not offered,
 *   so clients fall back to the legacy documents, which the real server also serves.
 *   OpenAPI v3 for api/v1 (just Secrets, enough for kubectl's field-validation check).
 *
 * Faults for tests: `conflictNext(n)` makes the next n updates/patches lose a race (another
 * writer bumps the object first, the request gets the real 409 Conflict); `failNext`.
 *
 * Never import this from src/.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

export interface RbacRule {
  /** get, list, watch, create, update, patch, delete, deletecollection, or '*'. */
  verbs: string[];
  /** e.g. ['secrets'] or ['*']. */
  resources: string[];
  /** Limits get/update/patch/delete to these names (as RBAC: never create or list). */
  resourceNames?: string[];
  /** The Role's namespace; undefined = a ClusterRole bound cluster-wide. */
  namespace?: string;
  /** The name of the Role (or ClusterRole) and of its binding, for the reason a review gives; default "stand-in". */
  role?: string;
}

export interface KubeStandInOptions {
  /** bearer token → user name, e.g. { 'tok': 'system:serviceaccount:apps:bootstrap' }. */
  tokens?: Record<string, string>;
  /** user name → rules. A user without an entry may do nothing but discovery. */
  rbac?: Record<string, RbacRule[]>;
  /** Extra subjectAltNames for the server certificate (IPs or DNS names), e.g. a docker bridge gateway. */
  hosts?: string[];
  /** Default '127.0.0.1'. */
  listenHost?: string;
}

export interface KubeSecret {
  apiVersion: 'v1';
  kind: 'Secret';
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  type: string;
  data?: Record<string, string>;
  immutable?: boolean;
}

export interface KubeRequestRecord {
  method: string;
  path: string;
  query: string;
  /** The RBAC verb, for resource requests. */
  verb: string | undefined;
  name: string | undefined;
  namespace: string | undefined;
  user: string | undefined;
  contentType: string | undefined;
  status: number;
  /** The RBAC resource (secrets, namespaces, selfsubjectaccessreviews). */
  resource?: string;
  /** For a SelfSubjectAccessReview: what it asked, as `kubectl auth can-i` takes it, e.g. "update secrets/agent-key". */
  review?: string;
}

export interface KubeStandIn {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** PEM of the CA that signed the server certificate. */
  readonly caPem: string;
  /** A file holding caPem (for kubeconfigs and service-account directories). */
  readonly caFile: string;
  readonly requests: KubeRequestRecord[];
  /** Resource requests only (no discovery), as "VERB name" e.g. "get agent-key"; a review as "can-i create secrets". */
  verbs(): string[];
  resetRequests(): void;
  addToken(token: string, user: string): void;
  removeToken(token: string): void;
  setRules(user: string, rules: RbacRule[]): void;
  /** SelfSubjectAccessReviews: 'allowed' to every user (the default, as system:basic-user grants), 'forbidden' (403: that binding removed), 'absent' (404: not served). */
  selfReviews(how: 'allowed' | 'forbidden' | 'absent'): void;
  /** The stored Secret (a copy), data decoded to strings for convenience in `decoded`. */
  secret(namespace: string, name: string): (KubeSecret & { decoded: Record<string, string> }) | undefined;
  /** Creates or replaces a Secret directly (not a request); values are plain strings. */
  putSecret(namespace: string, name: string, values: Record<string, string>, meta?: { labels?: Record<string, string>; annotations?: Record<string, string> }): KubeSecret;
  deleteSecret(namespace: string, name: string): boolean;
  /** The next n updates/patches of secrets lose a race: another writer bumps the object, the request gets 409 Conflict. */
  conflictNext(n: number): void;
  /** The next n resource requests (optionally only these verbs) answer `status` with a real-shaped Status. */
  failNext(n: number, opts?: { status?: number; verbs?: string[] }): void;
  /** Writes (create, update, patch, delete) wait until the returned function is called; reads go on. */
  holdWrites(): () => void;
  close(): Promise<void>;
}

export const SERVER_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.4', gitCommit: '59526cd4867447956156ae3a602fcbac10a2c335', gitTreeState: 'clean', buildDate: '2025-04-22T16:00:00Z', goVersion: 'go1.23.6', compiler: 'gc', platform: 'linux/amd64' };

// ---------------------------------------------------------------------------
// TLS material made at test time
// ---------------------------------------------------------------------------

export interface TestPki {
  dir: string;
  caPem: string;
  caFile: string;
  certPem: string;
  keyPem: string;
}

const pkiCache = new Map<string, TestPki>();

/** A throwaway CA and a server certificate for 127.0.0.1, ::1, localhost and `hosts`, made with the openssl CLI. */
export function makeTestPki(hosts: string[] = []): TestPki {
  const sans = [...new Set(['IP:127.0.0.1', 'IP:::1', 'DNS:localhost', 'DNS:kubernetes.default.svc', ...hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`))])];
  const cacheKey = sans.join(',');
  const cached = pkiCache.get(cacheKey);
  if (cached) return cached;
  const dir = mkdtempSync(path.join(tmpdir(), 'kube-stand-in-pki-'));
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ossl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=kube-stand-in-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ossl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver');
  writeFileSync(path.join(dir, 'server.ext'), `subjectAltName=${sans.join(',')}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`);
  ossl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '0x' + randomUUID().replace(/-/g, '').slice(0, 16), '-days', '2', '-extfile', 'server.ext', '-out', 'server.crt');
  const pki: TestPki = {
    dir,
    caPem: readFileSync(path.join(dir, 'ca.crt'), 'utf8'),
    caFile: path.join(dir, 'ca.crt'),
    certPem: readFileSync(path.join(dir, 'server.crt'), 'utf8'),
    keyPem: readFileSync(path.join(dir, 'server.key'), 'utf8'),
  };
  rmSync(path.join(dir, 'ca.key'));
  pkiCache.set(cacheKey, pki);
  return pki;
}

// ---------------------------------------------------------------------------
// Status bodies (k8s.io/apimachinery/pkg/api/errors)
// ---------------------------------------------------------------------------

interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { reason: string; message: string; field: string }[];
  retryAfterSeconds?: number;
}

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
  body(): KubeStatus {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, ...(this.details ? { details: this.details } : {}), code: this.code };
  }
}

const notFound = (name: string) => new StatusError(404, 'NotFound', `secrets "${name}" not found`, { name, kind: 'secrets' });
const alreadyExists = (name: string) => new StatusError(409, 'AlreadyExists', `secrets "${name}" already exists`, { name, kind: 'secrets' });
const conflict = (name: string) =>
  new StatusError(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: 'secrets' });
const badRequest = (message: string) => new StatusError(400, 'BadRequest', message);
const invalid = (name: string, causes: { field: string; message: string; value?: string }[]) =>
  new StatusError(
    422,
    'Invalid',
    `Secret "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.value !== undefined ? `Invalid value: ${JSON.stringify(c.value)}: ` : ''}${c.message}`).join(', ')}`,
    { name, kind: 'Secret', causes: causes.map((c) => ({ reason: c.value !== undefined ? 'FieldValueInvalid' : 'FieldValueRequired', message: `${c.value !== undefined ? `Invalid value: ${JSON.stringify(c.value)}: ` : ''}${c.message}`, field: c.field })) },
  );
const forbidden = (user: string, verb: string, resource: string, name: string | undefined, namespace: string | undefined, group = '') =>
  new StatusError(
    403,
    'Forbidden',
    `${resource}${group ? `.${group}` : ''}${name ? ` "${name}"` : ''} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}"${namespace ? ` in the namespace "${namespace}"` : ' at the cluster scope'}`,
    { ...(name ? { name } : {}), ...(group ? { group } : {}), kind: resource },
  );
const unauthorized = () => new StatusError(401, 'Unauthorized', 'Unauthorized');

// ---------------------------------------------------------------------------
// Validation (k8s.io/apimachinery/pkg/util/validation, core/v1 validation)
// ---------------------------------------------------------------------------

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function qualifiedNameProblems(key: string): string | undefined {
  const slash = key.indexOf('/');
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) return 'prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\', and must start and end with an alphanumeric character';
  if (name.length === 0 || name.length > 63) return 'name part must be no more than 63 characters';
  if (!QUALIFIED_NAME.test(name)) return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
  return undefined;
}

function validateSecret(s: KubeSecret): void {
  const causes: { field: string; message: string; value?: string }[] = [];
  const name = s.metadata.name;
  if (!name) causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required' });
  else if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    causes.push({ field: 'metadata.name', value: name, message: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')" });
  }
  for (const [k, v] of Object.entries(s.metadata.labels ?? {})) {
    const p = qualifiedNameProblems(k);
    if (p) causes.push({ field: 'metadata.labels', value: k, message: p });
    if (typeof v !== 'string' || v.length > 63) causes.push({ field: 'metadata.labels', value: String(v), message: 'must be no more than 63 characters' });
    else if (!LABEL_VALUE.test(v)) causes.push({ field: 'metadata.labels', value: v, message: "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')" });
  }
  let annotationBytes = 0;
  for (const [k, v] of Object.entries(s.metadata.annotations ?? {})) {
    const p = qualifiedNameProblems(k.toLowerCase());
    if (p) causes.push({ field: 'metadata.annotations', value: k, message: p });
    annotationBytes += k.length + String(v).length;
  }
  if (annotationBytes > 256 * 1024) causes.push({ field: 'metadata.annotations', message: `Too long: must have at most 262144 bytes` });
  let dataBytes = 0;
  for (const [k, v] of Object.entries(s.data ?? {})) {
    if (!CONFIG_KEY.test(k) || k.length > 253) {
      causes.push({ field: `data[${k}]`, value: k, message: "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')" });
    }
    dataBytes += Buffer.from(v, 'base64').length;
  }
  if (dataBytes > 1024 * 1024) causes.push({ field: 'data', message: 'Too long: must have at most 1048576 bytes' });
  if (causes.length > 0) throw invalid(name, causes);
}

/** Decodes a request body as the apiserver's JSON serializer would a Secret. */
function decodeSecret(body: unknown, expect: { namespace: string }): KubeSecret & { stringData?: Record<string, string> } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest("couldn't get version/kind; json parse error: json: cannot unmarshal into Go value of type struct");
  const o = body as Record<string, unknown>;
  if (o.kind !== undefined && o.kind !== 'Secret') throw badRequest(`${String(o.kind)} in version "${String(o.apiVersion ?? 'v1')}" cannot be handled as a Secret: no kind "${String(o.kind)}" is registered for version "${String(o.apiVersion ?? 'v1')}"`);
  if (o.apiVersion !== undefined && o.apiVersion !== 'v1') throw badRequest(`the API version in the data (${String(o.apiVersion)}) does not match the expected API version (v1)`);
  const meta = (typeof o.metadata === 'object' && o.metadata !== null ? o.metadata : {}) as Record<string, unknown>;
  if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== expect.namespace) {
    throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
  const cannot = (why: string) => badRequest(`Secret in version "v1" cannot be handled as a Secret: ${why}`);
  const strMap = (v: unknown, field: string): Record<string, string> | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw cannot(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field ${field} of type map[string]string`);
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw cannot(`json: cannot unmarshal ${typeof x} into Go struct field ${field}.${k} of type string`);
    return v as Record<string, string>;
  };
  const data = strMap(o.data, 'Secret.data');
  for (const [k, v] of Object.entries(data ?? {})) {
    if (!BASE64.test(v)) {
      const at = [...v].findIndex((c, i) => !/[A-Za-z0-9+/=]/.test(c) || (c === '=' && i < v.length - 2)) ;
      throw cannot(`illegal base64 data at input byte ${at === -1 ? v.length - (v.length % 4) : at}`);
    }
    void k;
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      ...meta,
      name: typeof meta.name === 'string' ? meta.name : '',
      namespace: expect.namespace,
      uid: typeof meta.uid === 'string' ? meta.uid : '',
      resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '',
      creationTimestamp: typeof meta.creationTimestamp === 'string' ? meta.creationTimestamp : '',
      ...(strMap(meta.labels, 'ObjectMeta.labels') ? { labels: strMap(meta.labels, 'ObjectMeta.labels') } : {}),
      ...(strMap(meta.annotations, 'ObjectMeta.annotations') ? { annotations: strMap(meta.annotations, 'ObjectMeta.annotations') } : {}),
    },
    type: typeof o.type === 'string' && o.type !== '' ? o.type : 'Opaque',
    ...(data ? { data } : {}),
    ...(strMap(o.stringData, 'Secret.stringData') ? { stringData: strMap(o.stringData, 'Secret.stringData') } : {}),
    ...(typeof o.immutable === 'boolean' ? { immutable: o.immutable } : {}),
  };
}

// ---------------------------------------------------------------------------
// Patches
// ---------------------------------------------------------------------------

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386 (and strategic merge patch for a Secret: its maps merge the same way; `$patch`/`$retainKeys` directives are not modelled). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 add / remove / replace / test / copy / move. */
function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = structuredClone(target);
  const parse = (p: string) => {
    if (p === '') return [];
    if (!p.startsWith('/')) throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request`);
    return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  };
  const walk = (tokens: string[]) => {
    let cur: unknown = doc;
    for (const t of tokens.slice(0, -1)) {
      cur = isObject(cur) ? cur[t] : Array.isArray(cur) ? cur[Number(t)] : undefined;
      if (cur === undefined) throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request`);
    }
    return { parent: cur as Record<string, unknown> | unknown[], last: tokens.at(-1)! };
  };
  const get = (tokens: string[]) => tokens.reduce<unknown>((c, t) => (isObject(c) ? c[t] : Array.isArray(c) ? c[Number(t)] : undefined), doc);
  const set = (tokens: string[], value: unknown, mode: 'add' | 'replace') => {
    if (tokens.length === 0) {
      doc = value;
      return;
    }
    const { parent, last } = walk(tokens);
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (mode === 'add') parent.splice(i, 0, value);
      else parent[i] = value;
    } else {
      if (mode === 'replace' && !(last in parent)) throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request`);
      parent[last] = value;
    }
  };
  const remove = (tokens: string[]) => {
    const { parent, last } = walk(tokens);
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else {
      if (!(last in parent)) throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request`);
      delete parent[last];
    }
  };
  for (const op of ops as Record<string, unknown>[]) {
    const p = parse(String(op.path ?? ''));
    switch (op.op) {
      case 'add':
      case 'replace':
        set(p, structuredClone(op.value), op.op);
        break;
      case 'remove':
        remove(p);
        break;
      case 'test':
        if (JSON.stringify(get(p)) !== JSON.stringify(op.value)) throw new StatusError(422, 'Invalid', `the server rejected our request due to an error in our request`);
        break;
      case 'copy':
      case 'move': {
        const from = parse(String(op.from ?? ''));
        const v = structuredClone(get(from));
        if (op.op === 'move') remove(from);
        set(p, v, 'add');
        break;
      }
      default:
        throw badRequest(`Unexpected kind: ${String(op.op)}`);
    }
  }
  return doc;
}

// ---------------------------------------------------------------------------
// SelfSubjectAccessReviews (k8s.io/api/authorization/v1)
// ---------------------------------------------------------------------------

interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}
interface NonResourceAttributes {
  path?: string;
  verb?: string;
}
interface ReviewSpec {
  resourceAttributes?: ResourceAttributes;
  nonResourceAttributes?: NonResourceAttributes;
}

const REVIEW_GV = 'authorization.k8s.io/v1';
const PROTOBUF_MAGIC = Buffer.from('k8s\0', 'latin1');

/** The fields of one protobuf message, by number: strings and nested messages as bytes (wire type 2); varints as numbers; fixed-size ones skipped. */
function protoFields(buf: Buffer): Map<number, (Buffer | number)[]> {
  const out = new Map<number, (Buffer | number)[]>();
  let i = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      if (i >= buf.length) throw badRequest('unexpected EOF');
      const b = buf[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const [field, wire] = [Math.floor(tag / 8), tag % 8];
    let value: Buffer | number;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const len = varint();
      value = buf.subarray(i, i + len);
      i += len;
    } else if (wire === 1 || wire === 5) {
      i += wire === 1 ? 8 : 4;
      continue;
    } else throw badRequest(`proto: illegal wireType ${wire}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

/** The strings of a protobuf message at the given field numbers (empty ones left out, as JSON's omitempty does). */
function protoStrings<K extends string>(buf: Buffer | undefined, names: Record<number, K>): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  if (!buf) return out;
  for (const [field, values] of protoFields(buf)) {
    const last = values.at(-1);
    if (names[field] && Buffer.isBuffer(last) && last.length > 0) out[names[field]] = last.toString('utf8');
  }
  return out;
}

/**
 * A SelfSubjectAccessReview body, JSON or protobuf (the `k8s\0` envelope around runtime.Unknown:
 * 1 typeMeta {1 apiVersion, 2 kind}, 2 raw = the review: 1 metadata, 2 spec {1 resourceAttributes,
 * 2 nonResourceAttributes}), as its spec and the metadata fields that must be empty.
 */
function decodeReview(raw: Buffer, contentType: string | undefined): { spec: ReviewSpec; metadata: Record<string, unknown> } {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  let kind: string | undefined;
  let apiVersion: string | undefined;
  let spec: ReviewSpec;
  let metadata: Record<string, unknown>;
  if (type === 'application/vnd.kubernetes.protobuf') {
    if (!raw.subarray(0, 4).equals(PROTOBUF_MAGIC)) throw badRequest('provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]');
    const unknown = protoFields(raw.subarray(4));
    const typeMeta = protoStrings(unknown.get(1)?.[0] as Buffer | undefined, { 1: 'apiVersion', 2: 'kind' });
    ({ kind, apiVersion } = typeMeta);
    const review = protoFields((unknown.get(2)?.[0] as Buffer | undefined) ?? Buffer.alloc(0));
    const specFields = protoFields((review.get(2)?.[0] as Buffer | undefined) ?? Buffer.alloc(0));
    const resource = specFields.get(1)?.[0] as Buffer | undefined;
    const nonResource = specFields.get(2)?.[0] as Buffer | undefined;
    spec = {
      ...(resource ? { resourceAttributes: protoStrings(resource, { 1: 'namespace', 2: 'verb', 3: 'group', 4: 'version', 5: 'resource', 6: 'subresource', 7: 'name' }) } : {}),
      ...(nonResource ? { nonResourceAttributes: protoStrings(nonResource, { 1: 'path', 2: 'verb' }) } : {}),
    };
    metadata = protoStrings(review.get(1)?.[0] as Buffer | undefined, { 1: 'name', 2: 'generateName', 3: 'namespace' });
  } else if (type === '' || type.endsWith('json')) {
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (err) {
      throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
    }
    if (!isObject(body)) throw badRequest("couldn't get version/kind; json parse error: json: cannot unmarshal into Go value of type struct");
    kind = typeof body.kind === 'string' ? body.kind : undefined;
    apiVersion = typeof body.apiVersion === 'string' ? body.apiVersion : undefined;
    const strings = (v: unknown) => (isObject(v) ? Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string' && x !== '')) : undefined);
    const s = isObject(body.spec) ? body.spec : {};
    const resource = strings(s.resourceAttributes);
    const nonResource = strings(s.nonResourceAttributes);
    spec = { ...(resource ? { resourceAttributes: resource } : {}), ...(nonResource ? { nonResourceAttributes: nonResource } : {}) };
    metadata = Object.fromEntries(Object.entries(isObject(body.metadata) ? body.metadata : {}).filter(([k, v]) => v !== null && v !== '' && k !== 'managedFields'));
  } else {
    throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
  }
  if (kind !== undefined && kind !== 'SelfSubjectAccessReview') {
    throw badRequest(`${kind} in version "${apiVersion ?? 'v1'}" cannot be handled as a SelfSubjectAccessReview: no kind "${kind}" is registered for version "${apiVersion ?? 'v1'}"`);
  }
  if (apiVersion !== undefined && apiVersion !== REVIEW_GV) throw badRequest(`the API version in the data (${apiVersion}) does not match the expected API version (${REVIEW_GV})`);
  return { spec, metadata };
}

/** ValidateSelfSubjectAccessReview (pkg/apis/authorization/validation): 422 Invalid, as NewInvalid words it. */
function validateReview({ spec, metadata }: { spec: ReviewSpec; metadata: Record<string, unknown> }): void {
  const causes: { field: string; message: string }[] = [];
  if (spec.resourceAttributes && spec.nonResourceAttributes) causes.push({ field: 'spec.nonResourceAttributes', message: `Invalid value: ${JSON.stringify(JSON.stringify(spec.nonResourceAttributes))}: cannot be specified in combination with resourceAttributes` });
  if (!spec.resourceAttributes && !spec.nonResourceAttributes) causes.push({ field: 'spec.resourceAttributes', message: 'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes must be specified' });
  if (Object.keys(metadata).length > 0) causes.push({ field: 'metadata', message: `Invalid value: ${JSON.stringify(JSON.stringify(metadata))}: must be empty` });
  if (causes.length === 0) return;
  throw new StatusError(422, 'Invalid', `SelfSubjectAccessReview.authorization.k8s.io "" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`, {
    group: 'authorization.k8s.io',
    kind: 'SelfSubjectAccessReview',
    causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

/** How RBAC's reasons name a subject (pkg/registry/rbac/validation: describeSubject). */
function describeSubject(user: string): string {
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(user);
  return sa ? `ServiceAccount "${sa[2]}/${sa[1]}"` : `User "${user}"`;
}

/** Non-resource URLs every authenticated user may GET (ClusterRoles system:discovery and system:public-info-viewer). */
const DISCOVERY_URLS = ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/readyz', '/version', '/version/', '/openapi', '/openapi/*'];

// ---------------------------------------------------------------------------
// Discovery documents
// ---------------------------------------------------------------------------

const SECRET_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function apiResourceList() {
  return {
    kind: 'APIResourceList',
    groupVersion: 'v1',
    resources: [
      { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'], shortNames: ['ns'], storageVersionHash: 'Q3oi5N2YM8M=' },
      { name: 'secrets', singularName: 'secret', namespaced: true, kind: 'Secret', verbs: SECRET_VERBS, storageVersionHash: 'S6u1pOWzb84=' },
    ],
  };
}

function openapiV3Root(hash: string) {
  return { paths: { 'api/v1': { serverRelativeURL: `/openapi/v3/api/v1?hash=${hash}` } } };
}

/** Just enough of the real api/v1 OpenAPI v3 document for kubectl: the Secret schema and the fieldValidation parameter. */
function openapiV3CoreV1() {
  const gvk = { group: '', version: 'v1', kind: 'Secret' };
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
  const param = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
  const common = [param('dryRun', 'When present, indicates that modifications should not be persisted.'), param('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'), param('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields.')];
  const op = (action: string, extra: object = {}) => ({ 'x-kubernetes-action': action, 'x-kubernetes-group-version-kind': gvk, responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref('io.k8s.api.core.v1.Secret') } } } }, ...extra });
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion },
    paths: {
      '/api/v1/namespaces/{namespace}/secrets': {
        parameters: [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } }],
        get: op('list'),
        post: op('post', { parameters: common, requestBody: { content: { '*/*': { schema: ref('io.k8s.api.core.v1.Secret') } }, required: true } }),
      },
      '/api/v1/namespaces/{namespace}/secrets/{name}': {
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } },
          { name: 'namespace', in: 'path', required: true, schema: { type: 'string', uniqueItems: true } },
        ],
        get: op('get'),
        put: op('put', { parameters: common, requestBody: { content: { '*/*': { schema: ref('io.k8s.api.core.v1.Secret') } }, required: true } }),
        patch: op('patch', { parameters: [...common, param('force', 'Force is going to "force" Apply requests.')], requestBody: { content: { 'application/json-patch+json': { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') }, 'application/merge-patch+json': { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') }, 'application/strategic-merge-patch+json': { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') } } } }),
        delete: op('delete'),
      },
    },
    components: {
      schemas: {
        'io.k8s.apimachinery.pkg.apis.meta.v1.Patch': { type: 'object', description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.' },
        'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': {
          type: 'object',
          properties: {
            annotations: { type: 'object', additionalProperties: { type: 'string', default: '' } },
            creationTimestamp: { type: 'string', format: 'date-time' },
            generateName: { type: 'string' },
            labels: { type: 'object', additionalProperties: { type: 'string', default: '' } },
            managedFields: { type: 'array', items: { type: 'object' } },
            name: { type: 'string' },
            namespace: { type: 'string' },
            resourceVersion: { type: 'string' },
            uid: { type: 'string' },
          },
        },
        'io.k8s.api.core.v1.Secret': {
          description: 'Secret holds secret data of a certain type. The total bytes of the values in the Data field must be less than MaxSecretSize bytes.',
          type: 'object',
          properties: {
            apiVersion: { type: 'string' },
            data: { type: 'object', additionalProperties: { type: 'string', format: 'byte' } },
            immutable: { type: 'boolean' },
            kind: { type: 'string' },
            metadata: { allOf: [ref('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta')], default: {} },
            stringData: { type: 'object', additionalProperties: { type: 'string', default: '' } },
            type: { type: 'string' },
          },
          'x-kubernetes-group-version-kind': [gvk],
        },
      },
    },
  };
}

function age(since: string): string {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(since)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 3 * 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

/** The apiserver's Table for secrets: NAME, TYPE, DATA, AGE (pkg/printers/internalversion). */
function asTable(body: KubeSecret | { items: Omit<KubeSecret, 'kind' | 'apiVersion'>[]; metadata: object }, revision: string) {
  const items = 'items' in body ? body.items : [body];
  const col = (name: string, type: string, description: string, format = '') => ({ name, type, format, description, priority: 0 });
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: revision },
    columnDefinitions: [
      col('Name', 'string', 'Name must be unique within a namespace.', 'name'),
      col('Type', 'string', 'Used to facilitate programmatic handling of secret data.'),
      col('Data', 'string', 'Data contains the secret data.'),
      col('Age', 'string', 'CreationTimestamp is a timestamp representing the server time when this object was created.'),
    ],
    rows: items.map((s) => ({
      cells: [s.metadata.name, s.type, Object.keys(s.data ?? {}).length, age(s.metadata.creationTimestamp)],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: s.metadata },
    })),
  };
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

const REVIEWS_PATH = /^\/apis\/authorization\.k8s\.io\/v1\/selfsubjectaccessreviews\/?$/;
const SECRETS_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?\/?$/;
const ALL_SECRETS_PATH = /^\/api\/v1\/secrets\/?$/;
const NAMESPACE_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/?$/;

interface Fault {
  remaining: number;
  status: number;
  verbs: string[] | undefined;
}

const nowStamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

class Server_ implements KubeStandIn {
  url = '';
  host: string;
  port = 0;
  readonly caPem: string;
  readonly caFile: string;
  readonly requests: KubeRequestRecord[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly tokens = new Map<string, string>();
  private readonly rbac = new Map<string, RbacRule[]>();
  private readonly store = new Map<string, KubeSecret>();
  private revision = 1000;
  private conflicts = 0;
  private faults: Fault[] = [];
  private writeGate: Promise<void> | undefined;
  private reviews: 'allowed' | 'forbidden' | 'absent' = 'allowed';

  constructor(
    opts: KubeStandInOptions,
    private readonly pki: TestPki,
  ) {
    this.host = opts.listenHost ?? '127.0.0.1';
    this.caPem = pki.caPem;
    this.caFile = pki.caFile;
    for (const [t, u] of Object.entries(opts.tokens ?? {})) this.tokens.set(t, u);
    for (const [u, r] of Object.entries(opts.rbac ?? {})) this.rbac.set(u, r);
  }

  async start(): Promise<void> {
    const server = createServer({ key: this.pki.keyPem, cert: this.pki.certPem }, (req, res) => {
      this.onRequest(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.send(res, 500, new StatusError(500, 'InternalError', `Internal error occurred: ${String(err)}`).body());
      });
    });
    server.keepAliveTimeout = 5_000;
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, this.host, () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    const h = this.host === '0.0.0.0' ? '127.0.0.1' : this.host;
    this.url = `https://${h.includes(':') ? `[${h}]` : h}:${this.port}`;
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  // ----- controls ----------------------------------------------------------

  verbs(): string[] {
    return this.requests.filter((r) => r.verb).map((r) => (r.resource === 'selfsubjectaccessreviews' ? `can-i ${r.review}` : `${r.verb}${r.name ? ` ${r.name}` : ''}`));
  }
  resetRequests(): void {
    this.requests.length = 0;
  }
  addToken(token: string, user: string): void {
    this.tokens.set(token, user);
  }
  removeToken(token: string): void {
    this.tokens.delete(token);
  }
  setRules(user: string, rules: RbacRule[]): void {
    this.rbac.set(user, rules);
  }
  selfReviews(how: 'allowed' | 'forbidden' | 'absent'): void {
    this.reviews = how;
  }
  secret(namespace: string, name: string) {
    const s = this.store.get(`${namespace}/${name}`);
    if (!s) return undefined;
    const copy = structuredClone(s);
    const decoded = Object.fromEntries(Object.entries(copy.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
    return { ...copy, decoded };
  }
  putSecret(namespace: string, name: string, values: Record<string, string>, meta: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): KubeSecret {
    const prev = this.store.get(`${namespace}/${name}`);
    const s: KubeSecret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace, uid: prev?.metadata.uid ?? randomUUID(), resourceVersion: String(++this.revision), creationTimestamp: prev?.metadata.creationTimestamp ?? nowStamp(), ...meta },
      type: 'Opaque',
      data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    };
    validateSecret(s);
    this.store.set(`${namespace}/${name}`, s);
    return structuredClone(s);
  }
  deleteSecret(namespace: string, name: string): boolean {
    return this.store.delete(`${namespace}/${name}`);
  }
  conflictNext(n: number): void {
    this.conflicts += n;
  }
  failNext(n: number, opts: { status?: number; verbs?: string[] } = {}): void {
    this.faults.push({ remaining: n, status: opts.status ?? 500, verbs: opts.verbs });
  }
  holdWrites(): () => void {
    let release!: () => void;
    this.writeGate = new Promise((resolve) => (release = resolve));
    return () => {
      this.writeGate = undefined;
      release();
    };
  }

  // ----- HTTP --------------------------------------------------------------

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'content-length': Buffer.byteLength(text), 'audit-id': randomUUID(), ...headers });
    res.end(text);
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://stand-in');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const record: KubeRequestRecord = { method: req.method ?? 'GET', path: url.pathname, query: url.search, verb: undefined, name: undefined, namespace: undefined, user: undefined, contentType: req.headers['content-type'], status: 0 };
    this.requests.push(record);
    const reply = (status: number, body: unknown, headers?: Record<string, string>) => {
      record.status = status;
      this.send(res, status, body, headers);
    };
    try {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      const user = m ? this.tokens.get(m[1]!.trim()) : undefined;
      if (!user) throw unauthorized();
      record.user = user;
      if (this.writeGate && req.method !== 'GET' && !REVIEWS_PATH.test(url.pathname)) await this.writeGate;
      const accept = req.headers.accept ?? '*/*';
      if (!/(^|,)\s*(application\/json|\*\/\*|application\/\*)/.test(accept) && /protobuf/.test(accept)) {
        throw new StatusError(406, 'NotAcceptable', `only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
      }
      const answer = this.route(req.method ?? 'GET', url, raw, req.headers['content-type'], user, record);
      // `kubectl get` asks for a Table (server-side printing); the real columns of secrets.
      if (answer.status === 200 && /as=Table/.test(accept) && (record.verb === 'get' || record.verb === 'list') && record.namespace !== undefined) {
        reply(200, asTable(answer.body as KubeSecret | { items: Omit<KubeSecret, 'kind' | 'apiVersion'>[]; metadata: object }, String(this.revision)), { 'content-type': 'application/json;as=Table;v=v1;g=meta.k8s.io' });
        return;
      }
      reply(answer.status, answer.body);
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
      reply(err.code, err.body(), err.headers);
    }
  }

  private route(method: string, url: URL, raw: Buffer, contentType: string | undefined, user: string, record: KubeRequestRecord): { status: number; body: unknown } {
    const p = url.pathname;
    if (method === 'GET') {
      if (p === '/version' || p === '/version/') return { status: 200, body: SERVER_VERSION };
      if (p === '/api' || p === '/api/') return { status: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `${this.host}:${this.port}` }] } };
      const authorizationGroup = { name: 'authorization.k8s.io', versions: [{ groupVersion: REVIEW_GV, version: 'v1' }], preferredVersion: { groupVersion: REVIEW_GV, version: 'v1' } };
      if (p === '/apis' || p === '/apis/') return { status: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: this.reviews === 'absent' ? [] : [authorizationGroup] } };
      if (this.reviews !== 'absent' && (p === '/apis/authorization.k8s.io' || p === '/apis/authorization.k8s.io/')) return { status: 200, body: { kind: 'APIGroup', apiVersion: 'v1', ...authorizationGroup } };
      if (this.reviews !== 'absent' && (p === '/apis/authorization.k8s.io/v1' || p === '/apis/authorization.k8s.io/v1/')) {
        return { status: 200, body: { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: REVIEW_GV, resources: [{ name: 'selfsubjectaccessreviews', singularName: 'selfsubjectaccessreview', namespaced: false, kind: 'SelfSubjectAccessReview', verbs: ['create'] }] } };
      }
      if (p === '/api/v1' || p === '/api/v1/') return { status: 200, body: apiResourceList() };
      if (p === '/openapi/v3' || p === '/openapi/v3/') return { status: 200, body: openapiV3Root('4C8D4C1B2F5E1A3D') };
      if (p === '/openapi/v3/api/v1') return { status: 200, body: openapiV3CoreV1() };
    }
    const ns = NAMESPACE_PATH.exec(p);
    if (ns && method === 'GET') {
      // Every namespace exists here; reading one takes RBAC on namespaces (kubectl asks after a NotFound).
      const nsName = decodeURIComponent(ns[1]!);
      Object.assign(record, { verb: 'get', name: nsName, resource: 'namespaces' });
      this.authorize(user, 'get', 'namespaces', nsName, undefined);
      return { status: 200, body: { kind: 'Namespace', apiVersion: 'v1', metadata: { name: nsName, uid: randomUUID(), resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z', labels: { 'kubernetes.io/metadata.name': nsName } }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } } };
    }
    if (REVIEWS_PATH.test(p) && this.reviews !== 'absent') {
      if (method !== 'POST') throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', { group: 'authorization.k8s.io', kind: 'selfsubjectaccessreviews' });
      return { status: 201, body: this.review(user, raw, contentType, record) };
    }
    const all = ALL_SECRETS_PATH.exec(p);
    const m = SECRETS_PATH.exec(p);
    if (!m && !all) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});
    const namespace = m ? decodeURIComponent(m[1]!) : undefined;
    const name = m?.[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb =
      method === 'GET' ? (name ? 'get' : watch ? 'watch' : 'list')
      : method === 'POST' ? 'create'
      : method === 'PUT' ? 'update'
      : method === 'PATCH' ? 'patch'
      : method === 'DELETE' ? (name ? 'delete' : 'deletecollection')
      : undefined;
    if (!verb || (verb === 'create' && name)) throw new StatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`, { kind: 'secrets', ...(name ? { name } : {}) });
    Object.assign(record, { verb, name, namespace, resource: 'secrets' });
    this.authorize(user, verb, 'secrets', name, namespace);
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.verbs || f.verbs.includes(verb)));
    if (fault) {
      fault.remaining--;
      const reason = fault.status === 429 ? 'TooManyRequests' : fault.status === 503 ? 'ServiceUnavailable' : fault.status === 504 ? 'Timeout' : 'InternalError';
      throw new StatusError(fault.status, reason, fault.status === 429 ? 'the server has received too many requests and has asked us to try again later' : 'Internal error occurred: injected by the stand-in', fault.status === 429 ? { retryAfterSeconds: 1 } : {}, fault.status === 429 ? { 'retry-after': '1' } : {});
    }
    if (verb === 'watch') throw new StatusError(405, 'MethodNotAllowed', 'watch is not supported by this stand-in');
    const body = () => {
      const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
      if (type.includes('protobuf') || (type !== '' && !type.endsWith('json'))) {
        throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf`);
      }
      try {
        return JSON.parse(raw.toString('utf8')) as unknown;
      } catch (err) {
        throw badRequest(`couldn't get version/kind; json parse error: ${(err as Error).message}`);
      }
    };
    switch (verb) {
      case 'get':
        return { status: 200, body: this.get(namespace!, name!) };
      case 'list':
        return { status: 200, body: this.list(namespace, url.searchParams) };
      case 'create':
        return { status: 201, body: this.create(namespace!, body()) };
      case 'update':
        return { status: 200, body: this.update(namespace!, name!, body()) };
      case 'patch': {
        const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
        if (!['application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/json-patch+json'].includes(type)) {
          throw new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`);
        }
        return { status: 200, body: this.patch(namespace!, name!, type, body()) };
      }
      case 'delete':
        return { status: 200, body: this.delete(namespace!, name!, raw.length ? body() : undefined) };
      default:
        throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    }
  }

  /** The first rule that allows the request (cluster-wide ones first, as RBAC visits ClusterRoleBindings first). */
  private allowingRule(user: string, verb: string, resource: string, name: string | undefined, namespace: string | undefined): RbacRule | undefined {
    const rules = this.rbac.get(user) ?? [];
    return [...rules.filter((r) => r.namespace === undefined), ...rules.filter((r) => r.namespace !== undefined)].find(
      (r) =>
        (r.namespace === undefined || r.namespace === namespace) &&
        (r.verbs.includes('*') || r.verbs.includes(verb)) &&
        (r.resources.includes('*') || r.resources.includes(resource)) &&
        (r.resourceNames === undefined || r.resourceNames.length === 0 || (name !== undefined && r.resourceNames.includes(name))),
    );
  }

  private authorize(user: string, verb: string, resource: string, name: string | undefined, namespace: string | undefined): void {
    if (!this.allowingRule(user, verb, resource, name, namespace)) throw forbidden(user, verb, resource, name, namespace);
  }

  /**
   * POST selfsubjectaccessreviews: the request's user asks what RBAC would decide for them. Allowed
   * to everyone authenticated (system:basic-user), unless selfReviews('forbidden'). Not stored.
   */
  private review(user: string, raw: Buffer, contentType: string | undefined, record: KubeRequestRecord) {
    Object.assign(record, { verb: 'create', resource: 'selfsubjectaccessreviews' });
    // What was asked, for the record (the real server authorizes before it reads the body).
    const asked = (() => {
      try {
        return decodeReview(raw, contentType).spec;
      } catch {
        return {};
      }
    })();
    const r = asked.resourceAttributes;
    const n = asked.nonResourceAttributes;
    record.review = r ? `${r.verb ?? ''} ${r.resource ?? ''}${r.subresource ? `/${r.subresource}` : ''}${r.group ? `.${r.group}` : ''}${r.name ? `/${r.name}` : ''}` : n ? `${n.verb ?? ''} ${n.path ?? ''}` : '?';
    if (this.reviews === 'forbidden') throw forbidden(user, 'create', 'selfsubjectaccessreviews', undefined, undefined, 'authorization.k8s.io');
    const decoded = decodeReview(raw, contentType);
    validateReview(decoded);
    const { spec } = decoded;
    let status: { allowed: boolean; reason?: string };
    if (spec.resourceAttributes) {
      const a = spec.resourceAttributes;
      const resource = a.subresource ? `${a.resource ?? ''}/${a.subresource}` : (a.resource ?? '');
      const basicUser = a.group === 'authorization.k8s.io' && a.resource === 'selfsubjectaccessreviews' && !a.subresource && a.verb === 'create';
      // The stand-in's rules are for the core group ("") only; RBAC matches groups, verbs, resources and names literally.
      const rule = basicUser ? undefined : !a.group ? this.allowingRule(user, a.verb ?? '', resource, a.name || undefined, a.namespace || undefined) : undefined;
      if (basicUser) status = { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "system:basic-user" of ClusterRole "system:basic-user" to Group "system:authenticated"` };
      else if (!rule) status = { allowed: false };
      else {
        const role = rule.role ?? 'stand-in';
        status = {
          allowed: true,
          reason: rule.namespace === undefined ? `RBAC: allowed by ClusterRoleBinding "${role}" of ClusterRole "${role}" to ${describeSubject(user)}` : `RBAC: allowed by RoleBinding "${role}/${rule.namespace}" of Role "${role}" to ${describeSubject(user)}`,
        };
      }
    } else {
      const a = spec.nonResourceAttributes!;
      const path = a.path ?? '';
      const discovery = a.verb === 'get' && DISCOVERY_URLS.some((u) => (u.endsWith('*') ? path.startsWith(u.slice(0, -1)) : path === u));
      status = discovery ? { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "system:discovery" of ClusterRole "system:discovery" to Group "system:authenticated"` } : { allowed: false };
    }
    return { kind: 'SelfSubjectAccessReview', apiVersion: REVIEW_GV, metadata: { creationTimestamp: null }, spec, status };
  }

  private get(namespace: string, name: string): KubeSecret {
    const s = this.store.get(`${namespace}/${name}`);
    if (!s) throw notFound(name);
    return s;
  }

  private list(namespace: string | undefined, q: URLSearchParams) {
    const labelSel = (q.get('labelSelector') ?? '').split(',').filter(Boolean).map((t) => t.split(/==?/) as [string, string]);
    const fieldSel = (q.get('fieldSelector') ?? '').split(',').filter(Boolean).map((t) => t.split(/==?/) as [string, string]);
    const items = [...this.store.values()]
      .filter((s) => namespace === undefined || s.metadata.namespace === namespace)
      .filter((s) => labelSel.every(([k, v]) => (v === undefined ? k in (s.metadata.labels ?? {}) : s.metadata.labels?.[k] === v)))
      .filter((s) => fieldSel.every(([k, v]) => (k === 'metadata.name' ? s.metadata.name === v : k === 'metadata.namespace' ? s.metadata.namespace === v : k === 'type' ? s.type === v : false)))
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))
      .map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
    return { kind: 'SecretList', apiVersion: 'v1', metadata: { resourceVersion: String(this.revision) }, items };
  }

  /** Folds stringData into data (as the apiserver's conversion does) and validates. */
  private normalize(s: KubeSecret & { stringData?: Record<string, string> }): KubeSecret {
    const { stringData, ...rest } = s;
    const out: KubeSecret = structuredClone(rest);
    if (stringData) out.data = { ...(out.data ?? {}), ...Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
    for (const k of ['labels', 'annotations'] as const) if (out.metadata[k] && Object.keys(out.metadata[k]!).length === 0) delete out.metadata[k];
    for (const k of ['deletionTimestamp', 'generation', 'selfLink', 'managedFields'] as const) delete out.metadata[k];
    validateSecret(out);
    return out;
  }

  private create(namespace: string, body: unknown): KubeSecret {
    const s = decodeSecret(body, { namespace });
    if (!s.metadata.name && typeof s.metadata.generateName === 'string') s.metadata.name = `${s.metadata.generateName}${randomUUID().slice(0, 5)}`;
    if (s.metadata.resourceVersion) throw invalid(s.metadata.name, [{ field: 'metadata.resourceVersion', value: s.metadata.resourceVersion, message: 'must be empty' }]);
    const out = this.normalize(s);
    if (this.store.has(`${namespace}/${out.metadata.name}`)) throw alreadyExists(out.metadata.name);
    out.metadata.uid = randomUUID();
    out.metadata.creationTimestamp = nowStamp();
    out.metadata.resourceVersion = String(++this.revision);
    this.store.set(`${namespace}/${out.metadata.name}`, out);
    return out;
  }

  /** The apiserver's update path: precondition, immutable fields, a no-op keeps the resourceVersion. */
  private commit(namespace: string, name: string, current: KubeSecret, next: KubeSecret, preconditionRv: string | undefined): KubeSecret {
    if (this.conflicts > 0) {
      // Another writer wins the race just before us.
      this.conflicts--;
      current.metadata.resourceVersion = String(++this.revision);
      throw conflict(name);
    }
    if (preconditionRv && preconditionRv !== current.metadata.resourceVersion) throw conflict(name);
    if (next.metadata.name !== name) throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${name})`);
    if (next.metadata.uid && next.metadata.uid !== current.metadata.uid) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": Precondition failed: UID in precondition: ${next.metadata.uid}, UID in object meta: ${current.metadata.uid}`, { name, kind: 'secrets' });
    }
    if (current.immutable && (JSON.stringify(current.data ?? {}) !== JSON.stringify(next.data ?? {}) || next.immutable === false)) {
      throw invalid(name, [{ field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' }]);
    }
    if (next.type !== current.type) throw invalid(name, [{ field: 'type', value: next.type, message: 'field is immutable' }]);
    next.metadata.uid = current.metadata.uid;
    next.metadata.creationTimestamp = current.metadata.creationTimestamp;
    next.metadata.namespace = namespace;
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(current)) return current;
    next.metadata.resourceVersion = String(++this.revision);
    this.store.set(`${namespace}/${name}`, next);
    return next;
  }

  private update(namespace: string, name: string, body: unknown): KubeSecret {
    const s = decodeSecret(body, { namespace });
    const current = this.store.get(`${namespace}/${name}`);
    if (!current) throw notFound(name);
    return this.commit(namespace, name, current, this.normalize(s), s.metadata.resourceVersion || undefined);
  }

  private patch(namespace: string, name: string, type: string, patch: unknown): KubeSecret {
    const current = this.store.get(`${namespace}/${name}`);
    if (!current) throw notFound(name);
    const patched = type === 'application/json-patch+json' ? jsonPatch(current, patch) : mergePatch(current, patch);
    const s = decodeSecret(patched, { namespace });
    // A resourceVersion in the patch is a precondition.
    const rv = type === 'application/json-patch+json' ? undefined : (isObject(patch) && isObject(patch.metadata) && typeof patch.metadata.resourceVersion === 'string' ? patch.metadata.resourceVersion : undefined);
    return this.commit(namespace, name, current, this.normalize(s), rv ?? (type === 'application/json-patch+json' && s.metadata.resourceVersion !== current.metadata.resourceVersion ? s.metadata.resourceVersion : undefined));
  }

  private delete(namespace: string, name: string, options: unknown): KubeStatus {
    const current = this.store.get(`${namespace}/${name}`);
    if (!current) throw notFound(name);
    const pre = isObject(options) && isObject(options.preconditions) ? options.preconditions : {};
    if (typeof pre.resourceVersion === 'string' && pre.resourceVersion !== current.metadata.resourceVersion) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${current.metadata.resourceVersion}). The object might have been modified`, { name, kind: 'secrets' });
    }
    if (typeof pre.uid === 'string' && pre.uid !== current.metadata.uid) {
      throw new StatusError(409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`, { name, kind: 'secrets' });
    }
    this.store.delete(`${namespace}/${name}`);
    this.revision++;
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'secrets', uid: current.metadata.uid }, code: 200 };
  }
}

/** Starts a stand-in on an ephemeral loopback port, with a CA made for it. */
export async function startKubeStandIn(opts: KubeStandInOptions = {}): Promise<KubeStandIn> {
  const si = new Server_(opts, makeTestPki(opts.hosts));
  await si.start();
  return si;
}

/** The service account's namespace, token and RBAC a Job like deploy/kubernetes's gets. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/**
 * A token shaped like the kubelet's projected service account token: a JWT (header, claims with
 * `sub` system:serviceaccount:<namespace>:<name> and the `kubernetes.io` claims, signature). The
 * stand-in knows tokens as opaque strings (`tokens`), as it knows any other.
 */
export function serviceAccountToken(namespace: string, name: string): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const issuer = 'https://kubernetes.default.svc.cluster.local';
  return [
    part({ alg: 'RS256', kid: randomUUID() }),
    part({ aud: [issuer], exp: now + 3600, iat: now, iss: issuer, 'kubernetes.io': { namespace, serviceaccount: { name, uid: randomUUID() } }, nbf: now, sub: serviceAccountUser(namespace, name) }),
    randomBytes(256).toString('base64url'),
  ].join('.');
}

/**
 * A service account directory as the kubelet mounts it (token, ca.crt, namespace), for
 * KUBERNETES_SERVICE_ACCOUNT_DIR; plus the environment a pod gets to reach the stand-in.
 */
export function serviceAccountDir(api: KubeStandIn, opts: { token: string; namespace: string }): { dir: string; env: Record<string, string>; setToken(token: string): void; cleanup(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'kube-sa-'));
  writeFileSync(path.join(dir, 'token'), opts.token);
  writeFileSync(path.join(dir, 'ca.crt'), api.caPem);
  writeFileSync(path.join(dir, 'namespace'), opts.namespace);
  return {
    dir,
    env: { KUBERNETES_SERVICE_HOST: api.host, KUBERNETES_SERVICE_PORT: String(api.port), KUBERNETES_SERVICE_ACCOUNT_DIR: dir },
    setToken: (token) => writeFileSync(path.join(dir, 'token'), token),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
