/**
 * The zygote launcher (WIKI_LAUNCHER=zygote): one Python process (otterwiki/zygote.py) that has
 * imported and warmed up what every Otterwiki needs, and forks one child per wiki on request.
 * A child is as isolated as a gunicorn of its own (its settings, secret, cookie, socket, cwd,
 * environment, log and process group; a crash ends only it) but shares the zygote's memory
 * pages and skips most of the import: measured in /work/shared/notes/otterwiki.md.
 *
 * Bun did not spawn the children, so it cannot await them: the zygote reports each fork, each
 * child's readiness (the child says so once it listens, so nothing is polled) and each exit over
 * its stdout. A zygote that dies takes its children along (PR_SET_PDEATHSIG); all of them are
 * reported ended, and it is started again. Closing its stdin (the server exiting, even killed)
 * makes it end every child and exit.
 */
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../lib/log.ts";
import { SECOND } from "../lib/time.ts";
import {
  MAX_SOCKET_PATH_BYTES,
  type OtterwikiLaunch,
  OtterwikiStartError,
  pidFileOf,
  readLogTail,
  reapIfStill,
  signalGroup,
  stopProcessGroup,
} from "./otterwiki-process.ts";
import { backoffDelay, type RunningOtterwiki, STABLE_AFTER } from "./process-pool.ts";

export interface ZygoteOptions {
  /** `<VENV_DIR>/bin/python`. */
  python: string;
  /** Folder holding zygote.py, wiki_child.py and wikibot_wsgi.py. */
  wrapperDir: string;
  /** DATA_DIR/run: the zygote's pid file, log and the shared compiled-template cache. */
  runDir: string;
  logger: Logger;
}

/** What ps and `admin doctor` see as the zygote's command line (zygote.py sets it). */
export const ZYGOTE_TITLE = "wikibot-otterwiki-zygote";
export const ZYGOTE_PID_FILE = "zygote.pid";
const START_TIMEOUT = 30 * SECOND;
const STOP_GRACE = 6 * SECOND;
/** Room each child's title overwrites (`wikibot-otterwiki unix:<socket>`; sockets ≤ 107 bytes). */
const TITLE_ROOM = ".".repeat(160);

type ZygoteEvent =
  | { event: "zygote-ready"; pid: number }
  | { event: "spawn-failed"; socket: string }
  | { event: "spawned"; socket: string; pid: number }
  | { event: "ready"; pid: number }
  | { event: "exit"; pid: number; code: number }
  | { event: "spare"; state: SpareState };

/** Whether a wiki started now finds a spare ready to become its process (zygote.py). */
export type SpareState = "starting" | "ready" | "none";
const SPARE_STATES: readonly SpareState[] = ["starting", "ready", "none"];

class ZygoteChild implements RunningOtterwiki {
  private resolveExit: (code: number) => void = () => {};
  private resolveReady: (ready: boolean) => void = () => {};
  readonly exited: Promise<number>;
  /** True once listening; false if it ended first. */
  readonly ready: Promise<boolean>;
  exitCode: number | null = null;

  constructor(
    readonly pid: number,
    readonly socket: string,
  ) {
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
    this.ready = new Promise((resolve) => {
      this.resolveReady = resolve;
    });
  }

  markReady(): void {
    this.resolveReady(true);
  }

  markExited(code: number): void {
    if (this.exitCode !== null) return;
    this.exitCode = code;
    this.resolveReady(false);
    this.resolveExit(code);
  }

  /** SIGTERM (finishes the request in progress), SIGKILL to its group if that takes too long. */
  async stop(): Promise<void> {
    await stopProcessGroup(this.pid, this.exitCode !== null, this.exited, this.socket);
  }
}

function spawnZygote(options: ZygoteOptions, logFile: string) {
  return Bun.spawn(
    [options.python, join(options.wrapperDir, "zygote.py"), options.runDir, TITLE_ROOM],
    {
      cwd: options.runDir,
      // Complete: nothing of ours or of the host reaches Python; each child gets its own.
      env: {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: options.runDir,
        LANG: "C.UTF-8",
        PYTHONUTF8: "1",
        PYTHONDONTWRITEBYTECODE: "1",
      },
      stdin: "pipe",
      stdout: "pipe",
      stderr: Bun.file(logFile),
      // Its own process group, like each of its children.
      detached: true,
    },
  );
}

type ZygoteProcess = ReturnType<typeof spawnZygote>;

interface Running {
  process: ZygoteProcess;
  ready: Promise<void>;
  isReady: boolean;
  startedAt: number;
  children: Map<number, ZygoteChild>;
  /** Forks asked for and not yet reported, by socket. */
  forking: Map<string, (child: ZygoteChild | null) => void>;
  /** A child's "ready" may overtake the zygote's "spawned" for it. */
  readyEarly: Set<number>;
  spare: SpareState;
}

export class Zygote {
  private running: Running | null = null;
  private closed = false;
  private failures = 0;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  readonly logFile: string;
  readonly pidFile: string;

