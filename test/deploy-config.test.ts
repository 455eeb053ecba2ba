/**
 * The deployment files as the tools that run them read them: the Caddyfile through Debian's
 * `caddy` (fmt, validate, adapt; with the DNS-challenge block taken out, since Debian's Caddy
 * has no DNS provider module) and scripts/wikibot.service through `systemd-analyze verify`,
 * both checked against the server's own settings. test/caddy-edge.test.ts runs the Caddyfile.
 */

import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CADDY,
  type DebianTool,
  findTool,
  installHint,
  SYSTEMD_ANALYZE,
} from "../scripts/setup/caddy.ts";
import { type CommandResult, captureCommand } from "../scripts/setup/command.ts";
import { readConfig } from "../src/config/config.ts";
import { PROJECT_DIR } from "./support/server.ts";

// Spawns caddy and systemd-analyze; the 5 s default is tight on 2 cores.
setDefaultTimeout(60_000);

const MIB = 1024 * 1024;
const DEFAULTS = readConfig({});
const CADDYFILE = readFileSync(join(PROJECT_DIR, "Caddyfile"), "utf8");
const UNIT_PATH = join(PROJECT_DIR, "scripts", "wikibot.service");

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "wikibot-deploy-"));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function toolPath(tool: DebianTool): string {
  const path = findTool(tool);
  if (path === null) throw new Error(installHint(tool));
  return path;
}

type Run = CommandResult;

function run(argv: string[], env: Record<string, string> = {}): Promise<Run> {
  // Caddy keeps state under HOME; the scratch one, never the machine's.
  return captureCommand(argv, {
    cwd: scratch,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: scratch, ...env },
  });
}

/** What an operator fills in (Caddyfile header); the access log in scratch unless `defaults`. */
function caddyEnv(options: { defaults?: boolean } = {}): Record<string, string> {
  return {
    WIKIBOT_DOMAIN: "wikibot.example",
    ACME_EMAIL: "ops@wikibot.example",
    DNS_API_TOKEN: "not-a-token",
    ...(options.defaults ? {} : { WIKIBOT_ACCESS_LOG: join(scratch, "access.log") }),
  };
}

/** The Caddyfile without its `tls { dns … }` block: what Debian's Caddy (no DNS module) accepts. */
function withoutDnsChallenge(source: string): string {
  const block = /^\t+tls \{$[\s\S]*?^\t+\}$\n/m;
  const removed = source.match(block)?.[0] ?? "";
  if (!/^\t+dns \S+/m.test(removed)) throw new Error("the Caddyfile has no tls { dns … } block");
  return source.replace(block, "");
}

async function caddyfileVariant(): Promise<string> {
  const path = join(scratch, "Caddyfile.no-dns");
  await Bun.write(path, withoutDnsChallenge(CADDYFILE));
  return path;
}

/** Every object inside `value` (depth first), for finding handlers in Caddy's JSON. */
function* objectsIn(value: unknown): Generator<Record<string, unknown>> {
  if (Array.isArray(value)) {
    for (const item of value) yield* objectsIn(item);
  } else if (typeof value === "object" && value !== null) {
    const record = Object.fromEntries(Object.entries(value));
    yield record;
    for (const item of Object.values(record)) yield* objectsIn(item);
  }
}

function handlerNamed(config: unknown, name: string): Record<string, unknown> {
  const found = [...objectsIn(config)].filter((object) => object.handler === name);
  expect(found.length).toBe(1);
  const [handler] = found;
  if (handler === undefined) throw new Error(`no ${name} handler`);
  return handler;
}

/** Caddy's header matcher: a value pattern with `*` at either end matches by suffix/prefix. */
function headerPatternMatches(pattern: string, value: string): boolean {
  const body = pattern.replace(/^\*|\*$/g, "");
  if (pattern.startsWith("*") && pattern.endsWith("*")) return value.includes(body);
  if (pattern.endsWith("*")) return value.startsWith(body);
  if (pattern.startsWith("*")) return value.endsWith(body);
  return value === pattern;
}

