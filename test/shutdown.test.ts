/**
 * Stopping the server as README runs it (`bun run start`, in its own process group, so the
 * `bun run` wrapper forwards what it receives): Ctrl-C to the whole group, a service manager's
 * SIGTERM to every process, SIGTERM to the wrapper alone, and a deliberate second Ctrl-C. Each
 * must end with the server gone and no Otterwiki process of its data dir left; a graceful stop
 * must finish the write in flight and acknowledge it (DESIGN §1, §4; issue 15).
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Socket, Subprocess } from "bun";
import { makeDataDir, PROJECT_DIR, runAdmin, testDid } from "./support/server.ts";

// Each test starts the server, three Otterwikis and a shutdown; 5 s is too short on 2 cores.
setDefaultTimeout(90_000);

const SLUGS = ["alpha", "beta", "gamma"];
/** Longer than the shutdown deadline in main.ts: a server still running after this is stuck. */
const EXIT_WAIT_MS = 45_000;
/** Comfortably more than main.ts's window in which a repeated signal counts as the same one. */
const DELIBERATE_GAP_MS = 1_500;

interface Started {
  wrapper: Subprocess<"ignore", "pipe", "pipe">;
  dataDir: string;
  port: number;
  /** The owner's write token for SLUGS[0]. */
  token: string;
  output: () => string;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Processes whose process group is `group` (zombies excluded), from /proc. */
function groupMembers(group: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z" && Number(fields[2]) === group) members.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return members;
}

/** Every Otterwiki process (gunicorn master or worker) serving a socket under `dataDir`. */
function otterwikiProcesses(dataDir: string): { pid: number; group: number }[] {
  const found: { pid: number; group: number }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(`unix:${dataDir}/run/`))
        continue;
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (fields[0] !== "Z") found.push({ pid: Number(entry), group: Number(fields[2]) });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

function socketsLeft(dataDir: string): string[] {
  const runDir = join(dataDir, "run");
  return existsSync(runDir) ? readdirSync(runDir).filter((name) => name.includes(".sock")) : [];
}

function signalGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal);
  } catch {
    // ESRCH: already gone.
  }
}

async function admin(dataDir: string, args: string[]): Promise<string> {
  const result = await runAdmin({ DATA_DIR: dataDir, PUBLIC_URL: "http://localhost:8080" }, [
    ...args,
    "--json",
  ]);
  if (result.exitCode !== 0) throw new Error(`admin ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

/** Three public wikis, then `bun run start` exactly as README says, in its own process group. */
async function startAsReadmeSays(): Promise<Started> {
  const dataDir = makeDataDir();
  await admin(dataDir, [
    "create-user",
    "--username",
    "stopper",
    "--did",
    testDid(),
    "--handle",
    "stopper.bsky.social",
  ]);
  let token = "";
  for (const slug of SLUGS) {
    const made: unknown = JSON.parse(
      await admin(dataDir, ["create-wiki", "--slug", slug, "--owner", "stopper", "--public"]),
    );
    if (slug === SLUGS[0]) {
      const value = typeof made === "object" && made !== null ? Reflect.get(made, "token") : null;
      if (typeof value !== "string") throw new Error("create-wiki printed no token");
      token = value;
    }
  }
  const wrapper = Bun.spawn(["bun", "run", "start"], {
    cwd: PROJECT_DIR,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", DATA_DIR: dataDir, PORT: "0" },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    // Its own process group, as a terminal's foreground job or a service's control group.
    detached: true,
  });
  cleanups.push(() => {
    signalGroup(wrapper.pid, "SIGKILL");
    for (const { group } of otterwikiProcesses(dataDir)) signalGroup(group, "SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
  });
  let output = "";
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  void drain(wrapper.stdout);
  void drain(wrapper.stderr);
  let port = 0;
  for (let attempt = 0; attempt < 600 && port === 0; attempt++) {
    await Bun.sleep(50);
    const listening = output.match(/"message":"listening","port":(\d+)/);
    if (listening?.[1] !== undefined) port = Number(listening[1]);
    if (wrapper.exitCode !== null) break;
  }
  if (port === 0) throw new Error(`the server did not start:\n${output}`);
  return { wrapper, dataDir, port, token, output: () => output };
}

/** Makes every wiki live in the browser path: an anonymous page view starts its Otterwiki. */
async function browseEveryWiki(started: Started): Promise<void> {
  for (const slug of SLUGS) {
    const response = await fetch(`http://${slug}.localhost:${started.port}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain(slug);
  }
  expect(socketsLeft(started.dataDir).filter((name) => name.endsWith(".sock"))).toHaveLength(3);
  expect(otterwikiProcesses(started.dataDir).length).toBeGreaterThanOrEqual(3);
}

interface WriteInFlight {
  page: string;
  content: string;
  /** Sends the rest of the body. */
  finish(): void;
  /** The status line's code once the server answered and closed, or null if it never answered. */
  answered: Promise<number | null>;
}

/**
 * A REST page write whose headers and first half of the body have reached the server: the
 * server has accepted the request and waits for the rest, so it is in flight by any measure.
 * (Raw HTTP/1.1, because fetch does not say when its request has been sent.)
 */
