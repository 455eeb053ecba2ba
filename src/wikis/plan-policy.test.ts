import { describe, expect, test } from "bun:test";
import { DEFAULT_PLAN_LIMITS } from "../config/config.ts";
import { formatBytes, PLAN_FEATURES, PlanPolicy, planRefusal } from "./plan-policy.ts";
import type { Tier, Wiki } from "./wiki-store.ts";

const policy = new PlanPolicy({
  free: { wikisPerOwner: 2, pagesPerWiki: 3, bytesPerWiki: 2048 },
  premium: { wikisPerOwner: 5, pagesPerWiki: 10, bytesPerWiki: 4096 },
});

function wikiOn(tier: Tier): Wiki {
  return {
    id: 1,
    slug: "demo",
    name: "Demo",
    ownerId: 1,
    isPublic: false,
    tier,
    createdAt: 0,
    indexedCommit: null,
  };
}

describe("plan features (DESIGN §5)", () => {
  test("free writes and serves MCP but takes no push; premium does all; lapsed nothing", () => {
    expect(PLAN_FEATURES.free).toEqual({ writes: true, gitPush: false, mcp: true });
    expect(PLAN_FEATURES.premium).toEqual({ writes: true, gitPush: true, mcp: true });
    expect(PLAN_FEATURES.lapsed).toEqual({ writes: false, gitPush: false, mcp: false });
  });

  test.each([
    ["free", "write", null],
    ["free", "mcp", null],
    ["free", "push", "free_plan"],
    ["premium", "push", null],
    ["lapsed", "write", "lapsed"],
    ["lapsed", "push", "lapsed"],
    ["lapsed", "mcp", "lapsed"],
  ] as const)("%s wiki, %s: %s", (tier, action, reason) => {
    expect(planRefusal(wikiOn(tier), action)?.reason ?? null).toBe(reason);
  });

  test("a lapsed wiki's MCP refusal says MCP is off; its write refusal says read-only", () => {
    expect(planRefusal(wikiOn("lapsed"), "mcp")?.message).toContain("MCP is disabled");
    expect(planRefusal(wikiOn("lapsed"), "write")?.message).toBe(
      "demo's subscription has lapsed: the wiki is read-only until its owner renews the plan",
    );
  });
});

describe("quotas", () => {
  test("each plan's numbers come from the limits; lapsed keeps free's", () => {
    expect(policy.planOf("premium").pagesPerWiki).toBe(10);
    expect(policy.planOf("free").bytesPerWiki).toBe(2048);
    expect(policy.planOf("lapsed").pagesPerWiki).toBe(3);
    expect(new PlanPolicy(DEFAULT_PLAN_LIMITS).planOf("free").wikisPerOwner).toBe(10);
  });

  test("the n+1th wiki is refused with the count and the limit", () => {
    expect(policy.refuseNewWiki("free", 1)).toBeNull();
    expect(policy.refuseNewWiki("free", 2)).toBe(
      "you already own 2 wikis, and the free plan allows 2 per person; delete one you no longer need, or ask the operator for more",
    );
    expect(policy.refuseNewWiki("premium", 2)).toBeNull();
  });

  test("a change past the page quota is refused, naming the plan and the numbers", () => {
    const free = wikiOn("free");
    expect(policy.refusePageChange(free, { pages: 2, bytes: 10 }, { pages: 3, bytes: 20 })).toBe(
      null,
    );
    expect(policy.refusePageChange(free, { pages: 3, bytes: 10 }, { pages: 4, bytes: 20 })).toBe(
      "demo is on the free plan, which allows 3 pages per wiki, and this change would make 4: delete or merge pages, or ask its owner to upgrade it to premium",
    );
  });

  test("a change past the byte quota is refused in readable units", () => {
    const refusal = policy.refusePageChange(
      wikiOn("premium"),
      { pages: 1, bytes: 4000 },
      { pages: 1, bytes: 4200 },
    );
    expect(refusal).toBe(
      "demo is on the premium plan, which allows 4 KiB of pages per wiki, and this change would make 4.1 KiB: shorten or delete pages first",
    );
  });

  test("a wiki already over its quota may shrink, or stay the same, but not grow", () => {
    const over = { pages: 9, bytes: 9000 };
    const free = wikiOn("free");
    expect(policy.refusePageChange(free, over, { pages: 8, bytes: 8000 })).toBeNull();
    expect(policy.refusePageChange(free, over, over)).toBeNull();
    expect(policy.refusePageChange(free, over, { pages: 9, bytes: 9001 })).toContain("2 KiB");
  });

  test.each([
    [900, "900 bytes"],
    [2048, "2 KiB"],
    [50 * 1024 * 1024, "50 MiB"],
    [1536 * 1024 * 1024, "1.5 GiB"],
  ])("formatBytes(%d) is %s", (bytes, shown) => {
    expect(formatBytes(bytes)).toBe(shown);
  });
});
