/**
 * `bun run admin doctor` against a real install (a running server's DATA_DIR with a wiki and a
 * live Otterwiki), then against the same install broken one way at a time, and the disk warning
 * in /health and the log (issue 12).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { readConfig } from "../src/config/config.ts";
import { createLogger } from "../src/lib/log.ts";
import { startServer } from "../src/server.ts";
import {
  createUserAndWiki,
  makeDataDir,
  PROJECT_DIR,
  runAdmin,
  startTestServer,
  type TestServer,
} from "./support/server.ts";

// Each case spawns the CLI, which hashes the 90 MB model; the 5 s default is too short on 2 cores.
setDefaultTimeout(120_000);

const MODEL_DIR = join(PROJECT_DIR, ".models");
let t: TestServer;
let env: Record<string, string>;
const scratch = makeDataDir();

beforeAll(async () => {
  t = await startTestServer();
  await createUserAndWiki(t, { username: "alice", slug: "notes", public: true });
  // A public wiki's page starts its Otterwiki: a live process and socket doctor must accept.
  const page = await fetch(`${t.wikiOrigin("notes")}/Home`);
  await page.arrayBuffer();
  expect(page.status).toBe(200);
  expect(t.server.wikiProcesses().live).toBe(1);
  // 100: a disk fuller than the threshold is the one problem this test machine could have.
  env = { DATA_DIR: t.dataDir, PUBLIC_URL: t.origin, MODEL_DIR, DISK_WARN_PERCENT: "100" };
});

afterAll(async () => {
  await t.close();
  rmSync(scratch, { recursive: true, force: true });
});

const doctor = (extra: Record<string, string> = {}, ...args: string[]) =>
  runAdmin({ ...env, ...extra }, ["doctor", ...args]);

/** Exit 1 and every stdout line a `<check>: …` problem; returns those lines. */
async function expectProblems(
  result: Awaited<ReturnType<typeof doctor>>,
  check: string,
): Promise<string[]> {
  expect(result.exitCode).toBe(1);
  const lines = result.stdout.trim().split("\n");
  for (const line of lines) expect(line).toStartWith(`${check}: `);
  return lines;
}

describe("a healthy install", () => {
  test("passes every check with git fsck, exit 0 and one ok line", async () => {
    const result = await doctor({}, "--fsck");
    expect(result.stdout.trim()).toBe(
      "ok: config, venv, model, keys, disk, database, repos, processes (1 wiki repositories, git fsck clean)",
    );
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain("fsck 1/1 notes");
  });

  test("--json lists what was checked and no problems", async () => {
    const result = await doctor({}, "--json");
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      ok: true,
      fsck: false,
      checked: ["config", "venv", "model", "keys", "disk", "database", "repos", "processes"],
      wikis: 1,
      problems: [],
    });
  });
});