describe("Caddyfile", () => {
  test("is formatted as `caddy fmt` writes it (the tests cut it by its tab-indented blocks)", async () => {
    const formatted = await run([toolPath(CADDY), "fmt", join(PROJECT_DIR, "Caddyfile")]);
    expect(formatted.exitCode).toBe(0);
    expect(formatted.stdout).toBe(CADDYFILE);
  });

  test("`caddy validate` accepts it without the DNS-challenge block, and only that block needs a plugin", async () => {
    const caddy = toolPath(CADDY);
    const variant = await caddyfileVariant();
    const valid = await run(
      [caddy, "validate", "--adapter", "caddyfile", "--config", variant],
      caddyEnv(),
    );
    expect(`${valid.stdout}${valid.stderr}`).toContain("Valid configuration");
    expect(valid.exitCode).toBe(0);
    const whole = await run(
      [caddy, "validate", "--adapter", "caddyfile", "--config", join(PROJECT_DIR, "Caddyfile")],
      caddyEnv(),
    );
    expect(whole.exitCode).not.toBe(0);
    expect(whole.stderr).toContain("module not registered: dns.providers.");
  });

  test("the production site is the apex and its wildcard, with nothing but its certificate outside the (wikibot) snippet", () => {
    const site = CADDYFILE.match(
      /^\{\$WIKIBOT_DOMAIN\}, \*\.\{\$WIKIBOT_DOMAIN\} \{$[\s\S]*?^\}$/m,
    );
    expect(site).not.toBeNull();
    const directives = withoutDnsChallenge(site?.[0] ?? "")
      .split("\n")
      .slice(1, -1)
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    expect(directives).toEqual(["import wikibot"]);
  });

  test("adapted, it proxies both hosts with the server's limits, streaming, compression and logs", async () => {
    const adapted = await run(
      [toolPath(CADDY), "adapt", "--adapter", "caddyfile", "--config", await caddyfileVariant()],
      caddyEnv({ defaults: true }),
    );
    expect(adapted.exitCode).toBe(0);
    const config: unknown = JSON.parse(adapted.stdout);
    const objects = [...objectsIn(config)];

    // Site routes and error routes alike match the apex and every wiki host.
    const hostLists = objects.map((object) => object.host).filter(Array.isArray);
    expect(hostLists.length).toBe(2);
    for (const hosts of hostLists) expect(hosts).toEqual(["wikibot.example", "*.wikibot.example"]);

    const proxy = handlerNamed(config, "reverse_proxy");
    expect(proxy.flush_interval).toBe(-1);
    expect(proxy.upstreams).toEqual([{ dial: `127.0.0.1:${DEFAULTS.port}` }]);
    expect(proxy.transport).toBeUndefined();

    // The server's own ceiling (src/server.ts: Bun's maxRequestBodySize) with default settings.
    const serverLimit = Math.max(DEFAULTS.maxBodyBytes, DEFAULTS.maxPackBytes + MIB);
    expect(handlerNamed(config, "request_body").max_size).toBe(serverLimit);
    // ... and a body past it is answered 413 (Caddy 2.6 would say 502), as the server does.
    expect(handlerNamed(config, "static_response")).toMatchObject({
      status_code: 413,
      body: "request body too large",
    });

    const encode = handlerNamed(config, "encode");
    expect(Object.keys(Object(encode.encodings)).sort()).toEqual(["gzip", "zstd"]);
    const patterns = [...objectsIn(encode.match)]
      .map((object) => object["Content-Type"])
      .find(Array.isArray);
    const compressed = (type: string) =>
      (patterns ?? []).some((pattern) => headerPatternMatches(String(pattern), type));
    for (const type of ["text/html; charset=utf-8", "application/json", "text/css"]) {
      expect(compressed(type)).toBe(true);
    }
    for (const type of [
      "application/x-git-upload-pack-advertisement",
      "application/x-git-upload-pack-result",
      "application/x-git-receive-pack-advertisement",
      "application/x-git-receive-pack-result",
      "text/event-stream",
      "application/octet-stream",
    ]) {
      expect(compressed(type)).toBe(false);
    }

    const headers = handlerNamed(config, "headers");
    expect(Object(headers.response).set).toEqual({
      "Strict-Transport-Security": ["max-age=31536000; includeSubDomains"],
    });

    const writer = objects.find((object) => object.output === "file");
    expect(writer?.filename).toBe("/var/log/caddy/wikibot-access.log");
    const queryFilter = objects.find((object) => object.filter === "query");
    expect(queryFilter?.actions).toEqual([
      { parameter: "code", type: "replace", value: "REDACTED" },
      { parameter: "state", type: "replace", value: "REDACTED" },
    ]);
  });
});

