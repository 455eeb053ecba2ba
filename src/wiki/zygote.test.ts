/**
 * The launcher's side of the zygote's control channel, against a stand-in zygote that speaks
 * the protocol (zygote.py's docstring) and misbehaves on purpose.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createLogger } from "../lib/log.ts";
import { OtterwikiStartError } from "./otterwiki-process.ts";
import { Zygote } from "./zygote.ts";

const PROJECT_DIR = resolve(import.meta.dir, "..", "..");
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A zygote.py that forks nothing: its child "exits" in the same write that reports it. */
const INSTANT_EXIT = `
import json, os, sys
print(json.dumps({"event": "zygote-ready", "pid": os.getpid()}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    sys.stdout.write(
        json.dumps({"event": "spawned", "socket": request["socket"], "pid": 999999}) + "\\n"
        + json.dumps({"event": "exit", "pid": 999999, "code": 1}) + "\\n"
    )
    sys.stdout.flush()
`;

function standIn(script: string) {
  const dir = mkdtempSync(join(tmpdir(), "wikibot-zygote-"));
  dirs.push(dir);
  writeFileSync(join(dir, "zygote.py"), script);
  const zygote = new Zygote({
    python: "python3",
    wrapperDir: dir,
    runDir: dir,
    logger: createLogger("error"),
  });
  const launch = {
    gunicorn: "",
    wrapperDir: dir,
    wikiDir: dir,
    stateDir: join(dir, "state"),
    socket: join(dir, "ow-1.sock"),
    env: { WIKIBOT_SECRET: "not-for-the-zygote" },
  };
  return { zygote, launch, dir };
}

describe("a child that ends at once", () => {
  test("its exit reported with its fork fails the start instead of hanging, and its secret file goes", async () => {
    const { zygote, launch } = standIn(INSTANT_EXIT);
    try {
      const failed = await zygote.start(launch).then(
        () => null,
        (error: unknown) => error,
      );
      expect(failed).toBeInstanceOf(OtterwikiStartError);
      expect(String(failed)).toContain("exited during start-up");
      expect(await Bun.file(join(launch.stateDir, "launch-env.json")).exists()).toBe(false);
    } finally {
      await zygote.close();
    }
  });
});

/** wiki_child's own serving loop, on a socket, with a WSGI app that can be slow on purpose. */
const SLOW_APP = `
import sys, time
sys.path.insert(0, sys.argv[1])
import wiki_child
wiki_child.REQUEST_TIME_LIMIT = 1
def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(30)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done"]
server = wiki_child._UnixWSGIServer(sys.argv[2], wiki_child._Handler)
server.set_app(app)
print("listening", flush=True)
wiki_child._serve(server)
`;

describe("a request that runs too long", () => {
  test("ends the wiki's process, as gunicorn's worker timeout did, so it cannot hold the wiki", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wikibot-child-"));
    dirs.push(dir);
    const socket = join(dir, "ow.sock");
    const child = Bun.spawn(
      [
        join(PROJECT_DIR, ".venv", "bin", "python"),
        "-c",
        SLOW_APP,
        join(PROJECT_DIR, "src", "wiki", "otterwiki"),
        socket,
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    try {
      const reader = child.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain("listening");
      const fast = await fetch("http://localhost/fast", { unix: socket });
      expect(await fast.text()).toBe("done");
      const slow = await fetch("http://localhost/slow", { unix: socket }).then(
        (response) => response.status,
        () => "cut",
      );
      expect(slow).toBe("cut");
      expect(await child.exited).toBe(1);
      expect(await new Response(child.stderr).text()).toContain("request took over 1 s");
    } finally {
      child.kill("SIGKILL");
    }
  });
});