async function startWriteInFlight(started: Started): Promise<WriteInFlight> {
  const page = "InFlight";
  const content = `# In flight\n\n${"Written while the server was asked to stop. ".repeat(2000)}\n`;
  const body = Buffer.from(JSON.stringify({ content, message: "in flight at shutdown" }));
  const head =
    `PUT /api/v1/pages/${page} HTTP/1.1\r\n` +
    `Host: ${SLUGS[0]}.localhost:${started.port}\r\n` +
    `Authorization: Bearer ${started.token}\r\n` +
    "Content-Type: application/json\r\n" +
    `Content-Length: ${body.length}\r\n` +
    "Connection: close\r\n\r\n";
  const half = Math.floor(body.length / 2);
  let received = "";
  let settle: (status: number | null) => void = () => undefined;
  const answered = new Promise<number | null>((resolve) => {
    settle = resolve;
  });
  const done = () => {
    const status = received.match(/^HTTP\/1\.1 (\d{3}) /)?.[1];
    settle(status === undefined ? null : Number(status));
  };
  const decoder = new TextDecoder();
  const socket: Socket = await Bun.connect({
    hostname: "127.0.0.1",
    port: started.port,
    socket: {
      data(_socket, chunk) {
        received += decoder.decode(chunk, { stream: true });
      },
      end: done,
      close: done,
      error: done,
    },
  });
  const first = Buffer.concat([Buffer.from(head), body.subarray(0, half)]);
  expect(socket.write(first)).toBe(first.length);
  // A request answered after ours was written: the server's event loop has read our headers.
  expect((await fetch(`http://127.0.0.1:${started.port}/health`)).status).toBe(200);
  return {
    page,
    content,
    finish() {
      const rest = body.subarray(half);
      expect(socket.write(rest)).toBe(rest.length);
    },
    answered,
  };
}

/** Waits until the wrapper and everything in its process group have exited; the wrapper's code. */
async function serverExit(started: Started): Promise<number> {
  const deadline = Date.now() + EXIT_WAIT_MS;
  const code = await Promise.race([
    started.wrapper.exited,
    Bun.sleep(EXIT_WAIT_MS).then(() => null),
  ]);
  while (groupMembers(started.wrapper.pid).length > 0 && Date.now() < deadline) await Bun.sleep(50);
  expect(groupMembers(started.wrapper.pid)).toEqual([]);
  if (code === null) throw new Error(`the server did not exit:\n${started.output()}`);
  return code;
}

/** Nothing of that data dir runs any more and no socket is left. */
function expectNothingLeft(started: Started): void {
  expect(otterwikiProcesses(started.dataDir)).toEqual([]);
  expect(socketsLeft(started.dataDir)).toEqual([]);
}

function committedContent(started: Started, page: string): string {
  const repo = join(started.dataDir, "wikis", SLUGS[0] ?? "", "repo");
  const shown = Bun.spawnSync(["git", "-C", repo, "show", `HEAD:${page}.md`]);
  return shown.stdout.toString();
}

/** Signals as `send` does while a write is in flight; the write must be acknowledged and kept. */
async function stopWithWriteInFlight(send: (started: Started) => void): Promise<void> {
  const started = await startAsReadmeSays();
  await browseEveryWiki(started);
  const write = await startWriteInFlight(started);
  send(started);
  write.finish();
  expect(await write.answered).toBe(201);
  expect(await serverExit(started)).toBe(0);
  expectNothingLeft(started);
  expect(committedContent(started, write.page)).toBe(write.content);
  expect(started.output()).toContain('"message":"stopped"');
}

describe("one stop request stops the server gracefully and leaves nothing running", () => {
  test("Ctrl-C (SIGINT to the whole process group): the write in flight is kept, every Otterwiki stops", async () => {
    await stopWithWriteInFlight((started) => signalGroup(started.wrapper.pid, "SIGINT"));
  });

  test("a service stop (SIGTERM to every process of the group): the write in flight is kept, every Otterwiki stops", async () => {
    await stopWithWriteInFlight((started) => signalGroup(started.wrapper.pid, "SIGTERM"));
  });

  test("SIGTERM to the `bun run` wrapper alone: the write in flight is kept, every Otterwiki stops", async () => {
    await stopWithWriteInFlight((started) => started.wrapper.kill("SIGTERM"));
  });
});

describe("a deliberate second Ctrl-C stops at once", () => {
  test("two SIGINTs to the group a second and a half apart: exit now, still no Otterwiki left", async () => {
    const started = await startAsReadmeSays();
    await browseEveryWiki(started);
    // Never finished, so the graceful stop is still waiting for it when the second Ctrl-C comes.
    const write = await startWriteInFlight(started);
    signalGroup(started.wrapper.pid, "SIGINT");
    await Bun.sleep(DELIBERATE_GAP_MS);
    // The first Ctrl-C alone did not end the server: it is still waiting for the write.
    expect(started.wrapper.exitCode).toBeNull();
    expect(otterwikiProcesses(started.dataDir).length).toBeGreaterThanOrEqual(3);
    signalGroup(started.wrapper.pid, "SIGINT");
    expect(await serverExit(started)).toBe(1);
    expectNothingLeft(started);
    // Cut, never acknowledged: the crash rules (DESIGN §4) cover it.
    expect(await write.answered).toBeNull();
  });
});
