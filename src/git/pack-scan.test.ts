import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateRawSync, deflateSync } from "node:zlib";
import { runGit } from "../repo/git.ts";
import { type PackScanResult, packRefusalMessage, scanPushedPack } from "./pack-scan.ts";
import { encodePacket, FLUSH_PACKET } from "./pkt-line.ts";
import { ZERO_OID } from "./receive-commands.ts";

const COMMITTER = {
  GIT_AUTHOR_NAME: "Scan",
  GIT_AUTHOR_EMAIL: "scan@example.invalid",
  GIT_COMMITTER_NAME: "Scan",
  GIT_COMMITTER_EMAIL: "scan@example.invalid",
};

let work: string;
let serial = 0;

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "wikibot-pack-scan-"));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function newRepo(): Promise<string> {
  const dir = join(work, `repo-${serial++}`);
  await runGit(work, ["init", "-q", "-b", "main", dir]);
  return dir;
}

async function commit(dir: string, files: Record<string, string | Uint8Array>, message: string) {
  for (const [path, content] of Object.entries(files)) writeFileSync(join(dir, path), content);
  await runGit(dir, ["add", "-A"]);
  await runGit(dir, ["commit", "-q", "-m", message], { env: COMMITTER });
  return (await headOf(dir)).trim();
}

async function headOf(dir: string): Promise<string> {
  return new TextDecoder().decode((await runGit(dir, ["rev-parse", "HEAD"])).stdout);
}

/** `git pack-objects` of the given revisions, with ofs-deltas as git push sends them. */
async function packOf(dir: string, revisions: string[], flags: string[] = []): Promise<Uint8Array> {
  const packed = await runGit(
    dir,
    ["pack-objects", "--revs", "--stdout", "-q", "--delta-base-offset", ...flags],
    {
      stdin: `${revisions.join("\n")}\n`,
    },
  );
  return packed.stdout;
}

/** A receive-pack request: one ref update with the capabilities git sends, a flush, the pack. */
function pushRequest(newOid: string, pack: Uint8Array, oldOid = ZERO_OID): string {
  const command = encodePacket(
    `${oldOid} ${newOid} refs/heads/main\0 report-status side-band-64k quiet object-format=sha1 agent=git/2.39.5`,
  );
  const path = join(work, `request-${serial++}`);
  writeFileSync(path, Buffer.concat([command, new TextEncoder().encode(FLUSH_PACKET), pack]));
  return path;
}

const LIMIT = 4 * 1024 * 1024;
const limits = (maxObjectBytes: number) => ({ maxObjectBytes, maxInflatedBytes: 2 ** 31 });

function oversized(result: PackScanResult) {
  if (result.kind !== "oversized") throw new Error(`expected a refusal, got ${result.kind}`);
  return result;
}

describe("packs within the limit pass", () => {
  test("a normal commit with a few files, as git packs it", async () => {
    const dir = await newRepo();
    const head = await commit(
      dir,
      {
        "Home.md": "# Home\n\nWelcome.\n",
        "Notes.md": `# Notes\n\n${"a line of notes\n".repeat(500)}`,
        "photo.png": randomBytes(300_000),
        "empty.md": "",
      },
      "first",
    );
    const result = await scanPushedPack(
      pushRequest(head, await packOf(dir, ["HEAD"])),
      limits(LIMIT),
    );
    // A commit, a tree and four blobs.
    expect(result).toEqual({
      kind: "within-limits",
      objects: 6,
      inflatedBytes: expect.any(Number),
    });
  });

  test("a push that only deletes a ref carries no pack", async () => {
    const path = join(work, "delete-only");
    writeFileSync(
      path,
      Buffer.concat([
        encodePacket(`${"1".repeat(40)} ${ZERO_OID} refs/heads/main\0 report-status`),
        new TextEncoder().encode(FLUSH_PACKET),
      ]),
    );
    expect(await scanPushedPack(path, limits(LIMIT))).toEqual({ kind: "no-pack" });
  });
});

