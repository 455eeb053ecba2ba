/**
 * The Otterwiki processes of active wikis (DESIGN §1): spawned on a wiki's first request
 * (concurrent first requests share one spawn), stopped after the idle time, at most `max`
 * alive (starting and stopping ones count; the least recently used idle one is stopped to make
 * room), restarted with backoff after dying, all stopped on shutdown (or killed at once when the
 * server cannot wait). A request holds a lease for as long as it talks to the process, so a
 * process is never stopped under a request.
 */
import type { Logger } from "../lib/log.ts";
import { SECOND } from "../lib/time.ts";
import type { Wiki } from "../wikis/wiki-store.ts";
import {
  killOtterwikiNow,
  type OtterwikiLaunch,
  OtterwikiProcess,
  OtterwikiStartError,
} from "./otterwiki-process.ts";

/** What the pool needs of a started process (OtterwikiProcess; a stand-in in the pool's tests). */
export interface RunningOtterwiki {
  readonly pid: number;
  readonly socket: string;
  readonly exited: Promise<number>;
  stop(): Promise<void>;
}

/** Why no process can serve a wiki right now. */
export class WikiProcessError extends Error {
  override name = "WikiProcessError";
  constructor(
    readonly kind: "start_failed" | "backoff" | "shutting_down",
    message: string,
    /** Seconds after which a retry may succeed. */
    readonly retryAfterSeconds: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Lease {
  readonly socket: string;
  readonly pid: number;
  /** Ends the lease; idempotent. */
  release(): void;
  /** Tells the pool the process failed this request (connection refused/reset): it is replaced. */
  reportBroken(): void;
}

export interface ProcessPoolOptions {
  max: number;
  idleMs: number;
  launchFor(wiki: Wiki): OtterwikiLaunch;
  logger: Logger;
  /** How a process is started; tests of the pool itself may pass their own. */
  start?: (launch: OtterwikiLaunch) => Promise<RunningOtterwiki>;
}

export interface PoolSnapshot {
  max: number;
  live: number;
  peak_live: number;
  started: number;
  crashed: number;
  processes: {
    wiki: string;
    state: EntryState;
    pid: number | null;
    in_flight: number;
    idle_seconds: number;
  }[];
}

type EntryState = "starting" | "ready" | "stopping";

interface Entry {
  wikiId: number;
  slug: string;
  state: EntryState;
  /** Known from the moment the process is spawned, before it is ready. */
  socket: string | null;
  process: RunningOtterwiki | null;
  ready: Promise<void>;
  stopped: Promise<void> | null;
  leases: number;
  lastUsed: number;
  /** Order of last use; a counter, because several uses can share a millisecond. */
  useOrder: number;
  readyAt: number;
}

interface Failures {
  count: number;
  retryAt: number;
}

/** A process that served this long before dying starts a fresh backoff sequence. */
export const STABLE_AFTER = 60 * SECOND;
const MAX_BACKOFF = 30 * SECOND;
/** A request waits out a backoff this short instead of getting a 503. */
const MAX_WAIT_IN_REQUEST = 2 * SECOND;

export function backoffDelay(consecutiveFailures: number): number {
  if (consecutiveFailures <= 1) return 0;
  return Math.min(MAX_BACKOFF, 500 * 2 ** (consecutiveFailures - 2));
}

export class OtterwikiPool {
  private readonly entries = new Map<number, Entry>();
  private readonly failures = new Map<number, Failures>();
  private waiters: (() => void)[] = [];
  private closed = false;
  private peakLive = 0;
  private uses = 0;
  private startedCount = 0;
  private crashedCount = 0;
  private readonly reaper: ReturnType<typeof setInterval>;
  private readonly startProcess: (launch: OtterwikiLaunch) => Promise<RunningOtterwiki>;

  constructor(private readonly options: ProcessPoolOptions) {
    this.startProcess = options.start ?? OtterwikiProcess.start;
    const interval = Math.max(SECOND, Math.min(options.idleMs / 4, 30 * SECOND));
    this.reaper = setInterval(() => this.stopIdle(), interval);
    this.reaper.unref();
  }

  /** A lease on the wiki's running process, starting it (and making room) when needed. */
  async acquire(wiki: Wiki): Promise<Lease> {
    for (;;) {
      if (this.closed) throw shuttingDown();
      const entry = this.entries.get(wiki.id);
      if (entry?.state === "ready" && entry.process !== null)
        return this.lease(entry, entry.process);
      if (entry?.state === "starting") {
        await entry.ready;
        continue;
      }
      if (entry?.state === "stopping") {
        await entry.stopped;
        continue;
      }
      await this.waitOutBackoff(wiki);
      if (this.entries.has(wiki.id)) continue;
      if (this.entries.size >= this.options.max) {
        const victim = this.leastRecentlyUsedIdle();
        if (victim !== null) await this.stopEntry(victim, "making room");
        else await this.nextChange();
        continue;
      }
      this.begin(wiki);
    }
  }

  /**
   * Starts the wiki's process without waiting, when a request for it is about to come (the
   * visitor is on a redirect through the apex): its start then overlaps the redirects.
   */
  prewarm(wiki: Wiki): void {
    // A full pool would evict (or queue behind) other wikis' processes for a visitor who may
    // never come back: a stranger's redirects must not churn the pool without holding a socket.
    if (this.closed || this.entries.has(wiki.id) || this.entries.size >= this.options.max) return;
    this.acquire(wiki).then(
      (lease) => lease.release(),
      () => undefined,
    );
  }

  snapshot(): PoolSnapshot {
    const now = Date.now();
    return {
      max: this.options.max,
      live: this.entries.size,
      peak_live: this.peakLive,
      started: this.startedCount,
      crashed: this.crashedCount,
      processes: [...this.entries.values()].map((entry) => ({
        wiki: entry.slug,
        state: entry.state,
        pid: entry.process?.pid ?? null,
        in_flight: entry.leases,
        idle_seconds: entry.leases > 0 ? 0 : Math.round((now - entry.lastUsed) / SECOND),
      })),
    };
  }

  /** Stops every process and refuses new leases; for server shutdown. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.reaper);
    this.notify();
    const pending = [...this.entries.values()].map(async (entry) => {
      await entry.ready.catch(() => undefined);
      const current = this.entries.get(entry.wikiId);
      if (current !== undefined) await this.stopEntry(current, "shutdown");
    });
    await Promise.all(pending);
  }

  /**
   * Kills every process at once, synchronously, whether starting, ready or stopping, and refuses
   * new leases: for an exit that cannot wait for close() (a second stop signal, the shutdown
   * deadline), so no Otterwiki outlives the server. Returns how many were killed.
   */
  killNow(): number {
    this.closed = true;
    clearInterval(this.reaper);
    let killed = 0;
    for (const entry of this.entries.values()) {
      if (entry.socket !== null && killOtterwikiNow(entry.socket)) killed += 1;
    }
    return killed;
  }

  /** Stops the wiki's process if one runs (e.g. after its settings changed). */
  async stop(wikiId: number): Promise<void> {
    const entry = this.entries.get(wikiId);
    if (entry === undefined) return;
    await entry.ready.catch(() => undefined);
    const current = this.entries.get(wikiId);
    if (current !== undefined) await this.stopEntry(current, "requested");
  }

  private begin(wiki: Wiki): void {
    const entry: Entry = {
      wikiId: wiki.id,
      slug: wiki.slug,
      state: "starting",
      socket: null,
      process: null,
      ready: Promise.resolve(),
      stopped: null,
      leases: 0,
      lastUsed: Date.now(),
      useOrder: ++this.uses,
      readyAt: 0,
    };
    this.entries.set(wiki.id, entry);
    this.peakLive = Math.max(this.peakLive, this.entries.size);
    entry.ready = this.startEntry(entry, wiki);
    // Waiters re-check after the start settles; a failure is reported to each of them.
    entry.ready.catch(() => undefined);
  }

  private async startEntry(entry: Entry, wiki: Wiki): Promise<void> {
    let started: RunningOtterwiki;
    try {
      const launch = this.options.launchFor(wiki);
      // Set before the first await, so killNow() can reach a process that is still starting.
      entry.socket = launch.socket;
      started = await this.startProcess(launch);
    } catch (error) {
      this.entries.delete(entry.wikiId);
      this.recordFailure(entry.wikiId, 0);
      this.notify();
      this.options.logger.error("otterwiki failed to start", {
        wiki: entry.slug,
        error: error instanceof Error ? error.message : String(error),
        log: error instanceof OtterwikiStartError ? error.logTail : undefined,
      });
      throw new WikiProcessError(
        "start_failed",
        "the wiki's page server could not start",
        Math.max(1, Math.ceil(backoffDelay(this.failures.get(entry.wikiId)?.count ?? 1) / SECOND)),
        { cause: error },
      );
    }
    this.startedCount += 1;
    entry.process = started;
    entry.readyAt = Date.now();
    entry.lastUsed = entry.readyAt;
    entry.state = this.closed ? "stopping" : "ready";
    if (this.closed) entry.stopped = this.finishStop(entry, started, "shutdown");
    this.options.logger.info("otterwiki started", { wiki: entry.slug, pid: started.pid });
    started.exited.then((code) => this.onExit(entry, started, code));
    this.notify();
  }

  private onExit(entry: Entry, exited: RunningOtterwiki, code: number): void {
    if (entry.state === "stopping" || this.entries.get(entry.wikiId) !== entry) return;
    this.crashedCount += 1;
    this.options.logger.warn("otterwiki exited unexpectedly", {
      wiki: entry.slug,
      pid: exited.pid,
      code,
    });
    entry.state = "stopping";
    // Reap an orphaned worker and the socket; the next request starts a new process.
    entry.stopped = exited.stop().finally(() => {
      if (this.entries.get(entry.wikiId) === entry) this.entries.delete(entry.wikiId);
      this.recordFailure(entry.wikiId, Date.now() - entry.readyAt);
      this.notify();
    });
  }

  private lease(entry: Entry, running: RunningOtterwiki): Lease {
    entry.leases += 1;
    entry.lastUsed = Date.now();
    entry.useOrder = ++this.uses;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      entry.leases -= 1;
      entry.lastUsed = Date.now();
      entry.useOrder = ++this.uses;
      this.notify();
    };
    return {
      socket: running.socket,
      pid: running.pid,
      release,
      reportBroken: () => {
        if (entry.state === "ready" && entry.process === running) {
          this.options.logger.warn("otterwiki connection failed; replacing the process", {
            wiki: entry.slug,
            pid: running.pid,
          });
          entry.state = "stopping";
          this.crashedCount += 1;
          entry.stopped = this.finishStop(entry, running, "broken");
        }
        release();
      },
    };
  }

  private stopEntry(entry: Entry, reason: string): Promise<void> {
    if (entry.stopped !== null) return entry.stopped;
    if (entry.process === null) return entry.ready.catch(() => undefined);
    entry.state = "stopping";
    entry.stopped = this.finishStop(entry, entry.process, reason);
    return entry.stopped;
  }

  private async finishStop(entry: Entry, running: RunningOtterwiki, reason: string): Promise<void> {
    try {
      await running.stop();
      this.options.logger.info("otterwiki stopped", { wiki: entry.slug, pid: running.pid, reason });
    } finally {
      if (this.entries.get(entry.wikiId) === entry) this.entries.delete(entry.wikiId);
      this.notify();
    }
  }

  private stopIdle(): void {
    const now = Date.now();
    for (const entry of this.entries.values()) {
      if (
        entry.state === "ready" &&
        entry.leases === 0 &&
        now - entry.lastUsed >= this.options.idleMs
      )
        void this.stopEntry(entry, "idle");
    }
  }

  private leastRecentlyUsedIdle(): Entry | null {
    let oldest: Entry | null = null;
    for (const entry of this.entries.values()) {
      if (entry.state !== "ready" || entry.leases > 0) continue;
      if (oldest === null || entry.useOrder < oldest.useOrder) oldest = entry;
    }
    return oldest;
  }

  private recordFailure(wikiId: number, uptimeMs: number): void {
    const previous = this.failures.get(wikiId);
    const count = previous === undefined || uptimeMs >= STABLE_AFTER ? 1 : previous.count + 1;
    this.failures.set(wikiId, { count, retryAt: Date.now() + backoffDelay(count) });
  }

  private async waitOutBackoff(wiki: Wiki): Promise<void> {
    const failures = this.failures.get(wiki.id);
    if (failures === undefined) return;
    const wait = failures.retryAt - Date.now();
    if (wait <= 0) return;
    if (wait > MAX_WAIT_IN_REQUEST) {
      throw new WikiProcessError(
        "backoff",
        "the wiki's page server keeps failing; it will be retried shortly",
        Math.ceil(wait / SECOND),
      );
    }
    await Bun.sleep(wait);
  }

  /** Resolves at the next lease release, process exit or start. */
  private nextChange(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private notify(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const wake of waiting) wake();
  }
}

function shuttingDown(): WikiProcessError {
  return new WikiProcessError("shutting_down", "the server is shutting down", 5);
}
