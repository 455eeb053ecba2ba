/**
 * The plans in one place (DESIGN §5, issue 12): what a free, premium or lapsed wiki may do, and
 * the sentence every surface shows when a plan says no. The access decision asks here about
 * writes, git push and MCP; the page store, the git pre-receive hook and the browser proxy about
 * the page quotas; wiki creation about the per-owner count. No surface reads `wiki.tier` itself,
 * so no two can disagree. Roles and tokens are not decided here (src/auth/access-decision.ts),
 * and the numbers come from src/config/config.ts, never from the environment directly.
 */
import type { PlanLimits, PlanQuotas } from "../config/config.ts";
import type { Tier, Wiki } from "./wiki-store.ts";

export interface PlanFeatures {
  /** Pages may change (browser, REST, MCP; git push needs `gitPush` too). */
  writes: boolean;
  /** `git push` is accepted; fetching is a read and always allowed. */
  gitPush: boolean;
  /** The MCP endpoint answers at all (read tools included). */
  mcp: boolean;
}

/** Fixed by DESIGN §5; only the quotas are configurable. */
export const PLAN_FEATURES: Readonly<Record<Tier, Readonly<PlanFeatures>>> = Object.freeze({
  free: { writes: true, gitPush: false, mcp: true },
  premium: { writes: true, gitPush: true, mcp: true },
  lapsed: { writes: false, gitPush: false, mcp: false },
});

export type Plan = { tier: Tier } & PlanFeatures & PlanQuotas;

/** Why a plan refuses an action: a lapsed wiki changes nothing; a free one takes no push. */
export type PlanRefusalReason = "lapsed" | "free_plan";

export interface PlanRefusal {
  reason: PlanRefusalReason;
  /** One sentence, no final period (each surface adds its own wording around it). */
  message: string;
}

export type PlanAction = "write" | "push" | "mcp";

/** The plan's answer to `action` on `wiki`, before roles and tokens are looked at. */
export function planRefusal(wiki: Wiki, action: PlanAction): PlanRefusal | null {
  const features = PLAN_FEATURES[wiki.tier];
  if (action === "mcp") {
    return features.mcp
      ? null
      : {
          reason: "lapsed",
          message: `${wiki.slug}'s subscription has lapsed: the wiki is read-only and MCP is disabled until its owner renews the plan`,
        };
  }
  if (!features.writes) {
    return {
      reason: "lapsed",
      message: `${wiki.slug}'s subscription has lapsed: the wiki is read-only until its owner renews the plan`,
    };
  }
  if (action === "push" && !features.gitPush) {
    return {
      reason: "free_plan",
      message: `${wiki.slug} is on the ${wiki.tier} plan: git access is read-only; upgrade it to premium to push, or edit pages in the browser or over MCP`,
    };
  }
  return null;
}

/** How many Markdown pages a wiki holds and the sum of their sizes in bytes. */
export interface PageTotals {
  pages: number;
  bytes: number;
}

/** "50 MiB", "1.5 GiB", "900 bytes": quotas are read by people. */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 || Number.isInteger(value) ? String(value) : value.toFixed(1);
  return `${shown} ${units[unit]}`;
}

/** The plans' quotas, from the configuration; one instance per process. */
export class PlanPolicy {
  constructor(private readonly limits: PlanLimits) {}

  /**
   * Everything `tier` allows. NOTE: a lapsed wiki keeps the free numbers; they never apply,
   * since it may not write at all.
   */
  planOf(tier: Tier): Plan {
    const quotas = tier === "premium" ? this.limits.premium : this.limits.free;
    return { tier, ...PLAN_FEATURES[tier], ...quotas };
  }

  /**
   * Null when someone who already owns (created) `owned` wikis may create one more on `tier`;
   * else the sentence saying why not. The new wiki's plan sets the limit: new wikis from the
   * app start free, and only the operator creates premium ones (and may exceed any limit).
   */
  refuseNewWiki(tier: Tier, owned: number): string | null {
    const limit = this.planOf(tier).wikisPerOwner;
    if (owned < limit) return null;
    return `you already own ${owned} wiki${owned === 1 ? "" : "s"}, and the ${tier} plan allows ${limit} per person; delete one you no longer need, or ask the operator for more`;
  }

  /** Null when a change that takes `wiki` from `before` to `after` fits its plan. */
  refusePageChange(wiki: Wiki, before: PageTotals, after: PageTotals): string | null {
    return pageChangeRefusal(wiki.slug, this.planOf(wiki.tier), before, after);
  }
}

/**
 * Null when a change that takes wiki `slug` from `before` to `after` fits `plan`; else the
 * sentence saying why not. Only growth past a quota is refused: a wiki over its quota (after a
 * downgrade, or a lowered limit) can still be edited smaller and cleaned up. A plain function of
 * plain data, so the git pre-receive hook (its own process) words it exactly as the server does.
 */
export function pageChangeRefusal(
  slug: string,
  plan: Plan,
  before: PageTotals,
  after: PageTotals,
): string | null {
  const remedy = plan.tier === "free" ? ", or ask its owner to upgrade it to premium" : " first";
  if (after.pages > plan.pagesPerWiki && after.pages > before.pages) {
    return `${slug} is on the ${plan.tier} plan, which allows ${plan.pagesPerWiki} pages per wiki, and this change would make ${after.pages}: delete or merge pages${remedy}`;
  }
  if (after.bytes > plan.bytesPerWiki && after.bytes > before.bytes) {
    return `${slug} is on the ${plan.tier} plan, which allows ${formatBytes(plan.bytesPerWiki)} of pages per wiki, and this change would make ${formatBytes(after.bytes)}: shorten or delete pages${remedy}`;
  }
  return null;
}
