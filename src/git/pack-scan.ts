/**
 * Reads the packfile of a spooled `git push` before the wiki's write gate is taken, so an object
 * larger than any file may be is refused by the size in its header instead of being inflated by
 * receive-pack under the gate (a gigabyte of zeros is under a megabyte on the wire and costs git
 * ~11 s to inflate), and so is a pack whose objects together would make git inflate and rebuild
 * more than a budget. It walks the objects (gitformat-pack.adoc, "pack-*.pack files have the
 * following format") and inflates each one at most to its declared size, which is at most the
 * limit. It validates nothing else: a pack it cannot read is left to receive-pack, which checks
 * everything again under the gate. One flow (commands, header, entries, zlib), kept in one file.
 */

import { createInflate, inflateSync } from "node:zlib";
import type { BunFile } from "bun";
import { MAX_PAGE_BYTES } from "../pages/page-rules.ts";
import { parseEntryHeader, readSizeVarint } from "../repo/pack-format.ts";
import { MAX_PACKET_LENGTH } from "./pkt-line.ts";

export interface PackScanOptions {
  /** The largest object, inflated (or made by a delta), that the push may carry. */
  maxObjectBytes: number;
  /**
   * The most bytes git may have to inflate and rebuild for the whole pack: every object's size,
   * and for a delta the larger of its own size and the size it makes. Without it, thousands of
   * deltas of a few bytes, each making a file just under the limit from one base, are a push of
   * kilobytes that keeps git busy for hours.
   */
  maxInflatedBytes: number;
  /** The longest run of synchronous work between two turns of the event loop. */
  sliceMs?: number;
}

export type ObjectKind = "commit" | "tree" | "blob" | "tag" | "ofs-delta" | "ref-delta";

export type PackScanResult =
  /** No pack follows the commands (a push that only deletes, or an empty request). */
  | { kind: "no-pack" }
  | { kind: "within-limits"; objects: number; inflatedBytes: number }
  /** Refuse: one object is over the limit (`delta-result`: the size a delta makes). */
  | {
      kind: "oversized";
      object: ObjectKind;
      bytes: number;
      measured: "size" | "delta-result";
      limit: number;
    }
  /** Refuse: the objects so far already make more than `maxInflatedBytes`. */
  | { kind: "too-much-to-unpack"; objects: number; inflatedBytes: number; budget: number }
  /** Something we could not read (truncated, malformed): receive-pack will judge it. */
  | { kind: "unreadable"; reason: string; objects: number };

/** Object types by their 3-bit code in an entry header; 0 and 5 are invalid. */
const OBJECT_KINDS: readonly (ObjectKind | null)[] = [
  null,
  "commit",
  "tree",
  "blob",
  "tag",
  null,
  "ofs-delta",
  "ref-delta",
];
/** Declared sizes up to this are inflated in one synchronous call (well under a millisecond). */
const SYNC_INFLATE_MAX_BYTES = 256 * 1024;
const READ_BYTES = 1024 * 1024;
const STREAM_SLICE_BYTES = 256 * 1024;
/** Enough inflated bytes to hold a delta's two size varints. */
const DELTA_HEADER_BYTES = 32;

