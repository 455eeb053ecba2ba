/**
 * Conditional requests (RFC 9110 §13) on pages: the ETag is the page's revision, `If-Match`
 * makes a write optimistic, `If-None-Match: *` makes PUT create-only, and `If-None-Match` on GET
 * allows 304. Only strong tags match (§13.1.1 uses the strong comparison for If-Match).
 */
import { ApiError } from "./api-error.ts";

export type EntityTags = "*" | string[];

export function etagOf(revision: string): string {
  return `"${revision}"`;
}

/** Null when the header is absent; weak tags are dropped because they never match strongly. */
export function parseEntityTags(header: string | null): EntityTags | null {
  if (header === null) return null;
  if (header.trim() === "*") return "*";
  const tags = [...header.matchAll(/(W\/)?"([\x21\x23-\x7e]*)"/g)]
    .filter((match) => match[1] === undefined)
    .map((match) => (match[2] ?? "").toLowerCase());
  if (tags.length === 0 && !/W\//.test(header)) {
    throw new ApiError(
      400,
      "bad_precondition",
      'entity tags must be quoted, e.g. If-Match: "<revision>"',
    );
  }
  return tags;
}

/**
 * What a write expects of the page, from If-Match / If-None-Match. `exact` is checked atomically
 * by the store; `match` (a list or `*`) needs the current revision first, which the caller reads.
 */
export type WritePrecondition =
  | { kind: "none" }
  | { kind: "absent" }
  | { kind: "exact"; revision: string }
  | { kind: "match"; tags: EntityTags };

export function writePrecondition(
  ifMatch: string | null,
  ifNoneMatch: string | null,
  allowCreateOnly: boolean,
): WritePrecondition {
  const match = parseEntityTags(ifMatch);
  const noneMatch = parseEntityTags(ifNoneMatch);
  if (match !== null && noneMatch !== null) {
    throw new ApiError(400, "bad_precondition", "send If-Match or If-None-Match, not both");
  }
  if (noneMatch !== null) {
    if (noneMatch !== "*" || !allowCreateOnly) {
      throw new ApiError(
        400,
        "bad_precondition",
        "only If-None-Match: * (create only) is supported here",
      );
    }
    return { kind: "absent" };
  }
  if (match === null) return { kind: "none" };
  if (match !== "*" && match.length === 1 && match[0] !== undefined) {
    return { kind: "exact", revision: match[0] };
  }
  return { kind: "match", tags: match };
}

export function preconditionFailed(message: string, currentRevision: string | null): ApiError {
  return new ApiError(412, "precondition_failed", message, { current_revision: currentRevision });
}
