/**
 * One wiki's Otterwiki: gunicorn (one sync worker) running our WSGI wrapper on a unix socket
 * under DATA_DIR/run (mode 0600; the folder is 0700), ready once `/-/healthz` answers 200.
 * Each process leads its own process group, so stopping or reaping it also ends the worker even
 * when the master was killed outright. It knows nothing about pools, users or requests.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { SECOND } from "../lib/time.ts";

export interface OtterwikiLaunch {
  /** `<project>/.venv/bin/gunicorn`. */
  gunicorn: string;
  /** Folder holding wikibot_wsgi.py. */
  wrapperDir: string;
  /** The wiki's folder (cwd of the process). */
  wikiDir: string;
  /** Otterwiki's own files: settings, preferences db, log. */
  stateDir: string;
  socket: string;
  /** The complete environment of the process (PATH, HOME, PYTHON*, WIKIBOT_*). */
  env: Record<string, string>;
}

/** Why a process did not come up; `logTail` is for our log, never for a client. */
export class OtterwikiStartError extends Error {
  override name = "OtterwikiStartError";
  constructor(
    message: string,
    readonly logTail: string,
  ) {
    super(message);
  }
}

/** Longest path a unix socket address can hold on Linux (sun_path is 108 bytes with the NUL). */
export const MAX_SOCKET_PATH_BYTES = 107;
const START_TIMEOUT = 30 * SECOND;
const STOP_GRACE = 6 * SECOND;
const HEALTH_POLL_INTERVAL = 25;

export class OtterwikiProcess {
  private constructor(
    private readonly child: Subprocess,
    readonly socket: string,
    readonly logFile: string,
  ) {}

  get pid(): number {
    return this.child.pid;
  }

  /** Resolves with the exit code (or signal number) when the gunicorn master ends. */
  get exited(): Promise<number> {
    return this.child.exited;
  }

  get hasExited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Spawns gunicorn and waits until it answers `/-/healthz`; throws OtterwikiStartError. */
  static async start(launch: OtterwikiLaunch): Promise<OtterwikiProcess> {
    if (Buffer.byteLength(launch.socket) > MAX_SOCKET_PATH_BYTES) {
      throw new OtterwikiStartError(
        `socket path ${launch.socket} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter DATA_DIR`,
        "",
      );
    }
    mkdirSync(launch.stateDir, { recursive: true, mode: 0o700 });
    rmSync(launch.socket, { force: true });
    const logFile = join(launch.stateDir, "gunicorn.log");
    let child: Subprocess;
    try {
      child = Bun.spawn(
        [
          launch.gunicorn,
          "--workers",
          "1",
          "--no-control-socket",
          "--bind",
          `unix:${launch.socket}`,
          // Applied only around bind(): the socket is created 0600, nothing else changes.
          "--umask",
          "0o177",
          "--graceful-timeout",
          "5",
          // No header may set SCRIPT_NAME/PATH_INFO or the scheme, even from our own socket peer
          // (gunicorn_conf.py says why); repeated here so the flag holds without the file.
          "--config",
          join(launch.wrapperDir, "gunicorn_conf.py"),
          "--forwarder-headers",
          "",
          "--header-map",
          "drop",
          "--pythonpath",
          launch.wrapperDir,
          "wikibot_wsgi:app",
        ],
        {
          cwd: launch.wikiDir,
          env: launch.env,
          stdin: "ignore",
          stdout: "ignore",
          stderr: Bun.file(logFile),
          // Own process group: killing -pid also ends a worker whose master died first.
          detached: true,
        },
      );
    } catch (error) {
      throw new OtterwikiStartError(
        `could not run ${launch.gunicorn}: ${error instanceof Error ? error.message : String(error)} (run \`bun install\` to set up .venv)`,
        "",
      );
    }
    writeFileSync(pidFileOf(launch.socket), `${child.pid}\n`, { mode: 0o600 });
    const started = new OtterwikiProcess(child, launch.socket, logFile);
    const deadline = Date.now() + START_TIMEOUT;
    while (Date.now() < deadline && !started.hasExited) {
      if (await started.isHealthy()) {
        // gunicorn's --umask already made it 0600; this only guards against a changed default.
        chmodSync(launch.socket, 0o600);
        return started;
      }
      await Bun.sleep(HEALTH_POLL_INTERVAL);
    }
    const exitedEarly = started.hasExited;
    await started.stop();
    throw new OtterwikiStartError(
      exitedEarly
        ? "Otterwiki exited during start-up"
        : `Otterwiki was not healthy after ${START_TIMEOUT / SECOND} s`,
      readLogTail(logFile),
    );
  }

