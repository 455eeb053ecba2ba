import { describe, expect, test } from "bun:test";
import { PageError } from "./page-error.ts";
import { WriteGate } from "./write-gate.ts";

describe("WriteGate", () => {
  test("tasks for one wiki run one at a time, in arrival order, even when one fails", async () => {
    const gate = new WriteGate();
    const events: string[] = [];
    const task = (name: string, ms: number, fail = false) =>
      gate.run(1, async () => {
        events.push(`start ${name}`);
        await Bun.sleep(ms);
        events.push(`end ${name}`);
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task("a", 20), task("b", 1, true), task("c", 5)]);
    expect(events).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  });

  test("different wikis do not wait for each other", async () => {
    const gate = new WriteGate();
    const events: string[] = [];
    let release: () => void = () => {};
    const blocker = gate.run(1, () => new Promise<void>((resolve) => (release = resolve)));
    await gate.run(2, async () => events.push("wiki 2 ran"));
    expect(events).toEqual(["wiki 2 ran"]);
    release();
    await blocker;
  });

  test("close waits for admitted work and refuses new work", async () => {
    const gate = new WriteGate();
    let finished = false;
    const running = gate.run(1, async () => {
      await Bun.sleep(30);
      finished = true;
    });
    const closing = gate.close();
    await expect(gate.run(1, async () => "late")).rejects.toBeInstanceOf(PageError);
    await closing;
    expect(finished).toBe(true);
    await running;
  });
});
