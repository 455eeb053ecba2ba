/**
 * Runs a writer script as a child, collects its `ack <json>` lines, and SIGKILLs it `killAfterMs`
 * after it printed `ready` (or from its start when `fromStart`), for the crash tests: only what
 * was acknowledged before the kill must survive.
 */
import { join } from "node:path";
import { PROJECT_DIR } from "./server.ts";

export async function runAndKill(
  script: string,
  args: readonly string[],
  killAfterMs: number,
  fromStart = false,
): Promise<unknown[]> {
  const child = Bun.spawn(["bun", join(PROJECT_DIR, script), ...args], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const acks: unknown[] = [];
  let buffered = "";
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const reader = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf("\n");
      while (newline !== -1) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        if (line === "ready") markReady();
        if (line.startsWith("ack ")) acks.push(JSON.parse(line.slice(4)));
        newline = buffered.indexOf("\n");
      }
    }
    markReady();
  })();
  // A slow start on a loaded machine must not swallow the whole round: time from `ready`.
  if (!fromStart) await Promise.race([ready, Bun.sleep(30_000)]);
  await Bun.sleep(killAfterMs);
  child.kill("SIGKILL");
  await child.exited;
  await reader;
  return acks;
}
