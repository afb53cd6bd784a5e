/**
 * A small HTTP/1.1 client over node:net (node:tls loaded only for https): keep-alive,
 * Content-Length and chunked bodies, a hard per-request timeout.
 *
 * Why not undici or node:http: loading either costs ~50 ms, more than the whole
 * budget of a warm run (≤ 1.5 × `node -e 0`, see docs/performance.md), and the
 * bootstrap only ever sends a handful of small JSON requests to one origin.
 */
import { Socket, connect, isIP } from 'node:net';

export interface HttpRequest {
  method: 'GET' | 'POST';
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  body?: string | undefined;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** A failure before a complete answer arrived; `code` is ECONNREFUSED, ECONNRESET, ETIMEDOUT, ... */
export class HttpError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const MAX_BODY = 16 * 1024 * 1024;

type Sock = Socket;

export class HttpClient {
  private readonly idle: Sock[] = [];
  private readonly live = new Set<Sock>();
  private readonly host: string;
  private readonly port: number;
  private readonly tls: boolean;
  private readonly hostHeader: string;

  constructor(
    origin: URL,
    private readonly timeoutMs: number,
  ) {
    this.tls = origin.protocol === 'https:';
    this.host = origin.hostname.replace(/^\[|\]$/g, '');
    this.port = origin.port ? Number(origin.port) : this.tls ? 443 : 80;
    this.hostHeader = origin.host;
  }

  private async connect(): Promise<Sock> {
    const sock: Sock = this.tls
      ? process.getBuiltinModule('node:tls').connect({ host: this.host, port: this.port, servername: isIP(this.host) ? undefined : this.host })
      : connect({ host: this.host, port: this.port });
    sock.setNoDelay(true);
    this.live.add(sock);
    sock.once('close', () => {
      this.live.delete(sock);
      const i = this.idle.indexOf(sock);
      if (i !== -1) this.idle.splice(i, 1);
    });
    sock.on('error', () => undefined); // reported through the request that uses it
    return sock;
  }

  async request(req: HttpRequest): Promise<HttpResponse> {
    const reused = this.idle.pop();
    if (reused) {
      try {
        return await this.exchange(reused, req, true);
      } catch (err) {
        // The server may have closed an idle connection just as we reused it: a GET is safe to resend once.
        if (!(err instanceof StaleSocketError) || req.method !== 'GET') throw err instanceof StaleSocketError ? err.cause : err;
      }
    }
    return this.exchange(await this.connect(), req, false);
  }

  private exchange(sock: Sock, req: HttpRequest, reused: boolean): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
      const lines = [`${req.method} ${req.path} HTTP/1.1`, `host: ${this.hostHeader}`, 'connection: keep-alive'];
      for (const [k, v] of Object.entries(req.headers)) lines.push(`${k}: ${v}`);
      if (body) lines.push(`content-length: ${body.length}`);
      const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');

      let buf: Buffer = Buffer.alloc(0);
      let got = 0;
      let parsed: { status: number; headers: Record<string, string>; start: number } | undefined;
      const done = (err: Error | undefined, res?: HttpResponse, keep = false) => {
        clearTimeout(timer);
        sock.off('data', onData);
        sock.off('close', onClose);
        sock.off('error', onError);
        if (err) {
          sock.destroy();
          reject(err);
          return;
        }
        if (keep) {
          sock.unref();
          this.idle.push(sock);
        } else sock.destroy();
        resolve(res!);
      };
      const onError = (err: NodeJS.ErrnoException) => {
        const e = new HttpError(err.code ?? 'ECONNRESET', `${err.code ?? 'connection error'}`);
        done(reused && got === 0 ? new StaleSocketError(e) : e);
      };
      const onClose = () => {
        if (parsed && !('content-length' in parsed.headers) && parsed.headers['transfer-encoding'] === undefined) {
          done(undefined, { status: parsed.status, headers: parsed.headers, body: buf.subarray(parsed.start) });
          return;
        }
        const e = new HttpError('ECONNRESET', 'the connection closed before a complete answer');
        done(reused && got === 0 ? new StaleSocketError(e) : e);
      };
      const onData = (chunk: Buffer) => {
        got += chunk.length;
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        if (buf.length > MAX_BODY) return done(new HttpError('EMSGSIZE', 'the answer is too large'));
        if (!parsed) {
          const end = buf.indexOf('\r\n\r\n');
          if (end === -1) return;
          const [statusLine, ...headerLines] = buf.subarray(0, end).toString('latin1').split('\r\n');
          const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '');
          if (!m) return done(new HttpError('EPROTO', 'not an HTTP answer'));
          const headers: Record<string, string> = {};
          for (const line of headerLines) {
            const i = line.indexOf(':');
            if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
          }
          parsed = { status: Number(m[1]), headers, start: end + 4 };
          if (parsed.status === 100) {
            buf = buf.subarray(parsed.start);
            parsed = undefined;
            return onData(Buffer.alloc(0));
          }
        }
        const keep = parsed.headers.connection?.toLowerCase() !== 'close';
        const rest = buf.subarray(parsed.start);
        const te = parsed.headers['transfer-encoding']?.toLowerCase();
        if (te?.includes('chunked')) {
          let decoded: Buffer | undefined;
          try {
            decoded = decodeChunked(rest);
          } catch (err) {
            return done(err as Error);
          }
          if (decoded) done(undefined, { status: parsed.status, headers: parsed.headers, body: decoded }, keep);
          return;
        }
        const length = parsed.headers['content-length'];
        if (length !== undefined) {
          if (rest.length >= Number(length)) done(undefined, { status: parsed.status, headers: parsed.headers, body: rest.subarray(0, Number(length)) }, keep);
          return;
        }
        if (req.method === 'GET' && (parsed.status === 204 || parsed.status === 304)) done(undefined, { status: parsed.status, headers: parsed.headers, body: Buffer.alloc(0) }, keep);
        // else: the body runs until the server closes the connection
      };
      const timer = setTimeout(() => done(new HttpError('ETIMEDOUT', `no complete answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      sock.ref();
      sock.on('data', onData);
      sock.once('close', onClose);
      sock.on('error', onError);
      sock.write(body ? Buffer.concat([head, body]) : head);
    });
  }

  /**
   * Lets go of every connection: unreferenced, so they never keep the process
   * alive, and closed by the OS when the one-shot CLI exits (right after).
   * Not destroy(): destroying a socket makes Node create process.stderr
   * (net.Socket#_destroy compares itself with it), ~1 ms on every run.
   */
  close(): void {
    for (const s of this.live) s.unref();
    this.idle.length = 0;
  }
}

class StaleSocketError extends Error {
  constructor(override readonly cause: HttpError) {
    super(cause.message);
  }
}

/** The body of a complete chunked message, or undefined when more bytes are needed. */
function decodeChunked(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let i = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', i);
    if (eol === -1) return undefined;
    const size = Number.parseInt(data.subarray(i, eol).toString('latin1').split(';')[0]!.trim(), 16);
    if (Number.isNaN(size)) throw new HttpError('EPROTO', 'bad chunked encoding');
    if (size === 0) {
      // The last chunk, then optional trailers, then an empty line.
      const after = eol + 2;
      if (data[after] === 13 && data[after + 1] === 10) return Buffer.concat(parts);
      return data.indexOf('\r\n\r\n', after) !== -1 ? Buffer.concat(parts) : undefined;
    }
    if (data.length < eol + 2 + size + 2) return undefined;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
}