/** Scans the receive-pack request in `path`: the ref-update commands, then the pack. */
export async function scanPushedPack(
  path: string,
  options: PackScanOptions,
): Promise<PackScanResult> {
  const limit = options.maxObjectBytes;
  const sliceMs = options.sliceMs ?? 8;
  const reader = new SpoolReader(Bun.file(path));
  let yieldedAt = performance.now();
  const pause = async () => {
    if (performance.now() - yieldedAt < sliceMs) return;
    await new Promise((resolve) => setImmediate(resolve));
    yieldedAt = performance.now();
  };

  // The commands: data pkt-lines up to the first flush (or any other special packet, as
  // receive-pack.c `read_head_info` stops there too). receive.advertisePushOptions is off, so no
  // push-options section follows (read_head_info sets use_push_options only when advertised).
  // Parsed in place, a megabyte at a time: a request may hold millions of tiny pkt-lines.
  if (reader.remaining === 0) return { kind: "no-pack" };
  for (let ended = false; !ended; ) {
    await pause();
    const chunk = await reader.peek(READ_BYTES);
    let offset = 0;
    while (offset + 4 <= chunk.byteLength) {
      const length = pktLineLength(chunk, offset);
      if (length === null || length === 3 || length > MAX_PACKET_LENGTH) {
        return { kind: "unreadable", reason: "a malformed pkt-line", objects: 0 };
      }
      if (length < 4) {
        offset += 4;
        ended = true;
        break;
      }
      if (offset + length > chunk.byteLength) break;
      offset += length;
    }
    // A chunk holds at least one whole pkt-line unless the request ends first.
    if (offset === 0) return { kind: "unreadable", reason: "the commands end early", objects: 0 };
    reader.skip(offset);
  }
  if (reader.remaining === 0) return { kind: "no-pack" };

  const header = await reader.peek(12);
  if (header.byteLength < 12 || new TextDecoder().decode(header.subarray(0, 4)) !== "PACK") {
    return { kind: "unreadable", reason: "no PACK signature after the commands", objects: 0 };
  }
  const view = new DataView(header.buffer, header.byteOffset, 12);
  const version = view.getUint32(4);
  if (version !== 2 && version !== 3) {
    return { kind: "unreadable", reason: `pack version ${version}`, objects: 0 };
  }
  const count = view.getUint32(8);
  reader.skip(12);

  const budget = options.maxInflatedBytes;
  let inflatedBytes = 0;
  for (let index = 0; index < count; index++) {
    await pause();
    const entry = await readEntryHeader(reader);
    if (entry.kind === "unreadable") return { ...entry, objects: index };
    if (entry.size > limit) {
      return {
        kind: "oversized",
        object: entry.object,
        bytes: entry.size,
        measured: "size",
        limit,
      };
    }
    // Counted before inflating, so the scan itself never inflates more than the budget.
    inflatedBytes += entry.size;
    if (inflatedBytes > budget) {
      return { kind: "too-much-to-unpack", objects: index + 1, inflatedBytes, budget };
    }
    const inflated = await inflateEntry(reader, entry.size);
    if (inflated.kind === "unreadable") {
      return { kind: "unreadable", reason: inflated.reason, objects: index };
    }
    if (entry.object === "ofs-delta" || entry.object === "ref-delta") {
      // A delta starts with the size of its base and the size of what it makes
      // (gitformat-pack.adoc, "Deltified representation").
      const base = readSizeVarint(inflated.head, 0);
      const result = base === null ? null : readSizeVarint(inflated.head, base.next);
      if (result === null) {
        return { kind: "unreadable", reason: "a delta without its header", objects: index };
      }
      if (result.value > limit) {
        const measured = "delta-result";
        return { kind: "oversized", object: entry.object, bytes: result.value, measured, limit };
      }
      inflatedBytes += Math.max(0, result.value - entry.size);
      if (inflatedBytes > budget) {
        return { kind: "too-much-to-unpack", objects: index + 1, inflatedBytes, budget };
      }
    }
  }
  return { kind: "within-limits", objects: count, inflatedBytes };
}

/** The refusal as the pusher reads it. */
export function packRefusalMessage(
  result: Extract<PackScanResult, { kind: "oversized" | "too-much-to-unpack" }>,
): string {
  if (result.kind === "too-much-to-unpack") {
    return `the push would make the server unpack more than ${result.budget} bytes (${result.inflatedBytes} bytes in its first ${result.objects} objects); push fewer commits at a time, e.g. \`git push origin <older commit>:main\` first`;
  }
  const delta = result.object === "ofs-delta" || result.object === "ref-delta";
  const what =
    result.measured === "delta-result"
      ? `an object of ${result.bytes} bytes (sent as a delta)`
      : delta
        ? `a delta of ${result.bytes} bytes`
        : result.object === "blob"
          ? `a file of ${result.bytes} bytes`
          : `a git ${result.object} of ${result.bytes} bytes`;
  const pages = result.limit > MAX_PAGE_BYTES ? ` (pages to ${MAX_PAGE_BYTES})` : "";
  return `the push contains ${what}; files are limited to ${result.limit} bytes${pages}`;
}