describe("a broken install fails with one line naming each problem", () => {
  test("a missing virtualenv", async () => {
    const missing = join(scratch, "no-venv");
    const lines = await expectProblems(await doctor({ VENV_DIR: missing }), "venv");
    expect(lines).toEqual([
      `venv: ${missing} does not exist: run \`bun run setup\` (or set VENV_DIR)`,
    ]);
  });

  test("a virtualenv without gunicorn, and one with the wrong Otterwiki", async () => {
    const venv = join(scratch, "venv");
    mkdirSync(join(venv, "bin"), { recursive: true });
    symlinkSync(join(PROJECT_DIR, ".venv", "bin", "python"), join(venv, "bin", "python"));
    let lines = await expectProblems(await doctor({ VENV_DIR: venv }), "venv");
    expect(lines).toEqual([
      `venv: ${join(venv, "bin", "gunicorn")} is missing or not executable: run \`bun run setup\``,
    ]);
    // The venv's interpreter linked from a folder without pyvenv.cfg runs as the bare system one.
    writeFileSync(join(venv, "bin", "gunicorn"), "#!/bin/sh\n", { mode: 0o755 });
    lines = await expectProblems(await doctor({ VENV_DIR: venv }), "venv");
    expect(lines).toEqual([
      `venv: ${venv} lacks otterwiki, this wikibot pins 2.26.1: run \`bun run setup\``,
      `venv: ${venv} lacks gunicorn, this wikibot pins 27.0.1: run \`bun run setup\``,
    ]);
  });

  test("a key readable by others, a key that cannot be read, a key the URL needs", async () => {
    const secret = join(t.dataDir, "keys", "server-secret");
    const jwk = join(t.dataDir, "keys", "atproto-client.jwk");
    chmodSync(secret, 0o644);
    // Tests run as root, which reads any mode: a directory in the key's place cannot be read.
    mkdirSync(jwk, { mode: 0o700 });
    try {
      const lines = await expectProblems(await doctor(), "keys");
      expect(lines).toEqual([
        `keys: ${secret} has mode 0644, expected 0600: chmod 600 ${secret}`,
        `keys: ${jwk} cannot be read (EISDIR): the server runs as its owner`,
      ]);
    } finally {
      chmodSync(secret, 0o600);
      rmSync(jwk, { recursive: true });
    }
    expect((await doctor()).exitCode).toBe(0);
    // A localhost server signs in as a loopback client; on https it needs its signing key.
    const https = await expectProblems(
      await doctor({ PUBLIC_URL: "https://wikibot.example" }),
      "keys",
    );
    expect(https).toEqual([
      `keys: ${jwk} is missing: the server makes a new one at start (restore it from a backup to keep the old one)`,
    ]);
  });

  test("a damaged key and an open keys folder", async () => {
    const dir = join(t.dataDir, "keys");
    const secret = join(dir, "server-secret");
    const original = readFileSync(secret);
    writeFileSync(secret, "short\n");
    chmodSync(dir, 0o755);
    try {
      const lines = await expectProblems(await doctor(), "keys");
      expect(lines).toEqual([
        `keys: ${dir} has mode 0755, expected 0700: chmod 700 ${dir}`,
        `keys: ${secret} is not a base64url secret of at least 32 bytes: restore it from a backup`,
      ]);
    } finally {
      writeFileSync(secret, original);
      chmodSync(dir, 0o700);
    }
  });

  test("a corrupted repository, found by --fsck only", async () => {
    const repo = join(t.dataDir, "wikis", "notes", "repo");
    // A page's blob, stored loose by the commit that made the wiki.
    const tree = Bun.spawnSync(["git", "-C", repo, "ls-tree", "HEAD"]).stdout.toString();
    const blob = /^\d+ blob ([0-9a-f]{40})\t/m.exec(tree)?.[1] ?? "";
    const victim = join(repo, ".git", "objects", blob.slice(0, 2), blob.slice(2));
    expect(existsSync(victim)).toBe(true);
    const saved = join(scratch, "object");
    copyFileSync(victim, saved);
    rmSync(victim);
    try {
      // Without --fsck only the repository's shape is looked at: fast, and it is still there.
      expect((await doctor()).exitCode).toBe(0);
      const lines = await expectProblems(await doctor({}, "--fsck"), "repos");
      expect(lines).toEqual([`repos: notes: git fsck failed in ${repo}: missing blob ${blob}`]);
    } finally {
      copyFileSync(saved, victim);
    }
    expect((await doctor({}, "--fsck")).exitCode).toBe(0);
  });

  test("a missing wiki repository", async () => {
    const repo = join(t.dataDir, "wikis", "notes", "repo");
    renameSync(join(repo, ".git"), join(repo, ".git-aside"));
    try {
      const lines = await expectProblems(await doctor(), "repos");
      expect(lines).toEqual([
        `repos: notes: ${repo} is not a git repository (missing or damaged): restore it from a backup`,
      ]);
    } finally {
      renameSync(join(repo, ".git-aside"), join(repo, ".git"));
    }
  });

  test("a missing and a damaged model file", async () => {
    const copy = join(scratch, "models");
    const folder = join(copy, "all-MiniLM-L6-v2");
    mkdirSync(join(folder, "onnx"), { recursive: true });
    for (const file of [
      "config.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "onnx/model.onnx",
    ])
      cpSync(join(MODEL_DIR, "all-MiniLM-L6-v2", file), join(folder, file));
    symlinkSync(
      join(MODEL_DIR, "all-MiniLM-L6-v2", "onnx", "model.onnx_data"),
      join(folder, "onnx", "model.onnx_data"),
    );
    expect((await doctor({ MODEL_DIR: copy })).exitCode).toBe(0);
    rmSync(join(folder, "tokenizer.json"));
    writeFileSync(join(folder, "config.json"), "{}\n");
    const lines = await expectProblems(await doctor({ MODEL_DIR: copy }), "model");
    expect(lines).toEqual([
      `model: ${join(folder, "config.json")} does not match its pinned SHA-256 (damaged or replaced): delete ${folder} and run \`bun scripts/setup.ts --install-model\` (as \`bun run start\` does)`,
      `model: ${join(folder, "tokenizer.json")} is missing: run \`bun scripts/setup.ts --install-model\` (as \`bun run start\` does)`,
    ]);
  });

  test("a socket nothing listens on, a stale pid file and an Otterwiki whose server is gone", async () => {
    const runDir = join(t.dataDir, "run");
    const socket = join(runDir, "ow-9001.sock");
    // A process that listens and is killed leaves its socket file behind, as a killed server does.
    const listener = Bun.spawn(
      [
        "bun",
        "-e",
        `Bun.listen({ unix: ${JSON.stringify(socket)}, socket: { data() {} } }); console.log("up")`,
      ],
      { stdout: "pipe" },
    );
    const reader = listener.stdout.getReader();
    await reader.read();
    listener.kill("SIGKILL");
    await listener.exited;
    expect(existsSync(socket)).toBe(true);
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    const pidFile = join(runDir, "ow-9002.sock.pid");
    writeFileSync(pidFile, `${gone.pid}\n`);
    // A process naming its socket as gunicorn does, left to init by a parent that exited.
    const orphanSocket = join(runDir, "ow-9003.sock");
    const starter = Bun.spawn(
      [
        "sh",
        "-c",
        'python3 -c "import time; time.sleep(120)" "unix:$1" >/dev/null 2>&1 & echo $!',
        "sh",
        orphanSocket,
      ],
      { stdout: "pipe" },
    );
    const orphanPid = Number((await new Response(starter.stdout).text()).trim());
    await starter.exited;
    try {
      const lines = await expectProblems(await doctor(), "processes");
      expect(lines).toEqual([
        `processes: ${socket} is a socket nothing listens on (its server was killed): the server removes it when it next starts`,
        `processes: ${pidFile} names a process that is not running (its server was killed): the server removes it when it next starts`,
        `processes: Otterwiki pid ${orphanPid} (${orphanSocket}) outlived its server: \`kill -- -${orphanGroup(orphanPid)}\`, or start the server, which stops it`,
      ]);
    } finally {
      process.kill(orphanPid, "SIGKILL");
      rmSync(socket, { force: true });
      rmSync(pidFile, { force: true });
    }
    // The wiki's own live Otterwiki and socket were never reported.
    expect(t.server.wikiProcesses().live).toBe(1);
  });

  test("the disk past the warning threshold", async () => {
    const lines = await expectProblems(await doctor({ DISK_WARN_PERCENT: "1" }), "disk");
    expect(lines[0]).toMatch(
      new RegExp(`^disk: the filesystem of ${t.dataDir} is \\d+% full \\(warning at 1%, `),
    );
  });

  test("a database that is not one, reported instead of created or migrated", async () => {
    const dataDir = join(scratch, "bad-db");
    cpSync(join(t.dataDir, "keys"), join(dataDir, "keys"), { recursive: true });
    const garbage = "this is not an SQLite database, just bytes ".repeat(200);
    writeFileSync(join(dataDir, "wikibot.db"), garbage);
    const lines = await expectProblems(await doctor({ DATA_DIR: dataDir }), "database");
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain(join(dataDir, "wikibot.db"));
    expect(lines[0]).toContain("not a database");
    expect(readFileSync(join(dataDir, "wikibot.db"), "utf8")).toBe(garbage);
  });

  test("a DATA_DIR that does not exist is one line, and nothing is made", async () => {
    const dataDir = join(scratch, "nowhere");
    const lines = await expectProblems(await doctor({ DATA_DIR: dataDir }), "config");
    expect(lines.length).toBe(1);
    expect(lines[0]).toStartWith(`config: DATA_DIR ${dataDir} does not exist`);
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe("the disk warning in /health and the log", () => {
  test("past DISK_WARN_PERCENT, /health carries a warning and the log says so once", async () => {
    const dataDir = makeDataDir();
    const lines: string[] = [];
    const server = await startServer(
      readConfig({ DATA_DIR: dataDir, PORT: "0", MODEL_DIR, DISK_WARN_PERCENT: "1" }),
      createLogger("warn", (line) => lines.push(line)),
    );
    try {
      const health = await fetch(`${server.publicUrl.origin}/health`);
      expect(health.status).toBe(200);
      const { disk } = await health.json();
      expect(disk.warn_percent).toBe(1);
      expect(disk.used_percent).toBeGreaterThanOrEqual(1);
      expect(disk.warning).toBe(`the data disk is ${disk.used_percent}% full (warning at 1%)`);
      const warnings = lines
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.message === "data disk nearly full");
      expect(warnings).toEqual([
        expect.objectContaining({
          level: "warn",
          used_percent: disk.used_percent,
          warn_percent: 1,
        }),
      ]);
      // Served again within the cache window: the same reading, and no second log line.
      await (await fetch(`${server.publicUrl.origin}/health`)).arrayBuffer();
      expect(lines.filter((line) => line.includes("data disk nearly full")).length).toBe(1);
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("below the threshold, /health shows the usage and no warning", async () => {
    const health = await (await fetch(`${t.origin}/health`)).json();
    expect(health.disk.warn_percent).toBe(80);
    expect(typeof health.disk.used_percent).toBe("number");
    expect("warning" in health.disk).toBe(health.disk.used_percent >= 80);
  });
});

function orphanGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}