  constructor(private readonly options: ZygoteOptions) {
    this.logFile = join(options.runDir, "zygote.log");
    this.pidFile = join(options.runDir, ZYGOTE_PID_FILE);
  }

  /** For /health: whether a wiki started now would only wait for its own fork. */
  state(): "starting" | "ready" | "down" {
    if (this.running === null) return "down";
    return this.running.isReady ? "ready" : "starting";
  }

  /** For /health: whether a wiki started now would find a spare ready to become its process. */
  spareState(): SpareState {
    return this.running?.spare ?? "none";
  }

  /** Starts the zygote now (e.g. at server start), so the first wiki does not wait for it. */
  warmUp(): void {
    try {
      this.ensure();
    } catch (error) {
      this.options.logger.error("the Otterwiki zygote could not start", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** Forks the wiki's process and resolves once it listens; throws OtterwikiStartError. */
  async start(launch: OtterwikiLaunch): Promise<RunningOtterwiki> {
    if (Buffer.byteLength(launch.socket) > MAX_SOCKET_PATH_BYTES) {
      throw new OtterwikiStartError(
        `socket path ${launch.socket} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter DATA_DIR`,
        "",
      );
    }
    if (this.closed) throw new OtterwikiStartError("the zygote is shut down", "");
    mkdirSync(launch.stateDir, { recursive: true, mode: 0o700 });
    rmSync(launch.socket, { force: true });
    const running = this.ensure();
    try {
      await running.ready;
    } catch (error) {
      throw new OtterwikiStartError(
        error instanceof Error ? error.message : String(error),
        readLogTail(this.logFile),
      );
    }
    const logFile = join(launch.stateDir, "otterwiki.log");
    // The child reads (and removes) it; the zygote never holds a wiki's secret (wiki_child.py).
    const envFile = join(launch.stateDir, "launch-env.json");
    writeFileSync(`${envFile}.tmp`, JSON.stringify(launch.env), { mode: 0o600 });
    renameSync(`${envFile}.tmp`, envFile);
    // Resolved with the child object itself: its "exit" may arrive in the same read as its
    // "spawned" and remove it from `children` before this continues.
    const child = await new Promise<ZygoteChild | null>((resolve) => {
      running.forking.set(launch.socket, resolve);
      this.send(running, {
        op: "spawn",
        socket: launch.socket,
        cwd: launch.wikiDir,
        log: logFile,
        envFile,
        templateCache: join(this.options.runDir, "templates"),
      });
    });
    if (child === null) {
      rmSync(envFile, { force: true });
      throw new OtterwikiStartError(
        "the zygote could not fork (or ended first)",
        readLogTail(this.logFile),
      );
    }
    const timeout = Bun.sleep(START_TIMEOUT).then(() => "timeout" as const);
    const outcome = await Promise.race([child.ready, timeout]);
    if (outcome === true) {
      // The child created it 0600 (umask); this only guards against a changed default.
      if (existsSync(launch.socket)) chmodSync(launch.socket, 0o600);
      return child;
    }
    await child.stop();
    // A child that died before reading it leaves the wiki's secret in it.
    rmSync(envFile, { force: true });
    throw new OtterwikiStartError(
      outcome === "timeout"
        ? `Otterwiki was not ready after ${START_TIMEOUT / SECOND} s`
        : "Otterwiki exited during start-up",
      readLogTail(logFile),
    );
  }

  /** Ends every child and the zygote; for server shutdown (after the pool has stopped its own). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const running = this.running;
    if (running === null) return;
    running.process.stdin.end();
    const ended = await Promise.race([
      running.process.exited.then(() => true),
      Bun.sleep(STOP_GRACE + 2 * SECOND).then(() => false),
    ]);
    if (!ended) signalGroup(running.process.pid, "SIGKILL");
    await running.process.exited;
  }

  /** SIGKILL to the zygote at once, synchronously (its children die with it); whether it ran. */
  killNow(): boolean {
    this.closed = true;
    if (this.restartTimer !== null) clearTimeout(this.restartTimer);
    const running = this.running;
    if (running !== null) {
      signalGroup(running.process.pid, "SIGKILL");
      for (const child of running.children.values()) signalGroup(child.pid, "SIGKILL");
    }
    rmSync(this.pidFile, { force: true });
    return running !== null && running.process.exitCode === null;
  }

  private ensure(): Running {
    if (this.running !== null) return this.running;
    mkdirSync(this.options.runDir, { recursive: true, mode: 0o700 });
    let process: ZygoteProcess;
    try {
      process = spawnZygote(this.options, this.logFile);
    } catch (error) {
      throw new OtterwikiStartError(
        `could not run ${this.options.python}: ${error instanceof Error ? error.message : String(error)} (run \`bun run setup\` to set up .venv)`,
        "",
      );
    }
    writeFileSync(this.pidFile, `${process.pid}\n`, { mode: 0o600 });
    let markReady: () => void = () => {};
    let markFailed: (error: Error) => void = () => {};
    const running: Running = {
      process,
      isReady: false,
      ready: new Promise<void>((resolve, reject) => {
        markReady = resolve;
        markFailed = reject;
      }),
      startedAt: Date.now(),
      children: new Map(),
      forking: new Map(),
      readyEarly: new Set(),
      spare: "none",
    };
    running.ready.catch(() => undefined);
    this.running = running;
    const timer = setTimeout(() => {
      markFailed(new Error(`the Otterwiki zygote was not ready after ${START_TIMEOUT / SECOND} s`));
      signalGroup(process.pid, "SIGKILL");
    }, START_TIMEOUT);
    void this.readEvents(running, (event) => {
      if (event.event === "zygote-ready") {
        clearTimeout(timer);
        running.isReady = true;
        markReady();
      } else this.onEvent(running, event);
    });
    process.exited.then((code) => {
      clearTimeout(timer);
      markFailed(new Error(`the Otterwiki zygote exited (${code}) before it was ready`));
      this.onZygoteExit(running, code);
    });
    return running;
  }

  private send(running: Running, request: Record<string, unknown>): void {
    try {
      running.process.stdin.write(`${JSON.stringify(request)}\n`);
      running.process.stdin.flush();
    } catch {
      // The zygote is gone; its exit handler answers every pending fork.
    }
  }

  private async readEvents(running: Running, onEvent: (event: ZygoteEvent) => void) {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of running.process.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const event = parseEvent(line);
        if (event !== null) onEvent(event);
        else this.options.logger.warn("unexpected line from the Otterwiki zygote", { line });
        newline = buffered.indexOf("\n");
      }
    }
  }

  private onEvent(running: Running, event: ZygoteEvent): void {
    if (event.event === "spawned") {
      const child = new ZygoteChild(event.pid, event.socket);
      running.children.set(event.pid, child);
      // Written as the fork is known, so killNow() and the next start's reaping can find it.
      writeFileSync(pidFileOf(event.socket), `${event.pid}\n`, { mode: 0o600 });
      if (running.readyEarly.delete(event.pid)) child.markReady();
      running.forking.get(event.socket)?.(child);
      running.forking.delete(event.socket);
    } else if (event.event === "spawn-failed") {
      running.forking.get(event.socket)?.(null);
      running.forking.delete(event.socket);
    } else if (event.event === "ready") {
      const child = running.children.get(event.pid);
      if (child === undefined) running.readyEarly.add(event.pid);
      else child.markReady();
    } else if (event.event === "exit") {
      running.children.get(event.pid)?.markExited(event.code);
      running.children.delete(event.pid);
    } else if (event.event === "spare") {
      running.spare = event.state;
    }
  }

  private onZygoteExit(running: Running, code: number): void {
    if (this.running === running) this.running = null;
    rmSync(this.pidFile, { force: true });
    for (const resolve of running.forking.values()) resolve(null);
    running.forking.clear();
    for (const child of running.children.values()) {
      // PR_SET_PDEATHSIG has killed it already; this covers a child still between fork and prctl.
      signalGroup(child.pid, "SIGKILL");
      child.markExited(-9);
    }
    running.children.clear();
    if (this.closed) return;
    const lived = Date.now() - running.startedAt;
    this.failures = lived >= STABLE_AFTER ? 1 : this.failures + 1;
    const delay = backoffDelay(this.failures);
    this.options.logger.warn("the Otterwiki zygote exited; starting it again", {
      code,
      restart_in_ms: delay,
      log: readLogTail(this.logFile),
    });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.closed) this.warmUp();
    }, delay);
    this.restartTimer.unref();
  }
}

