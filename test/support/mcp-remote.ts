/**
 * `mcp-remote` (the stdio-to-remote proxy Claude Desktop users run) as a real child process under
 * Node: its stderr is read for the authorization URL it prints, and MCP JSON-RPC is spoken to it
 * over stdio, one JSON message per line (MCP stdio transport).
 */
import { join } from "node:path";
import { PROJECT_DIR } from "./server.ts";

export interface McpRemote {
  /** Resolves with the first authorization URL mcp-remote prints (for the test to open). */
  authorizationUrl: Promise<string>;
  /** Sends a JSON-RPC request and resolves with the response carrying its id. */
  request(id: number, method: string, params?: Record<string, unknown>): Promise<unknown>;
  notify(method: string, params?: Record<string, unknown>): void;
  /** Everything it has written to stderr so far (for failure messages). */
  stderr(): string;
  stop(): Promise<void>;
}

export function startMcpRemote(options: {
  serverUrl: string;
  callbackPort: number;
  /** HOME and MCP_REMOTE_CONFIG_DIR point here, so no token lands in a real ~/.mcp-auth. */
  configDir: string;
  extraArgs?: string[];
  /** More environment, e.g. NODE_EXTRA_CA_CERTS for the https front's certificate. */
  env?: Record<string, string>;
}): McpRemote {
  const child = Bun.spawn(
    [
      "node",
      // Node's resolver does not map {slug}.localhost to loopback here (see the file).
      "--require",
      join(PROJECT_DIR, "test/support/localhost-dns.cjs"),
      join(PROJECT_DIR, "node_modules/mcp-remote/dist/proxy.js"),
      options.serverUrl,
      String(options.callbackPort),
      // A wiki host of the test server is http://{slug}.localhost, which mcp-remote's own
      // localhost exemption (exact "localhost"/"127.0.0.1") does not cover.
      "--allow-http",
      "--auth-timeout",
      "120",
      ...(options.extraArgs ?? []),
    ],
    {
      cwd: PROJECT_DIR,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: options.configDir,
        MCP_REMOTE_CONFIG_DIR: join(options.configDir, ".mcp-auth"),
        // The `open` package falls back to $BROWSER through xdg-open when there is no desktop:
        // a no-op that succeeds, since the test opens the printed URL in Chromium itself.
        BROWSER: "true",
        ...options.env,
      },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    },
  );

  let errText = "";
  let resolveUrl: (url: string) => void = () => {};
  let rejectUrl: (error: Error) => void = () => {};
  const authorizationUrl = new Promise<string>((resolve, reject) => {
    resolveUrl = resolve;
    rejectUrl = reject;
  });
  const decoder = new TextDecoder();
  (async () => {
    for await (const chunk of child.stderr) {
      errText += decoder.decode(chunk, { stream: true });
      const found = /(https?:\/\/\S+\/(?:oauth\/)?authorize\?\S+)/.exec(errText);
      if (found?.[1] !== undefined) resolveUrl(found[1]);
    }
    rejectUrl(new Error(`mcp-remote printed no authorization URL:\n${errText}`));
  })();

  const pending = new Map<
    number,
    { resolve(message: unknown): void; reject(error: Error): void }
  >();
  (async () => {
    let buffered = "";
    const outDecoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffered += outDecoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
        if (line === "") continue;
        const message: unknown = JSON.parse(line);
        const id =
          typeof message === "object" && message !== null && "id" in message ? message.id : null;
        if (typeof id === "number") {
          pending.get(id)?.resolve(message);
          pending.delete(id);
        }
      }
    }
    for (const waiter of pending.values()) {
      waiter.reject(new Error(`mcp-remote closed its stdout:\n${errText}`));
    }
  })();

  const write = (message: Record<string, unknown>) => {
    child.stdin.write(`${JSON.stringify({ jsonrpc: "2.0", ...message })}\n`);
    child.stdin.flush();
  };

  return {
    authorizationUrl,
    request(id, method, params) {
      const answer = new Promise<unknown>((resolve, reject) =>
        pending.set(id, { resolve, reject }),
      );
      write({ id, method, ...(params === undefined ? {} : { params }) });
      return answer;
    },
    notify(method, params) {
      write({ method, ...(params === undefined ? {} : { params }) });
    },
    stderr: () => errText,
    async stop() {
      child.kill();
      await child.exited;
    },
  };
}
