/**
 * The size of a git object without inflating it: from a pack's `.idx` and the entry header in
 * the `.pack` (gitformat-pack.adoc), or from the first bytes of a loose object. A reader checks
 * this before it loads an object, so a page planted by hand as a 1 GB run of zeros (1 MB on
 * disk) is refused by its size, never inflated.
 */
import { constants, inflateSync } from "node:zlib";
import { OFS_DELTA, parseEntryHeader, REF_DELTA, readSizeVarint } from "./pack-format.ts";

const IDX_MAGIC = 0xff744f63;
const OID_BYTES = 20;
/**
 * Compressed bytes inflated to find a header: a deflate block's code tables come before its
 * first byte of output, and a header is at most ~30 bytes; each input byte yields ≤ 1,032 out.
 */
const PREFIX_STEPS = [256, 4096] as const;

/** The offset of `oid` in the pack a version-2 `.idx` describes, or null when it is not there. */
export function packOffset(idx: Uint8Array, oid: string): number | null {
  const view = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  if (idx.byteLength < 8 + 256 * 4 || view.getUint32(0) !== IDX_MAGIC || view.getUint32(4) !== 2) {
    throw new Error("not a version-2 pack index");
  }
  const want = Buffer.from(oid, "hex");
  const first = want[0] ?? 0;
  const fanout = (byte: number) => (byte < 0 ? 0 : view.getUint32(8 + byte * 4));
  const count = fanout(255);
  const names = 8 + 256 * 4;
  const offsets = names + count * OID_BYTES + count * 4;
  const large = offsets + count * 4;
  if (idx.byteLength < large) throw new Error("truncated pack index");
  let low = fanout(first - 1);
  let high = fanout(first);
  while (low < high) {
    const middle = (low + high) >>> 1;
    const at = names + middle * OID_BYTES;
    const order = Buffer.compare(idx.subarray(at, at + OID_BYTES), want);
    if (order === 0) {
      const small = view.getUint32(offsets + middle * 4);
      if ((small & 0x80000000) === 0) return small;
      const entry = large + (small & 0x7fffffff) * 8;
      if (idx.byteLength < entry + 8) throw new Error("truncated pack index");
      return Number(view.getBigUint64(entry));
    }
    if (order < 0) low = middle + 1;
    else high = middle;
  }
  return null;
}

/** A delta's target size: its header holds the source size, then the target size. */
function deltaTargetSize(delta: Uint8Array): number | null {
  const source = readSizeVarint(delta, 0);
  return source === null ? null : (readSizeVarint(delta, source.next)?.value ?? null);
}

/** Inflates only as much of `stream` as `parse` needs; null when even the longest prefix won't do. */
function fromPrefix<T>(stream: Uint8Array, parse: (head: Uint8Array) => T | null): T | null {
  for (const step of PREFIX_STEPS) {
    let head: Uint8Array;
    try {
      head = inflateSync(stream.subarray(0, step), { finishFlush: constants.Z_SYNC_FLUSH });
    } catch {
      return null;
    }
    const parsed = parse(head);
    if (parsed !== null || step >= stream.byteLength) return parsed;
  }
  return null;
}

/**
 * The inflated size of the object at `offset` in `pack` (for a delta: the size of the object
 * it rebuilds), or null when the entry cannot be read.
 */
export function packedSize(pack: Uint8Array, offset: number): number | null {
  const header = parseEntryHeader(pack, offset);
  if (header === null) return null;
  if (header.type !== OFS_DELTA && header.type !== REF_DELTA) return header.size;
  if (header.next >= pack.byteLength) return null;
  return fromPrefix(pack.subarray(header.next), deltaTargetSize);
}

/** `{type, size}` from the start of a loose object file ("<type> <size>\0…", deflated). */
export function looseHeader(file: Uint8Array): { type: string; size: number } | null {
  return fromPrefix(file, (head) => {
    const end = head.indexOf(0);
    if (end === -1) return null;
    const match = /^(blob|tree|commit|tag) (\d{1,15})$/.exec(
      new TextDecoder().decode(head.subarray(0, end)),
    );
    return match === null ? null : { type: match[1] ?? "", size: Number(match[2]) };
  });
}