function parseEvent(line: string): ZygoteEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const event = Reflect.get(value, "event");
  if (event === "spare") {
    const state = SPARE_STATES.find((known) => known === Reflect.get(value, "state"));
    return state === undefined ? null : { event, state };
  }
  if (event === "spawn-failed") {
    const socket = Reflect.get(value, "socket");
    return typeof socket === "string" ? { event, socket } : null;
  }
  const pid = Reflect.get(value, "pid");
  if (typeof pid !== "number" || !Number.isInteger(pid) || pid <= 1) return null;
  if (event === "zygote-ready" || event === "ready") return { event, pid };
  if (event === "spawned") {
    const socket = Reflect.get(value, "socket");
    return typeof socket === "string" ? { event, socket, pid } : null;
  }
  if (event === "exit") {
    const code = Reflect.get(value, "code");
    return typeof code === "number" ? { event, pid, code } : null;
  }
  return null;
}

/**
 * Ends a zygote a previous run of the server left behind (it was killed and the zygote had not
 * yet noticed): its pid file is only trusted while that pid's command line is still the
 * zygote's for this run folder, so a recycled pid is never hit. Returns whether one was ended.
 */
export function reapStaleZygote(runDir: string): boolean {
  const pidFile = join(runDir, ZYGOTE_PID_FILE);
  if (!existsSync(pidFile)) return false;
  return reapIfStill(pidFile, (argv) => argv[0] === ZYGOTE_TITLE && argv[1] === runDir);
}
