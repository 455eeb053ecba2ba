/**
 * Runs git's own `upload-pack` / `receive-pack --stateless-rpc` for smart HTTP
 * (gitprotocol-http.adoc), the way Gitea does: we spawn the service with an explicit environment
 * and server policy as `-c` flags, stream bodies both ways, and never serve repository files
 * (no dumb HTTP). Who may call which service is decided before anything is spawned.
 */
import type { BunFile } from "bun";
import { MAX_PAGE_BYTES } from "../pages/page-rules.ts";
import { GIT_BASE_FLAGS, gitEnvironment } from "../repo/git.ts";
import type { GitService } from "./git-access.ts";
import { GitHttpError } from "./git-http-error.ts";
import { InactivityWatchdog } from "./inactivity-watchdog.ts";
import { servicePreamble } from "./pkt-line.ts";

/** What git http-backend sends so no proxy or client caches an answer (http-backend.c `hdr_nocache`). */
export const NO_CACHE_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-cache, max-age=0, must-revalidate",
  pragma: "no-cache",
  expires: "Fri, 01 Jan 1980 00:00:00 GMT",
};

/**
 * Fetch policy. `allowFilter` enables partial clones. The `allow*SHA1InWant` settings stay off
 * so objects no ref reaches (a removed page's blobs before gc) cannot be fetched by id; stateless
 * HTTP already allows wants reachable from advertised tips (upload-pack.c `check_non_tip`).
 */
export const UPLOAD_PACK_POLICY: readonly string[] = [
  "-c",
  "uploadpack.allowFilter=true",
  "-c",
  "uploadpack.allowTipSHA1InWant=false",
  "-c",
  "uploadpack.allowReachableSHA1InWant=false",
  "-c",
  "uploadpack.allowAnySHA1InWant=false",
];

export interface ReceivePackPolicyOptions {
  /** receive.maxInputSize: the largest pack accepted. */
  maxPackBytes: number;
  checkout: "updateInstead" | "ignore";
  /** The server's hook directory (push-hook.ts), whose pre-receive applies the page rules. */
  hooksDir: string;
  /** The largest file other than a page a push may hold (pages: MAX_PAGE_BYTES). */
  maxFileBytes: number;
}

/**
 * Push policy, as command-line config (protected: a repository's own config cannot weaken it).
 * `hideRefs` limits pushes to `main` ("An attempt to update or delete a hidden ref by git push
 * is rejected", config/transfer.adoc). GIT_BASE_FLAGS add `core.symlinks=false`, so nothing a
 * push checks out is ever followed as a link (the pre-receive hook refuses links anyway).
 *
 * `core.bigFileThreshold` at the largest allowed file makes unpack-objects and index-pack stream
 * any bigger blob to disk instead of inflating it in memory (config/core.adoc): 150 MB of zeros,
 * half a megabyte on the wire, then costs receive-pack ~5 MB of memory rather than 150 MB, and
 * the hook refuses it by the size in its header. Nothing in a wiki may be that big, so the
 * threshold's other effect (no delta compression for such blobs) never matters.
 */
export function receivePackPolicy(options: ReceivePackPolicyOptions): string[] {
  return [
    "-c",
    `receive.denyCurrentBranch=${options.checkout}`,
    "-c",
    "receive.denyNonFastForwards=true",
    "-c",
    "receive.denyDeletes=true",
    "-c",
    "receive.fsckObjects=true",
    "-c",
    `receive.maxInputSize=${options.maxPackBytes}`,
    "-c",
    "receive.autogc=false",
    "-c",
    "receive.hideRefs=refs/",
    "-c",
    "receive.hideRefs=!refs/heads/main",
    "-c",
    "receive.advertisePushOptions=false",
    "-c",
    `core.hooksPath=${options.hooksDir}`,
    "-c",
    `core.bigFileThreshold=${Math.max(options.maxFileBytes, MAX_PAGE_BYTES)}`,
  ];
}

/**
 * `Git-Protocol` (e.g. `version=2`) becomes GIT_PROTOCOL for the service, on the advertisement
 * and on every POST (remote-curl.c `post_rpc`). Only `key=value` pairs joined by `:` pass, as in
 * Gitea; anything else is dropped and the service speaks protocol v0.
 */
export function gitProtocolOf(request: Request): string | null {
  const value = request.headers.get("git-protocol");
  if (value === null) return null;
  return /^[0-9a-zA-Z]+=[0-9a-zA-Z]+(:[0-9a-zA-Z]+=[0-9a-zA-Z]+)*$/.test(value) ? value : null;
}

/** The request body as the service must read it: checks the content type, gunzips if asked. */
export function serviceRequestBody(
  request: Request,
  service: GitService,
): ReadableStream<Uint8Array> {
  const contentType = request.headers.get("content-type");
  if (contentType !== `application/x-${service}-request`) {
    throw new GitHttpError(415, `expected Content-Type: application/x-${service}-request`);
  }
  const body = request.body ?? new Blob([]).stream();
  const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
  // remote-curl.c gzips upload-pack requests over 1 KiB that fit in http.postBuffer.
  if (encoding === "gzip" || encoding === "x-gzip") {
    return body.pipeThrough(new DecompressionStream("gzip"));
  }
  if (encoding !== "identity") {
    throw new GitHttpError(415, `unsupported Content-Encoding: ${encoding}`);
  }
  return body;
}

export interface ServiceRun {
  /** The service's stdout. Reading it counts as activity; cancelling it kills the process. */
  output: ReadableStream<Uint8Array>;
  finished: Promise<ServiceExit>;
  kill(): void;
}

