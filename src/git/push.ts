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
import { MAX_PAGE_BYTES } from "../pages/page-rules.ts";
import type { PageStore } from "../pages/page-store.ts";
import { readHead, repairWorkingTree } from "../repo/repository.ts";
import type { PlanPolicy } from "../wikis/plan-policy.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import { GitHttpError } from "./git-http-error.ts";
import { InactivityWatchdog } from "./inactivity-watchdog.ts";
import { packRefusalMessage, scanPushedPack } from "./pack-scan.ts";
import { sideBandMessage } from "./pkt-line.ts";
import { pushPlanEnvironment } from "./push-check.ts";
import { parseReceiveCommands, type RefUpdateCommand, ZERO_OID } from "./receive-commands.ts";
import { refusedPushResult } from "./receive-report.ts";
import { NO_CACHE_HEADERS, receivePackPolicy, runService, type ServiceExit } from "./smart-http.ts";

/** Room for the ref-update commands in front of the pack when capping the spooled request. */
const COMMANDS_ALLOWANCE = 64 * 1024;

/**
 * The most bytes one push may make git inflate and rebuild (pack-scan.ts). index-pack rebuilds
 * ~200 MB/s of delta results (measured: 200 deltas making 4 MiB each, a 32 KB pack, 4.2 s), so
 * this keeps one push under the gate to about ten seconds. The whole history of the bench wiki
 * (5,000 commits over a 2,000-page folder, a 5 MB pack) makes 323 MB.
 */
const MAX_PUSH_INFLATED_BYTES = 2 * 1024 * 1024 * 1024;

export interface PushDeps {
  pages: PageStore;
  maxPackBytes: number;
  /** The largest file other than a page a push may hold. */
  maxFileBytes: number;
  /** The server's hook directory (push-hook.ts). */
  hooksDir: string;
  inactivityMs: number;
  logger: Logger;
  spoolDir: string;
  /**
   * Re-checks, under the gate, that the pusher still may push (tier or role may have changed);
   * returns the wiki as it is now.
   */
  reauthorize: () => Wiki;
  plans: PlanPolicy;
}

interface SpooledRequest {
  path: string;
  bytes: number;
  /** The client sent more than the cap; receive-pack will refuse the pack by its size. */
  truncated: boolean;
  /** Time spent reading the pack before the gate (pack-scan.ts). */
  scanMs: number;
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
    const refusal = await refuseOversizedObject(deps, wiki, spool, pusher);
    if (refusal !== null) return refusal;
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
  return { path, bytes, truncated, scanMs: 0 };
}

/**
 * Refuses, before the gate, a push that carries an object larger than any file may be: receive-
 * pack would inflate all of it under the gate before the pre-receive hook could refuse it by size.
 */
async function refuseOversizedObject(
  deps: PushDeps,
  wiki: Wiki,
  spool: SpooledRequest,
  pusher: string,
): Promise<Response | null> {
  const started = performance.now();
  const scan = await scanPushedPack(spool.path, {
    maxObjectBytes: Math.max(deps.maxFileBytes, MAX_PAGE_BYTES),
    maxInflatedBytes: MAX_PUSH_INFLATED_BYTES,
  });
  spool.scanMs = Math.round(performance.now() - started);
  if (scan.kind !== "oversized" && scan.kind !== "too-much-to-unpack") return null;
  const message = packRefusalMessage(scan);
  deps.logger.info("git push refused", {
    wiki: wiki.slug,
    pusher,
    bytes: spool.bytes,
    reason: message,
    scan_ms: spool.scanMs,
    gate_held_ms: 0,
  });
  const commands = await readCommands(spool.path);
  if (commands.kind !== "commands") throw new GitHttpError(413, message);
  return resultResponse(
    refusedPushResult({
      commands: commands.commands,
      capabilities: commands.capabilities,
      messages: [
        `refused: ${message}`,
        scan.kind === "oversized"
          ? "nothing was pushed: take that file out of your commits and push again"
          : "nothing was pushed",
      ],
      reason: scan.kind === "oversized" ? "object over the size limit" : "push too large to unpack",
    }),
  );
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
  let enteredGateAt = 0;
  let outcome: PushOutcome | null = null;

  const work = deps.pages.exclusive(wiki, async () => {
    enteredGateAt = performance.now();
    const current = deps.reauthorize();
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
      policy: receivePackPolicy({
        maxPackBytes: deps.maxPackBytes,
        checkout: stale === null ? "updateInstead" : "ignore",
        hooksDir: deps.hooksDir,
        maxFileBytes: deps.maxFileBytes,
      }),
      gitProtocol,
      stdin: Bun.file(spool.path),
      inactivityMs: deps.inactivityMs,
      // The hook holds the push to the plan; the index matches HEAD under the gate.
      env: pushPlanEnvironment({
        slug: current.slug,
        plan: deps.plans.planOf(current.tier),
        before: deps.pages.index.totals(current.id),
      }),
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
    outcome = { before, after, exit };
  });

  work.then(
    () => {
      // Logged once the gate is open again, so the hold time covers the index sync as well.
      if (outcome !== null) {
        const heldMs = Math.round(performance.now() - enteredGateAt);
        logPush(deps.logger, wiki, pusher, spool, outcome, heldMs);
      }
      writer.close().catch(() => undefined);
    },
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

function resultResponse(
  body: ReadableStream<Uint8Array> | Uint8Array<ArrayBuffer> | null,
): Response {
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

interface PushOutcome {
  before: string | null;
  after: string | null;
  exit: ServiceExit;
}

function logPush(
  logger: Logger,
  wiki: Wiki,
  pusher: string,
  spool: SpooledRequest,
  { before, after, exit }: PushOutcome,
  gateHeldMs: number,
): void {
  const fields = {
    wiki: wiki.slug,
    pusher,
    from: before,
    to: after,
    bytes: spool.bytes,
    truncated: spool.truncated,
    scan_ms: spool.scanMs,
    exit_code: exit.exitCode,
    signal: exit.signal,
    timed_out: exit.timedOut,
    gate_held_ms: gateHeldMs,
  };
  if (exit.exitCode === 0) logger.info(after === before ? "git push refused" : "git push", fields);
  else logger.warn("git receive-pack failed", { ...fields, stderr: exit.stderr.trim() });
}
