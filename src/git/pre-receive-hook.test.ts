import { expect, test } from "bun:test";
import { join } from "node:path";

test("the hook refuses the push when it cannot run its check (fails closed)", async () => {
  const hook = Bun.spawn([process.execPath, join(import.meta.dir, "pre-receive-hook.ts")], {
    env: { PATH: "/usr/bin:/bin" },
    stdin: new TextEncoder().encode(`${"0".repeat(40)} ${"1".repeat(40)} refs/heads/main\n`),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stderr, exitCode] = await Promise.all([new Response(hook.stderr).text(), hook.exited]);
  expect(exitCode).toBe(1);
  expect(stderr).toContain("the server could not check this push, so nothing was pushed");
});
