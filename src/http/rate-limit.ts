/**
 * A token bucket per key, in memory: each key may spend `burst` requests at once and earns
 * `perMinute` back over a minute. The map is bounded: when full, the key that went longest
 * without a request is forgotten (it had the fullest bucket anyway), so a flood of distinct
 * keys costs memory up to `maxKeys` and no more.
 */

export interface RateLimitOptions {
  burst: number;
  perMinute: number;
  maxKeys: number;
  /** Milliseconds; injectable for tests. */
  now?: () => number;
}

export type RateDecision = { ok: true } | { ok: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  updatedAt: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly perMs: number;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? (() => performance.now());
    this.perMs = options.perMinute / 60_000;
  }

  /** Spends one request for `key`, or says how long until one is available. */
  take(key: string): RateDecision {
    const now = this.now();
    const known = this.buckets.get(key);
    let tokens = this.options.burst;
    if (known !== undefined) {
      tokens = Math.min(this.options.burst, known.tokens + (now - known.updatedAt) * this.perMs);
      // Re-inserted below, so the map's order stays "least recently seen first".
      this.buckets.delete(key);
    } else if (this.buckets.size >= this.options.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    if (tokens < 1) {
      this.buckets.set(key, { tokens, updatedAt: now });
      return { ok: false, retryAfterSeconds: Math.ceil((1 - tokens) / this.perMs / 1000) };
    }
    this.buckets.set(key, { tokens: tokens - 1, updatedAt: now });
    return { ok: true };
  }
}

/**
 * Several limits in order, narrowest first: the first refusal refuses, and later limits are not
 * charged for it, so one client's refused flood cannot drain a shared limit.
 */
export function takeAll(checks: [RateLimiter, string][]): RateDecision {
  for (const [limiter, key] of checks) {
    const decision = limiter.take(key);
    if (!decision.ok) return decision;
  }
  return { ok: true };
}

/** A per-client limit and a limit for everyone together, checked in that order (takeAll). */
export function perClientAndEveryone(
  perClient: { burst: number; perMinute: number },
  everyone: { burst: number; perMinute: number },
): (clientKey: string) => RateDecision {
  const clients = new RateLimiter({ ...perClient, maxKeys: 10_000 });
  const all = new RateLimiter({ ...everyone, maxKeys: 1 });
  return (clientKey) =>
    takeAll([
      [clients, clientKey],
      [all, ""],
    ]);
}

/**
 * The limits on starting a sign-in or an authorization (Bluesky, GitHub, Google, a wiki's OAuth
 * authorize). A Bluesky start makes us resolve a handle and push an authorization request to a
 * server the form names, and every start stores a state: bounded per client, and for everyone
 * together so a crowd of clients cannot turn us into a request cannon or push real people's
 * states out. A person retrying by hand stays far below both.
 */
export function signInStartLimits(): (clientKey: string) => RateDecision {
  return perClientAndEveryone({ burst: 20, perMinute: 20 }, { burst: 300, perMinute: 600 });
}
