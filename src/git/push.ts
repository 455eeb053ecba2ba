/**
 * `git push`: receive-pack under the wiki's write gate (DESIGN §4). The request is first spooled
 * to disk, so a slow network never holds the gate; then, under the gate, receive-pack runs on the
 * spooled request and the page index is brought up to the new HEAD before the response ends.
 * This file owns the push's consistency rules; who may push is decided in git-access.ts.
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { errorFields, type Logger } from "../lib/log.ts";
import { randomId } from "../lib/random.ts";
import { PageError } from "../pages/page-error.ts";
import type { PageStore } from "../pages/page-store.ts";
import { readHead, repairWorkingTree } from "../repo/repository.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { GitHttpError } from "./git-http-error.ts";
import { InactivityWatchdog } from "./inactivity-watchdog.ts";
import { sideBandMessage } from "./pkt-line.ts";
import { parseReceiveCommands, type RefUpdateCommand, ZERO_OID } from "./receive-commands.ts";
import { NO_CACHE_HEADERS, receivePackPolicy, runService, type ServiceExit } from "./smart-http.ts";

/** Room for the ref-update commands in front of the pack when capping the spooled request. */
const COMMANDS_ALLOWANCE = 64 * 1024;

export interface PushDeps {
  pages: PageStore;
  maxPackBytes: number;
  inactivityMs: number;
  logger: Logger;
  spoolDir: string;
  /** Re-checks, under the gate, that the pusher still may push (tier or role may have changed). */
  reauthorize: () => void;
}

interface SpooledRequest {
  path: string;
  bytes: number;
  /** The client sent more than the cap; receive-pack will refuse the pack by its size. */
  truncated: boolean;
}

/** Empties the spool directory: files left there belong to pushes a crash interrupted. */
export function prepareSpoolDir(spoolDir: string): void {
  mkdirSync(spoolDir, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(spoolDir)) rmSync(join(spoolDir, name), { force: true });
}

export async function receivePack(
  deps: PushDeps,
  wiki: Wiki,
  body: ReadableStream<Uint8Array>,
  pusher: string,
  gitProtocol: string | null,
): Promise<Response> {
  const spool = await spoolRequest(deps, body);
  let handedOver = false;
  try {
    // remote-curl.c POSTs a bare flush before a chunked push to settle authentication; it
    // carries no commands, and receive-pack would answer it with nothing.
    if (spool.bytes === 4 && (await Bun.file(spool.path).text()) === "0000")
      return resultResponse(null);
    const response = await runUnderGate(deps, wiki, spool, pusher, gitProtocol);
    handedOver = true;
    return response;
  } finally {
    if (!handedOver) rmSync(spool.path, { force: true });
  }
}

/** Copies the request body to a file, stopping a little past the pack limit. */
async function spoolRequest(
  deps: PushDeps,
  body: ReadableStream<Uint8Array>,
): Promise<SpooledRequest> {
  const path = join(deps.spoolDir, `${randomId(16)}.push`);
  const cap = deps.maxPackBytes + COMMANDS_ALLOWANCE;
  const reader = body.getReader();
  const watchdog = new InactivityWatchdog(deps.inactivityMs, () => {
    reader.cancel().catch(() => undefined);
  });
  const sink = Bun.file(path).writer();
  let bytes = 0;
  let truncated = false;
  try {
    watchdog.touch();
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw new GitHttpError(
          400,
          "the push was interrupted before its data arrived",
          {},
          String(error),
        );
      }
      if (chunk.done) break;
      watchdog.touch();
      const room = cap - bytes;
      if (chunk.value.byteLength > room) {
        sink.write(chunk.value.subarray(0, room));
        bytes += room;
        truncated = true;
        await reader.cancel().catch(() => undefined);
        break;
      }
      sink.write(chunk.value);
      bytes += chunk.value.byteLength;
    }
    await sink.end();
    if (watchdog.expired) {
      throw new GitHttpError(
        408,
        `the push stalled: no data arrived for ${Math.round(deps.inactivityMs / 1000)} s`,
      );
    }
  } catch (error) {
    await Promise.resolve(sink.end()).catch(() => undefined);
    rmSync(path, { force: true });
    throw error;
  } finally {
    watchdog.stop();
  }
  return { path, bytes, truncated };
}

/**
 * Waits for the gate, then answers with receive-pack's output as it comes. The response ends only
 * after the page index has caught up with the push, so a client that reads right after `git
 * push` returns sees its pages. Refusals found before receive-pack starts become HTTP errors.
 */