describe("systemd unit", () => {
  /** The unit's `Key=value` lines (the last one wins, as in systemd), comments skipped. */
  function unitSettings(text: string): Map<string, string> {
    const settings = new Map<string, string>();
    for (const line of text.split("\n")) {
      const match = line.match(/^([A-Za-z]+)=(.*)$/);
      if (match?.[1] !== undefined) settings.set(match[1], match[2] ?? "");
    }
    return settings;
  }
  const unit = readFileSync(UNIT_PATH, "utf8");

  test("`systemd-analyze verify` finds nothing to report", async () => {
    const verified = await run([toolPath(SYSTEMD_ANALYZE), "verify", UNIT_PATH]);
    expect(`${verified.stdout}${verified.stderr}`).toBe("");
    expect(verified.exitCode).toBe(0);
  });

  test("`systemd-analyze verify` would catch a broken unit: a missing program, an unknown key", async () => {
    // It exits 0 on mere warnings, which is why the test above demands silence.
    const broken = join(scratch, "wikibot.service");
    await Bun.write(
      broken,
      unit
        .replace(/^ExecStart=bun /m, "ExecStart=no-such-program ")
        .replace(/^PrivateTmp=yes$/m, "PrivateTemp=yes"),
    );
    const verified = await run([toolPath(SYSTEMD_ANALYZE), "verify", broken]);
    expect(verified.exitCode).not.toBe(0);
    expect(verified.stderr).toContain("no-such-program");
    expect(verified.stderr).toContain("Unknown key 'PrivateTemp'");
  });

  test("restarts on failure, outlasts the server's shutdown deadline, and is hardened", () => {
    const settings = unitSettings(unit);
    expect(settings.get("ExecStart")).toBe("bun src/main.ts");
    expect(settings.get("Restart")).toBe("on-failure");
    // src/main.ts: writes in flight get SHUTDOWN_DEADLINE before the server exits by itself.
    const mainSource = readFileSync(join(PROJECT_DIR, "src", "main.ts"), "utf8");
    const deadline = Number(mainSource.match(/SHUTDOWN_DEADLINE = (\d+) \* SECOND;/)?.[1]);
    expect(deadline).toBeGreaterThan(0);
    expect(Number(settings.get("TimeoutStopSec"))).toBeGreaterThan(deadline);
    expect(settings.get("KillMode")).toBe("mixed");
    expect(settings.get("NoNewPrivileges")).toBe("yes");
    expect(settings.get("ProtectSystem")).toBe("strict");
    expect(settings.get("PrivateTmp")).toBe("yes");
    expect(settings.get("MemoryMax")).toMatch(/^\d+[KMG]$/);
    // DATA_DIR is the one place the server writes; strict makes everything else read-only.
    const dataDir = settings.get("Environment")?.match(/^DATA_DIR=(\S+)$/)?.[1];
    expect(dataDir).toBe("/var/lib/wikibot");
    expect(settings.get("ReadWritePaths")?.split(/\s+/)).toContain(dataDir);
  });
});
