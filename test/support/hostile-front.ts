/**
 * A hostile LiteLLM on loopback: a real HTTP server in front of the stand-in that forwards
 * every request, except those `intercept` answers itself (a forged key, an error echoing a
 * secret, ...). What an attacker who controls the proxy's answers can send, on the wire.
 */
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Intercepted {
  method: string;
  /** Path without the query string. */
  path: string;
  /** The request body as received. */
  body: string;
  /** The stand-in's own answer to it (status and text), when the hook asked to see it first. */
  upstream?: { status: number; text: string };
}

/** An answer of the hostile proxy: its status and body (JSON when an object). */
export interface Forged {
  status: number;
  body: unknown;
}

export interface HostileFront {
  url: string;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve(text)).on('error', reject);
  });

/**
 * `intercept` is called for every request with what the real stand-in answered; it returns an
 * answer to send instead, or undefined to pass the stand-in's answer on unchanged.
 */
export async function startHostileFront(backendUrl: string, intercept: (req: Intercepted) => Forged | undefined): Promise<HostileFront> {
  const backend = new URL(backendUrl);
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const upstream = await new Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
        const up = httpRequest({ host: backend.hostname, port: backend.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
          let text = '';
          r.setEncoding('utf8').on('data', (d: string) => (text += d)).on('end', () => resolve({ status: r.statusCode ?? 502, text, headers: r.headers }));
        });
        up.on('error', reject);
        up.end(body);
      });
      const forged = intercept({ method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]!, body, upstream: { status: upstream.status, text: upstream.text } });
      if (forged === undefined) {
        const headers = { ...upstream.headers };
        delete headers['content-length'];
        delete headers['transfer-encoding'];
        res.writeHead(upstream.status, headers).end(upstream.text);
        return;
      }
      const text = typeof forged.body === 'string' ? forged.body : JSON.stringify(forged.body);
      res.writeHead(forged.status, { 'content-type': typeof forged.body === 'string' ? 'text/plain' : 'application/json' }).end(text);
    })().catch(() => res.writeHead(502).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