describe("an object over the limit is refused by its header", () => {
  test("50 MB of zeros (about 50 KB packed) is refused by its declared size", async () => {
    const dir = await newRepo();
    const head = await commit(dir, { "Zeros.md": Buffer.alloc(50_000_000) }, "zeros");
    const pack = await packOf(dir, ["HEAD"]);
    expect(pack.byteLength).toBeLessThan(200_000);
    const result = oversized(await scanPushedPack(pushRequest(head, pack), limits(LIMIT)));
    expect(result).toMatchObject({ object: "blob", bytes: 50_000_000, measured: "size" });
    expect(packRefusalMessage(result)).toBe(
      `the push contains a file of 50000000 bytes; files are limited to ${LIMIT} bytes (pages to 1000000)`,
    );
  });

  // git deltas a target only against a base over half its size (pack-objects.c try_delta,
  // `sizediff >= max_size`), so the object a small delta makes is at most about twice its base:
  // here a 900 KB base, a 1.7 MB result, and a limit between the two.
  const base = randomBytes(450_000).toString("hex");
  const doubled = base.repeat(2).slice(0, 1_700_000);
  const limit = 1_200_000;

  test("an ofs-delta whose data is small but whose result is over the limit", async () => {
    const dir = await newRepo();
    const head = await commit(dir, { "small.md": base, "big.md": doubled }, "both");
    const pack = await packOf(dir, ["HEAD"]);
    // What git made: the 1.7 MB blob as a delta of a few dozen bytes against the 900 KB one.
    writeFileSync(join(dir, "p.pack"), pack);
    await runGit(dir, ["index-pack", "-o", "p.idx", "p.pack"]);
    const listing = new TextDecoder().decode(
      (await runGit(dir, ["verify-pack", "-v", "p.idx"])).stdout,
    );
    const delta = listing
      .split("\n")
      .find((line) => / blob +\d+ \d+ \d+ 1 [0-9a-f]{40}$/.test(line));
    expect(delta).toBeDefined();
    expect(Number(delta?.split(/ +/)[2])).toBeLessThan(1000);

    const result = oversized(await scanPushedPack(pushRequest(head, pack), limits(limit)));
    expect(result).toMatchObject({
      object: "ofs-delta",
      bytes: 1_700_000,
      measured: "delta-result",
      limit,
    });
    expect(packRefusalMessage(result)).toBe(
      `the push contains an object of 1700000 bytes (sent as a delta); files are limited to ${limit} bytes (pages to 1000000)`,
    );
  });

  test("a thin pack: a ref-delta against an object the server has, making one over the limit", async () => {
    const dir = await newRepo();
    const first = await commit(dir, { "page.md": base }, "900 KB");
    const second = await commit(dir, { "page.md": doubled }, "1.7 MB");
    // git push sends thin packs: the base stays out of the pack and is named by its id.
    const pack = await packOf(dir, ["HEAD", `^${first}`], ["--thin"]);
    expect(pack.byteLength).toBeLessThan(10_000);
    const result = oversized(await scanPushedPack(pushRequest(second, pack, first), limits(limit)));
    expect(result).toMatchObject({ object: "ref-delta", bytes: 1_700_000 });
    // With a limit above both, the same thin pack passes.
    expect(await scanPushedPack(pushRequest(second, pack, first), limits(2_000_000))).toMatchObject(
      { kind: "within-limits", objects: 3 },
    );
  });
});

describe("what the scan cannot read is left to receive-pack", () => {
  test("a truncated pack passes through", async () => {
    const dir = await newRepo();
    const head = await commit(dir, { "photo.png": randomBytes(500_000) }, "photo");
    const pack = await packOf(dir, ["HEAD"]);
    const cut = pack.subarray(0, pack.byteLength - 100_000);
    const result = await scanPushedPack(pushRequest(head, cut), limits(LIMIT));
    expect(result).toMatchObject({ kind: "unreadable" });
    // Cut inside the header, too.
    expect(
      await scanPushedPack(pushRequest(head, pack.subarray(0, 8)), limits(LIMIT)),
    ).toMatchObject({ kind: "unreadable" });
  });

  test("bytes that are not a pack pass through", async () => {
    const path = pushRequest("2".repeat(40), new TextEncoder().encode("not a pack at all"));
    expect(await scanPushedPack(path, limits(LIMIT))).toMatchObject({
      kind: "unreadable",
      reason: "no PACK signature after the commands",
    });
  });

  test("an object whose zlib stream is corrupt passes through", async () => {
    const dir = await newRepo();
    const head = await commit(dir, { "Home.md": "# Home\n".repeat(100) }, "home");
    const pack = new Uint8Array(await packOf(dir, ["HEAD"]));
    // The first object's header is 2 bytes; break its zlib header right after.
    pack[12 + 2] = 0xff;
    expect(await scanPushedPack(pushRequest(head, pack), limits(LIMIT))).toMatchObject({
      kind: "unreadable",
    });
  });
});

