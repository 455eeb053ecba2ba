import { describe, expect, test } from "bun:test";
import { RateLimiter, takeAll } from "./rate-limit.ts";

function clock() {
  let at = 0;
  return { now: () => at, advance: (ms: number) => (at += ms) };
}

describe("RateLimiter", () => {
  test("admits a burst, then refuses with the wait until the next request is earned", () => {
    const time = clock();
    const limiter = new RateLimiter({ burst: 3, perMinute: 6, maxKeys: 10, now: time.now });
    expect([1, 2, 3].map(() => limiter.take("a").ok)).toEqual([true, true, true]);
    expect(limiter.take("a")).toEqual({ ok: false, retryAfterSeconds: 10 });
    // Other keys have their own bucket.
    expect(limiter.take("b").ok).toBe(true);
    time.advance(10_000);
    expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("a").ok).toBe(false);
  });

  test("never holds more than maxKeys; the least recently seen key is forgotten", () => {
    const time = clock();
    const limiter = new RateLimiter({ burst: 1, perMinute: 1, maxKeys: 2, now: time.now });
    expect(limiter.take("a").ok).toBe(true);
    expect(limiter.take("b").ok).toBe(true);
    expect(limiter.take("a").ok).toBe(false);
    // "b" is now the least recently seen; "c" pushes it out and "a" stays limited.
    expect(limiter.take("c").ok).toBe(true);
    expect(limiter.take("a").ok).toBe(false);
    expect(limiter.take("b").ok).toBe(true);
  });

  test("takeAll refuses at the first limit that refuses and charges none after it", () => {
    const time = clock();
    const perKey = new RateLimiter({ burst: 1, perMinute: 1, maxKeys: 10, now: time.now });
    const global = new RateLimiter({ burst: 2, perMinute: 1, maxKeys: 1, now: time.now });
    expect(
      takeAll([
        [perKey, "x"],
        [global, ""],
      ]).ok,
    ).toBe(true);
    // "x" is refused many times; the shared limit is not drained by it.
    for (let i = 0; i < 5; i++)
      expect(
        takeAll([
          [perKey, "x"],
          [global, ""],
        ]),
      ).toEqual({ ok: false, retryAfterSeconds: 60 });
    expect(
      takeAll([
        [perKey, "y"],
        [global, ""],
      ]).ok,
    ).toBe(true);
    expect(
      takeAll([
        [perKey, "z"],
        [global, ""],
      ]).ok,
    ).toBe(false);
  });
});
