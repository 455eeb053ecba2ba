/**
 * How full DATA_DIR's filesystem is: read by /health, the server's periodic log warning and
 * `admin doctor`. A full disk fails writes half-way (git objects, SQLite WAL), so an operator
 * hears about it well before (issue 12: warn past 80 %).
 */
import { statfsSync } from "node:fs";
import type { Logger } from "./log.ts";
import { MINUTE, SECOND } from "./time.ts";

export interface DiskUsage {
  /** Percent of the space ordinary users may fill that is used, rounded up as df(1) does. */
  usedPercent: number;
  availableBytes: number;
  /** Percent of inodes in use; null where the filesystem does not count them (e.g. btrfs). */
  inodesUsedPercent: number | null;
}

/**
 * df's Use%: used / (used + available to unprivileged users), so the blocks reserved for root
 * count as neither and a disk that refuses our writes reads 100 %.
 */
export function diskUsage(path: string): DiskUsage {
  const stats = statfsSync(path);
  const used = stats.blocks - stats.bfree;
  const usable = used + stats.bavail;
  return {
    usedPercent: usable === 0 ? 100 : Math.ceil((used / usable) * 100),
    availableBytes: stats.bavail * (stats.frsize || stats.bsize),
    inodesUsedPercent:
      stats.files === 0 ? null : Math.ceil(((stats.files - stats.ffree) / stats.files) * 100),
  };
}

/** The /health field: counts only, and a warning sentence once the threshold is reached. */
export interface DiskHealth {
  used_percent: number;
  warn_percent: number;
  warning?: string;
}

export interface DiskWatch {
  /** The cached reading, refreshed when older than a few seconds; never throws. */
  health(): DiskHealth | { error: string };
  stop(): void;
}

export interface DiskWatchOptions {
  path: string;
  warnPercent: number;
  logger: Logger;
  /** How often the timer looks (default 1 minute). */
  checkEveryMs?: number;
  /** While it stays full, the warning is logged again this often (default 30 minutes). */
  logEveryMs?: number;
}

/** statfs is one syscall, but /health is public: a burst of requests reuses one reading. */
const CACHE_MS = 5 * SECOND;

/**
 * Looks at the disk now and then on a timer (unref'd, stopped by `stop()`), logging a warning
 * when it first crosses the threshold and again every `logEveryMs` while it stays there.
 */
export function startDiskWatch(options: DiskWatchOptions): DiskWatch {
  const logEveryMs = options.logEveryMs ?? 30 * MINUTE;
  let reading: { at: number; health: DiskHealth | { error: string } } | null = null;
  let lastLogged: number | null = null;

  const read = (): DiskHealth | { error: string } => {
    const now = Date.now();
    if (reading !== null && now - reading.at < CACHE_MS) return reading.health;
    let health: DiskHealth | { error: string };
    try {
      const usage = diskUsage(options.path);
      health = { used_percent: usage.usedPercent, warn_percent: options.warnPercent };
      if (usage.usedPercent >= options.warnPercent)
        health.warning = `the data disk is ${usage.usedPercent}% full (warning at ${options.warnPercent}%)`;
    } catch (error) {
      health = { error: `cannot read disk usage: ${errorCode(error)}` };
    }
    reading = { at: now, health };
    return health;
  };

  const check = () => {
    const health = read();
    if (!("warning" in health)) {
      lastLogged = null;
      return;
    }
    const now = Date.now();
    if (lastLogged !== null && now - lastLogged < logEveryMs) return;
    lastLogged = now;
    options.logger.warn("data disk nearly full", {
      path: options.path,
      used_percent: health.used_percent,
      warn_percent: health.warn_percent,
    });
  };

  check();
  const timer = setInterval(check, options.checkEveryMs ?? MINUTE);
  timer.unref();
  return { health: read, stop: () => clearInterval(timer) };
}

/** An errno code such as ENOENT, never a message that could carry more of the path. */
function errorCode(error: unknown): string {
  if (error instanceof Error && "code" in error && typeof error.code === "string")
    return error.code;
  return "unknown error";
}