/**
 * A pkt-line's four hex digits (gitprotocol-common.adoc "pkt-line Format"), or null. Either case,
 * as git's own reader (pkt-line.c `packet_length`) takes both: a length we refused to read would
 * let a pack past the scan.
 */
function pktLineLength(bytes: Uint8Array, offset: number): number | null {
  let length = 0;
  for (let index = offset; index < offset + 4; index++) {
    const digit = bytes[index] ?? 0;
    let value = -1;
    if (digit >= 0x30 && digit <= 0x39) value = digit - 0x30;
    else if (digit >= 0x41 && digit <= 0x46) value = digit - 0x41 + 10;
    else if (digit >= 0x61 && digit <= 0x66) value = digit - 0x61 + 10;
    if (value < 0) return null;
    length = length * 16 + value;
  }
  return length;
}

type EntryHeader =
  | { kind: "entry"; object: ObjectKind; size: number }
  | { kind: "unreadable"; reason: string };

/**
 * An entry's header: type and inflated size in a varint (4 bits, then 7 per byte), then for an
 * ofs-delta the distance back to its base (another varint), for a ref-delta its base's id.
 */
async function readEntryHeader(reader: SpoolReader): Promise<EntryHeader> {
  // Headers are a few bytes; a longer varint (legal, if odd) only makes us read further.
  for (let want = 64; ; want *= 2) {
    const bytes = await reader.peek(want);
    const first = bytes[0];
    if (first === undefined) return { kind: "unreadable", reason: "the pack ends early" };
    const object = OBJECT_KINDS[(first >> 4) & 7] ?? null;
    if (object === null) return { kind: "unreadable", reason: "an unknown object type" };
    const header = parseEntryHeader(bytes, 0);
    if (header !== null) {
      reader.skip(header.next);
      return { kind: "entry", object, size: header.size };
    }
    if (bytes.byteLength < want) return { kind: "unreadable", reason: "the pack ends early" };
  }
}

type Inflated = { kind: "inflated"; head: Uint8Array } | { kind: "unreadable"; reason: string };

/**
 * Inflates the zlib stream at the reader's position, which must make exactly `size` bytes, and
 * moves past it; returns the first inflated bytes. Small objects inflate in one synchronous call
 * over a window that holds any stream zlib can write for them; larger ones, and streams longer
 * than that, go through a streaming inflater fed in slices (zlib streams run off the main thread).
 */
async function inflateEntry(reader: SpoolReader, size: number): Promise<Inflated> {
  if (size <= SYNC_INFLATE_MAX_BYTES) {
    const window = await reader.peek(deflateBound(size));
    const result = inflateWindow(window, size);
    if (result.kind === "inflated") {
      reader.skip(result.consumed);
      return { kind: "inflated", head: result.output.subarray(0, DELTA_HEADER_BYTES) };
    }
    if (result.kind === "unreadable") return result;
    if (window.byteLength === reader.remaining) {
      return { kind: "unreadable", reason: "the pack ends inside an object" };
    }
  }
  return inflateStreaming(reader, size);
}

/**
 * zlib's worst case for `size` bytes (deflateBound() in zlib's deflate.c, for any settings: stored
 * blocks and their headers, plus the zlib header and checksum), with room to spare.
 */
function deflateBound(size: number): number {
  return size + Math.ceil(size / 8) + Math.ceil(size / 64) + 5 + 6 + 64;
}

type WindowInflate =
  | { kind: "inflated"; output: Uint8Array; consumed: number }
  | { kind: "needs-more" }
  | { kind: "unreadable"; reason: string };