async function runUnderGate(
  deps: PushDeps,
  wiki: Wiki,
  spool: SpooledRequest,
  pusher: string,
  gitProtocol: string | null,
): Promise<Response> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  // receive-pack's output is small (progress, then the report): queue it rather than let a slow
  // client push back on a process that holds the gate.
  const send = (chunk: Uint8Array) => {
    writer.write(chunk).catch(() => undefined);
  };
  const started = Promise.withResolvers<void>();
  let streaming = false;
  const repo = deps.pages.repo(wiki);

  const work = deps.pages.exclusive(wiki, async () => {
    deps.reauthorize();
    streaming = true;
    started.resolve();
    const before = readHead(repo);
    const commands = await readCommands(spool.path);
    const stale = staleMainUpdate(commands, before);
    if (stale !== null && commands.kind === "commands" && wantsSideBand(commands.capabilities)) {
      send(
        sideBandMessage(
          "main moved on while you were pushing (another change landed first): pull, then push again",
        ),
      );
    }
    const run = runService({
      service: "git-receive-pack",
      gitDir: join(repo, ".git"),
      // updateInstead rewrites the working tree before it checks the ref's old value (git 2.39,
      // builtin/receive-pack.c `update`), so a push that lost a race would leave the tree at the
      // pusher's commit. For a stale push, skip the checkout and let the ref update refuse it.
      policy: receivePackPolicy(deps.maxPackBytes, stale === null ? "updateInstead" : "ignore"),
      gitProtocol,
      stdin: Bun.file(spool.path),
      inactivityMs: deps.inactivityMs,
    });
    // Keep draining even if the client left: receive-pack has the whole request and finishes.
    for await (const chunk of run.output) send(chunk);
    const exit = await run.finished;
    const after = readHead(repo);
    if (after === before) {
      // Nothing landed. Whatever the reason (a refusal, a kill), the tree must equal HEAD again.
      const { repaired } = await repairWorkingTree(repo);
      if (repaired)
        deps.logger.warn("git push left the working tree dirty; reset it", { wiki: wiki.slug });
    }
    logPush(deps.logger, wiki, pusher, before, after, spool, exit);
  });

  work.then(
    () => writer.close().catch(() => undefined),
    (error: unknown) => {
      // Before streaming, the caller turns the error into a response; after, only the log sees it.
      if (!streaming) started.reject(error);
      else deps.logger.error("git push failed", { wiki: wiki.slug, ...errorFields(error) });
      writer.abort(error).catch(() => undefined);
    },
  );
  work.finally(() => rmSync(spool.path, { force: true })).catch(() => undefined);

  try {
    await started.promise;
  } catch (error) {
    if (error instanceof PageError && error.code === "shutting_down") {
      throw new GitHttpError(503, "the server is restarting: push again in a moment", {
        "retry-after": "5",
      });
    }
    throw error;
  }
  return resultResponse(readable);
}

function resultResponse(body: ReadableStream<Uint8Array> | null): Response {
  return new Response(body, {
    headers: { "content-type": "application/x-git-receive-pack-result", ...NO_CACHE_HEADERS },
  });
}

async function readCommands(path: string) {
  // A push names a handful of refs; 1 MiB covers thousands of commands.
  return parseReceiveCommands(
    await Bun.file(path)
      .slice(0, 1024 * 1024)
      .bytes(),
  );
}

/** The update of `main` whose old value is no longer main's value, if the push has one. */
function staleMainUpdate(
  commands: ReturnType<typeof parseReceiveCommands>,
  head: string | null,
): RefUpdateCommand | null {
  if (commands.kind !== "commands") return null;
  const update = commands.commands.find((command) => command.ref === "refs/heads/main");
  if (update === undefined) return null;
  return update.oldOid === (head ?? ZERO_OID) ? null : update;
}

function wantsSideBand(capabilities: readonly string[]): boolean {
  return capabilities.includes("side-band-64k") || capabilities.includes("side-band");
}

function logPush(
  logger: Logger,
  wiki: Wiki,
  pusher: string,
  before: string | null,
  after: string | null,
  spool: SpooledRequest,
  exit: ServiceExit,
): void {
  const fields = {
    wiki: wiki.slug,
    pusher,
    from: before,
    to: after,
    bytes: spool.bytes,
    truncated: spool.truncated,
    exit_code: exit.exitCode,
    signal: exit.signal,
    timed_out: exit.timedOut,
  };
  if (exit.exitCode === 0) logger.info(after === before ? "git push refused" : "git push", fields);
  else logger.warn("git receive-pack failed", { ...fields, stderr: exit.stderr.trim() });
}