describe("hand-made packs", () => {
  /** A pack of the given entries (header bytes, zlib data), with a zero trailer. */
  function handPack(entries: Uint8Array[]): Uint8Array {
    const header = new Uint8Array(12);
    header.set(new TextEncoder().encode("PACK"), 0);
    new DataView(header.buffer).setUint32(4, 2);
    new DataView(header.buffer).setUint32(8, entries.length);
    return Buffer.concat([header, ...entries, new Uint8Array(20)]);
  }

  test("a header whose size varint is padded past 64 bits is still read as over the limit", async () => {
    // blob, size 5 in the low bits, then continuation bytes up to shift 67 with a bit set there.
    const entry = new Uint8Array([0x80 | (3 << 4) | 5, ...new Array(9).fill(0x80), 0x01]);
    const result = await scanPushedPack(
      pushRequest("3".repeat(40), handPack([entry])),
      limits(LIMIT),
    );
    expect(result).toMatchObject({ kind: "oversized", object: "blob" });
  });

  test("commands in a push certificate, with upper-case pkt-line lengths, do not hide the pack", async () => {
    // git reads pkt-line lengths in either case (pkt-line.c packet_length), and a signed push
    // sends its commands inside a certificate (receive-pack.c read_head_info, "push-cert").
    const lines = [
      "push-cert\0report-status side-band-64k",
      "certificate version 0.1\n",
      `${ZERO_OID} ${"6".repeat(40)} refs/heads/main\n`,
      "push-cert-end\n",
    ].map((line) => {
      const packet = encodePacket(line);
      packet.set(
        new TextEncoder().encode(new TextDecoder().decode(packet.subarray(0, 4)).toUpperCase()),
      );
      return packet;
    });
    const blob = new Uint8Array([0x80 | (3 << 4), 0x80, 0x80, 0x80, 0x80, 0x01]); // 2^32 bytes
    const path = join(work, `request-${serial++}`);
    writeFileSync(
      path,
      Buffer.concat([...lines, new TextEncoder().encode(FLUSH_PACKET), handPack([blob])]),
    );
    expect(await scanPushedPack(path, limits(LIMIT))).toMatchObject({
      kind: "oversized",
      bytes: 2 ** 32,
    });
  });

  test("a stream longer than zlib would ever write is followed to its end", async () => {
    // A zlib stream for "hello" padded with 400,000 empty stored blocks (5 bytes each).
    const raw = deflateRawSync(Buffer.from("hello"), { finishFlush: 2 /* Z_SYNC_FLUSH */ });
    const empty = new Uint8Array([0x00, 0x00, 0x00, 0xff, 0xff]);
    const padding = new Uint8Array(empty.byteLength * 400_000);
    for (let offset = 0; offset < padding.byteLength; offset += 5) padding.set(empty, offset);
    const last = new Uint8Array([0x01, 0x00, 0x00, 0xff, 0xff]);
    const adler = new Uint8Array(4);
    new DataView(adler.buffer).setUint32(0, adler32(Buffer.from("hello")));
    const stream = Buffer.concat([new Uint8Array([0x78, 0x01]), raw, padding, last, adler]);
    const blob = Buffer.concat([new Uint8Array([(3 << 4) | 5]), stream]);
    const zeros = Buffer.concat([
      new Uint8Array([0x80 | (3 << 4), 0x80, 0x80, 0x80, 0x80, 0x01]), // a blob of 2^32 bytes
      new Uint8Array(16),
    ]);
    const result = await scanPushedPack(
      pushRequest("4".repeat(40), handPack([blob, zeros])),
      limits(LIMIT),
    );
    expect(result).toMatchObject({ kind: "oversized", object: "blob", bytes: 2 ** 32 });
  });
});

