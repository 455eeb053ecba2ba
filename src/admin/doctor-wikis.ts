/**
 * `admin doctor`'s per-wiki checks: each wiki's repository (and, on request, `git fsck`), and
 * what Otterwiki processes leave under DATA_DIR/run when their server did not stop them
 * (src/wiki/otterwiki-process.ts: `ow-<id>.sock`, `ow-<id>.sock.pid`, one process group each).
 */
import {
  existsSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  statSync,
} from "node:fs";
import { join } from "node:path";
import { GitError, runGit } from "../repo/git.ts";
import { ZYGOTE_TITLE } from "../wiki/zygote.ts";
import { repoDir } from "../wikis/wiki-paths.ts";
import { messageOf, type Problem } from "./doctor-checks.ts";

export async function checkRepos(
  dataDir: string,
  slugs: readonly string[],
  options: { fsck: boolean; progress: (line: string) => void },
): Promise<Problem[]> {
  const problems: Problem[] = [];
  const say = (message: string) => problems.push({ check: "repos", message });
  for (const [index, slug] of slugs.entries()) {
    const dir = repoDir(dataDir, slug);
    if (!existsSync(join(dir, ".git", "HEAD"))) {
      say(`${slug}: ${dir} is not a git repository (missing or damaged): restore it from a backup`);
      continue;
    }
    if (!options.fsck) continue;
    options.progress(`fsck ${index + 1}/${slugs.length} ${slug}`);
    try {
      const result = await runGit(dir, ["fsck", "--no-progress", "--no-dangling"], {
        okExitCodes: FSCK_FINDINGS,
      });
      if (result.exitCode !== 0)
        say(
          `${slug}: git fsck failed in ${dir}: ${fsckReason(new TextDecoder().decode(result.stdout), result.stderr, result.exitCode)}`,
        );
    } catch (error) {
      say(
        `${slug}: git fsck could not run in ${dir}: ${error instanceof GitError ? fsckReason("", error.stderr, error.exitCode) : messageOf(error)}`,
      );
    }
  }
  return problems;
}

/**
 * fsck's exit status is a bit set of what it found (builtin/fsck.c: ERROR_OBJECT 1,
 * ERROR_REACHABLE 2, ERROR_PACK 4, ERROR_REFS 8, …); 128 is git's `die()`, a run that failed.
 */
const FSCK_FINDINGS = Array.from({ length: 128 }, (_, code) => code);

/** The first line naming what is broken (fsck prints "missing blob …" on stdout). */
function fsckReason(stdout: string, stderr: string, exitCode: number): string {
  const lines = `${stdout}\n${stderr}`.split("\n").map((line) => line.trim());
  return (
    lines.find((line) => /^(error|fatal|missing|broken|bad)\b/i.test(line)) ??
    lines.find((line) => line !== "") ??
    `exit ${exitCode}`
  );
}

/**
 * Sockets nothing listens on, pid files of processes that are gone, and Otterwiki processes
 * whose server is gone. Each Otterwiki's command line names its socket (gunicorn's `--bind
 * unix:…`, or the title a zygote's child sets), so /proc finds them even without a pid file; a
 * master's or the zygote's parent is the server (bun), a worker's is its master, a child's is
 * the zygote (titled with the run folder). Anything else was re-parented when the server died
 * without stopping it.
 */
export async function checkProcesses(dataDir: string): Promise<Problem[]> {
  const runDir = join(dataDir, "run");
  if (!existsSync(runDir)) return [];
  const problems: Problem[] = [];
  const say = (message: string) => problems.push({ check: "processes", message });
  const mode = statSync(runDir).mode & 0o777;
  if ((mode & 0o077) !== 0)
    say(`${runDir} has mode 0${mode.toString(8)}, expected 0700: chmod 700 ${runDir}`);
  const restart = "the server removes it when it next starts";
  for (const name of readdirSync(runDir).sort()) {
    const path = join(runDir, name);
    if (/^ow-\d+\.sock$/.test(name) && !(await listening(path)))
      say(`${path} is a socket nothing listens on (its server was killed): ${restart}`);
    if (/^ow-\d+\.sock\.pid$/.test(name)) {
      const pid = Number(readFileSync(path, "utf8").trim());
      if (!Number.isInteger(pid) || pid <= 1 || !running(pid))
        say(`${path} names a process that is not running (its server was killed): ${restart}`);
    }
  }
  for (const orphan of orphanedOtterwikis(runDir))
    say(
      `Otterwiki pid ${orphan.pid} (${orphan.socket}) outlived its server: \`kill -- -${orphan.group}\`, or start the server, which stops it`,
    );
  return problems;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as someone we may not signal.
    return error instanceof Error && "code" in error && error.code === "EPERM";
  }
}

async function listening(socketPath: string): Promise<boolean> {
  try {
    const socket = await Bun.connect({ unix: socketPath, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

interface ProcessInfo {
  pid: number;
  parent: number;
  group: number;
  socket: string;
}

function orphanedOtterwikis(runDir: string): ProcessInfo[] {
  if (!existsSync("/proc/self")) return [];
  const marker = `unix:${join(runDir, "ow-")}`;
  const found = new Map<number, ProcessInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = readProc(pid, "cmdline")?.split("\0") ?? [];
    const isZygote = argv[0] === ZYGOTE_TITLE && argv[1] === runDir;
    const bind = isZygote ? `unix:${runDir} (zygote)` : argv.find((arg) => arg.startsWith(marker));
    const stat = readProc(pid, "stat");
    if (bind === undefined || stat === null) continue;
    // Fields after the command name, which is in parentheses and may itself hold ") ".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    found.set(pid, {
      pid,
      parent: Number(fields[1]),
      group: Number(fields[2]),
      socket: bind.slice("unix:".length),
    });
  }
  const ownRuntime = safeRealpath(process.execPath);
  return [...found.values()].filter((info) => {
    if (found.has(info.parent)) return false;
    if (info.parent <= 1) return true;
    const comm = readProc(info.parent, "comm")?.trim();
    return comm !== "bun" && safeReadlink(`/proc/${info.parent}/exe`) !== ownRuntime;
  });
}

function readProc(pid: number, file: string): string | null {
  try {
    return readFileSync(`/proc/${pid}/${file}`, "utf8");
  } catch {
    // The process ended while we looked, or belongs to someone we may not inspect.
    return null;
  }
}

function safeReadlink(path: string): string | null {
  try {
    return readlinkSync(path);
  } catch {
    return null;
  }
}

function safeRealpath(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}