export interface ServiceExit {
  exitCode: number | null;
  signal: string | null;
  /** The last few KiB of stderr, for the log. */
  stderr: string;
  timedOut: boolean;
  /** Why the input was cut short (a limit, a broken gzip stream, a vanished client), if it was. */
  inputFailure: string | null;
}

export interface ServiceOptions {
  service: GitService;
  gitDir: string;
  policy: readonly string[];
  gitProtocol: string | null;
  stdin: ReadableStream<Uint8Array> | BunFile;
  inactivityMs: number;
  /** Stops reading (and kills the service) past this many input bytes. */
  maxInputBytes?: number;
  /** Added to the service's environment, which its hooks inherit (githooks.adoc). */
  env?: Record<string, string>;
}

const STDERR_KEEP = 8 * 1024;

/** Spawns `git <service> --stateless-rpc <gitDir>` with the request body as its input. */
export function runService(options: ServiceOptions): ServiceRun {
  let inputFailure: string | null = null;
  // The input may fail before Bun.spawn returns; remember a kill asked for too early.
  let proc: ReturnType<typeof spawn> | null = null;
  let killed = false;
  const kill = () => {
    killed = true;
    proc?.kill("SIGKILL");
  };
  const watchdog = new InactivityWatchdog(options.inactivityMs, kill);
  const stdin =
    options.stdin instanceof ReadableStream
      ? guardInput(options.stdin, {
          maxBytes: options.maxInputBytes ?? Number.POSITIVE_INFINITY,
          onChunk: () => watchdog.touch(),
          onFailure: (reason) => {
            inputFailure = reason;
            kill();
          },
        })
      : options.stdin;
  const child = spawn(options, stdin);
  proc = child;
  if (killed) child.kill("SIGKILL");
  watchdog.touch();
  const stdout = child.stdout.getReader();
  const output = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await stdout.read();
      if (done) {
        controller.close();
        return;
      }
      watchdog.touch();
      controller.enqueue(value);
    },
    cancel() {
      kill();
      return stdout.cancel();
    },
  });
  const finished = Promise.all([tailOf(child.stderr), child.exited]).then(([stderr, exitCode]) => {
    watchdog.stop();
    return {
      exitCode: child.signalCode === null ? exitCode : null,
      signal: child.signalCode === null ? null : String(child.signalCode),
      stderr,
      timedOut: watchdog.expired,
      inputFailure,
    };
  });
  return { output, finished, kill };
}

function spawn(options: ServiceOptions, stdin: ReadableStream<Uint8Array> | BunFile) {
  return Bun.spawn(
    [
      "git",
      ...GIT_BASE_FLAGS,
      ...options.policy,
      options.service.slice("git-".length),
      "--stateless-rpc",
      options.gitDir,
    ],
    {
      stdin,
      stdout: "pipe",
      stderr: "pipe",
      env: gitEnvironment({
        ...options.env,
        ...(options.gitProtocol === null ? {} : { GIT_PROTOCOL: options.gitProtocol }),
      }),
    },
  );
}

/**
 * Feeds a request body to a child. A source that errors must not reach Bun.spawn (the child
 * would see a clean end of input after a truncated request), so a failure kills the child first
 * and then ends its stdin.
 */
function guardInput(
  source: ReadableStream<Uint8Array>,
  hooks: { maxBytes: number; onChunk: () => void; onFailure: (reason: string) => void },
): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let total = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        hooks.onFailure(`the request body failed: ${String(error)}`);
        controller.close();
        return;
      }
      if (chunk.done) {
        controller.close();
        return;
      }
      total += chunk.value.byteLength;
      if (total > hooks.maxBytes) {
        hooks.onFailure(`the request body passed ${hooks.maxBytes} bytes`);
        controller.close();
        await reader.cancel().catch(() => undefined);
        return;
      }
      hooks.onChunk();
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

async function tailOf(stream: ReadableStream<Uint8Array>): Promise<string> {
  let kept = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    kept = (kept + decoder.decode(chunk, { stream: true })).slice(-STDERR_KEEP);
  }
  return kept;
}

/**
 * GET info/refs: the preamble, then `git <service> --advertise-refs` (git 2.34 renamed it
 * `--http-backend-info-refs` and kept this name as an alias, commit 98e2d9d6f7).
 */
export async function advertiseRefs(options: {
  service: GitService;
  gitDir: string;
  policy: readonly string[];
  gitProtocol: string | null;
}): Promise<Response> {
  const proc = Bun.spawn(
    [
      "git",
      ...GIT_BASE_FLAGS,
      ...options.policy,
      options.service.slice("git-".length),
      "--stateless-rpc",
      "--advertise-refs",
      options.gitDir,
    ],
    {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: gitEnvironment(
        options.gitProtocol === null ? {} : { GIT_PROTOCOL: options.gitProtocol },
      ),
    },
  );
  const [refs, stderr, exitCode] = await Promise.all([
    new Response(proc.stdout).bytes(),
    tailOf(proc.stderr),
    proc.exited,
  ]);
  if (exitCode !== 0) {
    throw new Error(`git ${options.service} --advertise-refs exited ${exitCode}: ${stderr.trim()}`);
  }
  return new Response(Buffer.concat([servicePreamble(options.service), refs]), {
    headers: {
      "content-type": `application/x-${options.service}-advertisement`,
      ...NO_CACHE_HEADERS,
    },
  });
}