describe("a pack that makes too much to unpack is refused", () => {
  const SIZE = 4 * 1024 * 1024;
  const varint = (value: number) => {
    const out: number[] = [];
    for (let rest = value; ; ) {
      const low = rest % 128;
      rest = Math.floor(rest / 128);
      out.push(rest > 0 ? low | 0x80 : low);
      if (rest === 0) return out;
    }
  };
  /** An entry header: type in bits 4-6, size in 4 bits then 7 per byte. */
  const entryHeader = (type: number, size: number) => {
    const out = [(type << 4) | (size & 15)];
    for (let rest = Math.floor(size / 16); rest > 0; rest = Math.floor(rest / 128)) {
      out[out.length - 1] = (out[out.length - 1] ?? 0) | 0x80;
      out.push(rest % 128);
    }
    return out;
  };
  /** The ofs-delta distance: big-endian 7-bit groups, each continuation adding one. */
  const ofsDistance = (distance: number) => {
    const out = [distance & 0x7f];
    for (let rest = Math.floor(distance / 128); rest > 0; rest = Math.floor(rest / 128)) {
      rest -= 1;
      out.unshift(0x80 | (rest & 0x7f));
    }
    return out;
  };

  /**
   * One blob of 4 MiB of zeros, then `count` ofs-deltas of ~400 bytes, each making a different
   * 4 MiB blob from it (4 inserted bytes, then 64 KiB copies): kilobytes that unpack to gigabytes.
   */
  function deltaBomb(count: number): Uint8Array {
    const header = new Uint8Array(12);
    header.set(new TextEncoder().encode("PACK"));
    new DataView(header.buffer).setUint32(4, 2);
    new DataView(header.buffer).setUint32(8, count + 1);
    const parts: Uint8Array[] = [header];
    const base = Buffer.concat([
      Buffer.from(entryHeader(3, SIZE)),
      deflateSync(Buffer.alloc(SIZE)),
    ]);
    parts.push(base);
    let offset = 12 + base.byteLength;
    for (let index = 0; index < count; index++) {
      const delta = [...varint(SIZE), ...varint(SIZE), 4, index & 255, index >> 8, 0, 0];
      for (let at = 0; at < SIZE - 4; at += 0x10000) {
        const length = Math.min(0x10000, SIZE - 4 - at);
        // copy: offset bytes 0-2, size bytes 0-1 (gitformat-pack.adoc "Instruction to copy")
        delta.push(
          0x80 | 0x07 | 0x30,
          at & 255,
          (at >> 8) & 255,
          at >> 16,
          length & 255,
          length >> 8,
        );
      }
      const entry = Buffer.concat([
        Buffer.from([...entryHeader(6, delta.length), ...ofsDistance(offset - 12)]),
        deflateSync(Buffer.from(delta)),
      ]);
      parts.push(entry);
      offset += entry.byteLength;
    }
    const body = Buffer.concat(parts);
    return Buffer.concat([body, createHash("sha1").update(body).digest()]);
  }

  test("deltas of a few hundred bytes that each make a 4 MiB file, past the budget", async () => {
    const pack = deltaBomb(20);
    expect(pack.byteLength).toBeLessThan(20_000);
    // A valid pack: git itself accepts it, and would rebuild 84 MB from it.
    const dir = join(work, `bomb-${serial++}`);
    await runGit(work, ["init", "-q", "--bare", dir]);
    await runGit(dir, ["index-pack", "--stdin"], { stdin: pack });

    const request = pushRequest("5".repeat(40), pack);
    const within = await scanPushedPack(request, limits(LIMIT));
    expect(within).toEqual({ kind: "within-limits", objects: 21, inflatedBytes: 21 * SIZE });
    const refused = await scanPushedPack(request, {
      maxObjectBytes: LIMIT,
      maxInflatedBytes: 40 * 1024 * 1024,
    });
    // Ten 4 MiB objects fill the budget; the eleventh's own delta bytes pass it.
    expect(refused).toMatchObject({
      kind: "too-much-to-unpack",
      objects: 11,
      budget: 40 * 1024 * 1024,
    });
    if (refused.kind !== "too-much-to-unpack") throw new Error("not refused");
    expect(packRefusalMessage(refused)).toStartWith(
      `the push would make the server unpack more than ${40 * 1024 * 1024} bytes`,
    );
  });
});

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (const byte of bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}
