import { describe, expect, test } from "bun:test";
import { isValidCodeVerifier, isValidS256Challenge, s256, verifierMatches } from "./pkce.ts";

describe("PKCE S256 (RFC 7636)", () => {
  // RFC 7636 Appendix B.
  const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

  test("the RFC's example verifier yields its challenge", () => {
    expect(s256(verifier)).toBe(challenge);
    expect(verifierMatches(verifier, challenge)).toBe(true);
  });

  test("a different verifier does not match", () => {
    expect(verifierMatches(`${verifier.slice(0, -1)}Y`, challenge)).toBe(false);
  });

  test("verifiers are 43 to 128 unreserved characters", () => {
    expect(isValidCodeVerifier("a".repeat(43))).toBe(true);
    expect(isValidCodeVerifier("a".repeat(128))).toBe(true);
    expect(isValidCodeVerifier("-._~AZaz09".repeat(5))).toBe(true);
    expect(isValidCodeVerifier("a".repeat(42))).toBe(false);
    expect(isValidCodeVerifier("a".repeat(129))).toBe(false);
    expect(isValidCodeVerifier(`${"a".repeat(42)}+`)).toBe(false);
    expect(isValidCodeVerifier(`${"a".repeat(42)}=`)).toBe(false);
    expect(isValidCodeVerifier(`${"a".repeat(42)} `)).toBe(false);
  });

  test("an invalid verifier never matches, even one whose hash would", () => {
    const short = "abc";
    expect(verifierMatches(short, s256(short))).toBe(false);
  });

  test("the plain method's challenge (the verifier itself) does not pass as S256", () => {
    expect(verifierMatches(verifier, verifier)).toBe(false);
  });

  test("challenges are 43 base64url characters", () => {
    expect(isValidS256Challenge(challenge)).toBe(true);
    expect(isValidS256Challenge(`${challenge}=`)).toBe(false);
    expect(isValidS256Challenge(challenge.slice(1))).toBe(false);
    expect(isValidS256Challenge(challenge.replace("-", "+"))).toBe(false);
  });
});