function inflateWindow(window: Uint8Array, size: number): WindowInflate {
  let result: unknown;
  try {
    // `info` returns the engine too, whose bytesWritten counts the input the stream used.
    result = inflateSync(window, { info: true, maxOutputLength: Math.max(size, 1) });
  } catch (error) {
    const code = error instanceof Error && "code" in error ? error.code : null;
    // Z_BUF_ERROR: "unexpected end of file", the window ends inside the stream.
    if (code === "Z_BUF_ERROR") return { kind: "needs-more" };
    if (code === "ERR_BUFFER_TOO_LARGE") {
      return { kind: "unreadable", reason: "an object inflates past its declared size" };
    }
    return { kind: "unreadable", reason: `an object does not inflate (${String(code)})` };
  }
  if (
    typeof result !== "object" ||
    result === null ||
    !("buffer" in result) ||
    !(result.buffer instanceof Uint8Array) ||
    !("engine" in result) ||
    typeof result.engine !== "object" ||
    result.engine === null ||
    !("bytesWritten" in result.engine) ||
    typeof result.engine.bytesWritten !== "number"
  ) {
    throw new Error("zlib.inflateSync({ info: true }) did not return { buffer, engine }");
  }
  if (result.buffer.byteLength !== size) {
    return { kind: "unreadable", reason: "an object inflates short of its declared size" };
  }
  return { kind: "inflated", output: result.buffer, consumed: result.engine.bytesWritten };
}

async function inflateStreaming(reader: SpoolReader, size: number): Promise<Inflated> {
  const inflater = createInflate({ maxOutputLength: Math.max(size, 1) });
  const head: Uint8Array[] = [];
  let headBytes = 0;
  let produced = 0;
  const state: { ended: boolean; failure: string | null } = { ended: false, failure: null };
  const settled = new Promise<void>((resolve) => {
    inflater.on("end", () => {
      state.ended = true;
      resolve();
    });
    inflater.on("error", (error: Error) => {
      state.failure = "code" in error ? String(error.code) : error.message;
      resolve();
    });
  });
  inflater.on("data", (chunk: Uint8Array) => {
    produced += chunk.byteLength;
    if (headBytes < DELTA_HEADER_BYTES) {
      head.push(chunk.subarray(0, DELTA_HEADER_BYTES - headBytes));
      headBytes += Math.min(chunk.byteLength, DELTA_HEADER_BYTES - headBytes);
    }
  });
  // Input written after the stream's end is not counted in bytesWritten (verified on Bun 1.4).
  let offset = reader.position;
  while (!state.ended && state.failure === null && offset < reader.size) {
    const slice = await reader.file.slice(offset, offset + STREAM_SLICE_BYTES).bytes();
    if (slice.byteLength === 0) break;
    offset += slice.byteLength;
    await new Promise<void>((resolve) => inflater.write(slice, () => resolve()));
  }
  if (!state.ended && state.failure === null) inflater.end();
  await settled;
  inflater.destroy();
  if (state.failure !== null) {
    return {
      kind: "unreadable",
      reason:
        state.failure === "Z_BUF_ERROR"
          ? "the pack ends inside an object"
          : `an object does not inflate (${state.failure})`,
    };
  }
  if (produced !== size) {
    return { kind: "unreadable", reason: "an object inflates short of its declared size" };
  }
  reader.skip(inflater.bytesWritten);
  return { kind: "inflated", head: Buffer.concat(head) };
}

/** Reads a file forward through a bounded buffer. */
class SpoolReader {
  readonly size: number;
  /** The offset of the next unread byte. */
  position = 0;
  #buffer = new Uint8Array(0);
  #bufferAt = 0;

  constructor(readonly file: BunFile) {
    this.size = file.size;
  }

  get remaining(): number {
    return this.size - this.position;
  }

  /** The next `count` bytes without moving past them; fewer only at the end of the file. */
  async peek(count: number): Promise<Uint8Array> {
    const want = Math.min(count, this.remaining);
    const start = this.position - this.#bufferAt;
    if (start + want <= this.#buffer.byteLength) return this.#buffer.subarray(start, start + want);
    const end = Math.min(this.size, this.position + Math.max(want, READ_BYTES));
    this.#buffer = await this.file.slice(this.position, end).bytes();
    this.#bufferAt = this.position;
    return this.#buffer.subarray(0, want);
  }

  skip(count: number): void {
    this.position += count;
  }
}
