/**
 * An https front for the test server, as Caddy is in production: TLS with a throwaway
 * self-signed certificate for `{domain}` and `*.{domain}`, every request forwarded to the plain
 * http server with its Host kept. For clients that refuse plain http for OAuth (mcp-remote's SDK
 * sends credentials only to https or the exact host `localhost`), with the certificate handed
 * to them as a trust anchor (NODE_EXTRA_CA_CERTS) and to Chromium as ignored errors.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface Certificate {
  certPath: string;
  keyPath: string;
}

/** Makes a P-256 self-signed certificate for the domain and its subdomains with openssl. */
export function makeCertificate(dir: string, domain: string): Certificate {
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  const made = Bun.spawnSync(
    [
      "openssl",
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-days",
      "2",
      "-subj",
      `/CN=${domain}`,
      "-addext",
      `subjectAltName=DNS:${domain},DNS:*.${domain}`,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  return { certPath, keyPath };
}

export interface TlsFront {
  port: number;
  close(): void;
}

/** Listens with TLS on 127.0.0.1:`port` and forwards to http://127.0.0.1:`target`. */
export function startTlsFront(options: {
  port: number;
  target: number;
  certificate: Certificate;
}): TlsFront {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: options.port,
    tls: {
      cert: readFileSync(options.certificate.certPath, "utf8"),
      key: readFileSync(options.certificate.keyPath, "utf8"),
    },
    async fetch(request) {
      const url = new URL(request.url);
      const headers = new Headers(request.headers);
      // Bodies pass through as they are; an encoded answer would be decoded on the way.
      headers.delete("accept-encoding");
      const hasBody = request.method !== "GET" && request.method !== "HEAD";
      const upstream = await fetch(
        `http://127.0.0.1:${options.target}${url.pathname}${url.search}`,
        {
          method: request.method,
          headers,
          body: hasBody ? await request.arrayBuffer() : undefined,
          redirect: "manual",
        },
      );
      return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
    },
  });
  return { port: server.port ?? options.port, close: () => void server.stop(true) };
}