  async isHealthy(): Promise<boolean> {
    if (!existsSync(this.socket)) return false;
    try {
      const response = await fetch("http://localhost/-/healthz", { unix: this.socket });
      await response.arrayBuffer();
      return response.status === 200;
    } catch {
      return false;
    }
  }

  /** SIGTERM (gunicorn's graceful stop), SIGKILL to the whole group if that takes too long. */
  async stop(): Promise<void> {
    await stopProcessGroup(this.child.pid, this.hasExited, this.child.exited, this.socket);
  }
}

/**
 * Stops one wiki's process group: SIGTERM lets the request in progress finish, SIGKILL follows
 * after STOP_GRACE; then SIGKILL to the group regardless, since a worker orphaned by a killed
 * master, or a git helper, would keep serving or running. Its socket and pid file go with it.
 */
export async function stopProcessGroup(
  pid: number,
  hasExited: boolean,
  exited: Promise<unknown>,
  socket: string,
): Promise<void> {
  if (!hasExited) {
    signalGroup(pid, "SIGTERM");
    const stopped = await Promise.race([
      exited.then(() => true),
      Bun.sleep(STOP_GRACE).then(() => false),
    ]);
    if (!stopped) signalGroup(pid, "SIGKILL");
    await exited;
  }
  signalGroup(pid, "SIGKILL");
  rmSync(socket, { force: true });
  rmSync(pidFileOf(socket), { force: true });
}

export function pidFileOf(socket: string): string {
  return `${socket}.pid`;
}

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

export function readLogTail(file: string): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "";
  }
}

/**
 * Ends Otterwiki processes a previous run of the server left behind (it was killed before it
 * could stop them): each left a `<socket>.pid` file; the pid is only signalled when its
 * command line still names that socket, so a recycled pid is never hit.
 */
export function reapStaleProcesses(runDir: string): number {
  let reaped = 0;
  if (!existsSync(runDir)) return 0;
  for (const name of readdirSync(runDir)) {
    if (!name.endsWith(".sock.pid")) continue;
    const pidFile = join(runDir, name);
    const socket = pidFile.slice(0, -".pid".length);
    if (reapIfStill(pidFile, (argv) => argv.join("\0").includes(`unix:${socket}`))) reaped += 1;
    rmSync(socket, { force: true });
  }
  return reaped;
}

/**
 * SIGKILLs the process group of the pid in `pidFile` when that pid's command line still passes
 * `isOurs` (a recycled pid is never hit), then removes the file; whether it signalled.
 */
export function reapIfStill(pidFile: string, isOurs: (argv: string[]) => boolean): boolean {
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  let reaped = false;
  if (Number.isInteger(pid) && pid > 1) {
    let argv: string[] = [];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      // Not running any more.
    }
    if (isOurs(argv)) {
      signalGroup(pid, "SIGKILL");
      reaped = true;
    }
  }
  rmSync(pidFile, { force: true });
  return reaped;
}

/**
 * Ends the Otterwiki on `socket` at once and synchronously, for an exit that cannot wait for
 * stop() (a second stop signal, the shutdown deadline): SIGKILL to the process group whose
 * leader start() recorded in `<socket>.pid` (written in the same tick as the spawn, so a process
 * still starting is covered), then the socket and pid file are removed. The pid file is only
 * trusted within the run that wrote it: a previous run's are reaped before any process starts.
 * Returns whether a process group was signalled.
 */
export function killOtterwikiNow(socket: string): boolean {
  const pidFile = pidFileOf(socket);
  let pid = Number.NaN;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    // No pid file: nothing was started on this socket, or stop() already finished.
  }
  const found = Number.isInteger(pid) && pid > 1;
  if (found) signalGroup(pid, "SIGKILL");
  rmSync(socket, { force: true });
  rmSync(pidFile, { force: true });
  return found;
}
