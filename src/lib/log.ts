/**
 * One-JSON-object-per-line logger. Callers pass fields, never raw headers: tokens and cookies
 * must not reach a log, so request logging records only method, host, path and status.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { LogLevel } from "../config/config.ts";

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

let stdoutBroken = false;

/**
 * Writes a line to stdout, dropping logs instead of crashing once stdout is gone (a log reader
 * that died leaves EPIPE behind; the server must keep serving).
 */
function writeToStdout(line: string): void {
  if (stdoutBroken) return;
  try {
    process.stdout.write(`${line}\n`);
  } catch {
    stdoutBroken = true;
  }
}
process.stdout.on("error", () => {
  stdoutBroken = true;
});

/** Fields every line logged within withLogFields() carries, across awaits (the request id). */
const context = new AsyncLocalStorage<Record<string, unknown>>();

/** Runs `work` so that every line it logs, in this process, carries `fields` too. */
export function withLogFields<T>(fields: Record<string, unknown>, work: () => T): T {
  return context.run(fields, work);
}

/**
 * The request id of the request being handled here, if any: passed on to the processes that
 * work for it (git, the search worker) so their lines are traced to the same request.
 */
export function currentRequestId(): string | undefined {
  const id = context.getStore()?.request_id;
  return typeof id === "string" ? id : undefined;
}

export function createLogger(
  level: LogLevel,
  write: (line: string) => void = writeToStdout,
): Logger {
  const emit = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (ORDER[at] < ORDER[level]) return;
    write(
      JSON.stringify({
        time: new Date().toISOString(),
        level: at,
        message,
        ...context.getStore(),
        ...fields,
      }),
    );
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
  };
}

/** Turns an unknown thrown value into loggable fields without leaking it to clients. */
export function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof Error) return { error: error.message, stack: error.stack };
  return { error: String(error) };
}
