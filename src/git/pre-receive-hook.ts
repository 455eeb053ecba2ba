/**
 * The pre-receive hook's program (installed by push-hook.ts). receive-pack runs it after
 * unpacking a push into quarantine and before moving any ref; what it prints reaches the pusher
 * as `remote:` lines, and a non-zero exit refuses every ref of the push (githooks.adoc
 * "pre-receive"). It reads only what receive-pack and our own hook script hand it: the ref
 * updates on stdin, GIT_DIR, the quarantine variables, the file size limit as its argument, and
 * the wiki's plan and page totals, which the server put in receive-pack's environment.
 * It fails closed: if the check itself breaks, the push is refused.
 */
import { isAbsolute } from "node:path";
import { checkPush, type RefUpdate, readPushPlan, refusalLines } from "./push-check.ts";

const UPDATE = /^([0-9a-f]{40}) ([0-9a-f]{40}) (\S+)$/;
const QUARANTINE_VARIABLES = [
  "GIT_QUARANTINE_PATH",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
] as const;

async function main(): Promise<number> {
  const maxFileBytes = Number(process.argv[2]);
  const gitDir = process.env.GIT_DIR ?? "";
  if (!Number.isSafeInteger(maxFileBytes) || maxFileBytes <= 0 || !isAbsolute(gitDir)) {
    throw new Error("the hook was started without its settings");
  }
  const quarantineEnv: Record<string, string> = {};
  for (const name of QUARANTINE_VARIABLES) {
    const value = process.env[name];
    if (value !== undefined) quarantineEnv[name] = value;
  }
  const updates: RefUpdate[] = [];
  for (const line of (await Bun.stdin.text()).split("\n")) {
    if (line === "") continue;
    const match = UPDATE.exec(line);
    if (match === null) throw new Error("receive-pack sent an unreadable ref update");
    const [, oldOid = "", newOid = "", ref = ""] = match;
    updates.push({ oldOid, newOid, ref });
  }
  const plan = readPushPlan(process.env);
  const problems = await checkPush({ gitDir, quarantineEnv, maxFileBytes, plan }, updates);
  if (problems.length === 0) return 0;
  process.stderr.write(`${[...refusalLines(problems), ...requestLine()].join("\n")}\n`);
  return 1;
}

/** The request this push came in on (gitEnvironment), for the operator's logs; none by hand. */
function requestLine(): string[] {
  const id = process.env.WIKIBOT_REQUEST_ID;
  return id !== undefined && /^[A-Za-z0-9._-]{1,64}$/.test(id) ? [`request id: ${id}`] : [];
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Our own repository paths stay on the server.
    const detail = String(error instanceof Error ? error.message : error)
      .split(process.env.GIT_DIR ?? "\0")
      .join("<repository>")
      .split("\n")[0];
    process.stderr.write(
      `${[`the server could not check this push, so nothing was pushed; try again, and tell the wiki's operator if it keeps failing (${detail})`, ...requestLine()].join("\n")}\n`,
    );
    process.exit(1);
  },
);
