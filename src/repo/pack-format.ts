/**
 * The two variable-length numbers of git's pack format (gitformat-pack.adoc), read from bytes in
 * memory: an entry's header (type, inflated size, then a delta's base) and a delta's size
 * numbers. Shared by the push scanner (src/git/pack-scan.ts) and the in-process object reader
 * (object-peek.ts), so both read a hostile pack the same way.
 */

export const OFS_DELTA = 6;
export const REF_DELTA = 7;
const BASE_ID_BYTES = 20;

/**
 * The header of the pack entry at `start`: its type (1–7), inflated size (4 bits, then 7 per
 * byte; past 2^53 it saturates, which is over any limit anyway) and where its data begins,
 * after an ofs-delta's distance or a ref-delta's base id. Null when `bytes` ends first.
 */
export function parseEntryHeader(
  bytes: Uint8Array,
  start: number,
): { type: number; size: number; next: number } | null {
  let offset = start;
  let byte = bytes[offset++];
  if (byte === undefined) return null;
  const type = (byte >> 4) & 7;
  let size = byte & 15;
  for (let shift = 4; byte & 0x80; shift += 7) {
    byte = bytes[offset++];
    if (byte === undefined) return null;
    if (byte & 0x7f) size = Math.min(size + (byte & 0x7f) * 2 ** shift, Number.MAX_SAFE_INTEGER);
  }
  if (type === OFS_DELTA) {
    do {
      byte = bytes[offset++];
      if (byte === undefined) return null;
    } while (byte & 0x80);
  } else if (type === REF_DELTA) {
    offset += BASE_ID_BYTES;
    if (offset > bytes.byteLength) return null;
  }
  return { type, size, next: offset };
}

/** A delta header size: 7 bits per byte, least significant first (patch-delta.c). */
export function readSizeVarint(
  bytes: Uint8Array,
  start: number,
): { value: number; next: number } | null {
  let value = 0;
  let shift = 0;
  for (let offset = start; offset < bytes.byteLength; offset++) {
    const byte = bytes[offset] ?? 0;
    if (byte & 0x7f) value = Math.min(value + (byte & 0x7f) * 2 ** shift, Number.MAX_SAFE_INTEGER);
    shift += 7;
    if (!(byte & 0x80)) return { value, next: offset + 1 };
  }
  return null;
}
