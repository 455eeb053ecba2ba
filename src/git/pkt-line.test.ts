import { describe, expect, test } from "bun:test";
import {
  encodePacket,
  MAX_PACKET_LENGTH,
  readPacket,
  servicePreamble,
  sideBandMessage,
} from "./pkt-line.ts";
import { parseReceiveCommands, ZERO_OID } from "./receive-commands.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (value: string) => new TextEncoder().encode(value);

describe("pkt-line", () => {
  test("the length prefix is lower-case hex and counts its own four bytes", () => {
    expect(text(encodePacket("a\n"))).toBe("0006a\n");
    expect(text(encodePacket(""))).toBe("0004");
    expect(text(encodePacket("x".repeat(250)))).toStartWith("00fe");
  });

  test("service preambles match git http-backend byte for byte", () => {
    expect(text(servicePreamble("git-upload-pack"))).toBe("001e# service=git-upload-pack\n0000");
    expect(text(servicePreamble("git-receive-pack"))).toBe("001f# service=git-receive-pack\n0000");
  });

  test("a side-band message goes to channel 2 and ends with a newline", () => {
    expect(text(sideBandMessage("hello"))).toBe("000b\u0002hello\n");
  });

  test("a payload longer than LARGE_PACKET_MAX is refused", () => {
    expect(() => encodePacket(new Uint8Array(MAX_PACKET_LENGTH - 3))).toThrow(RangeError);
    expect(encodePacket(new Uint8Array(MAX_PACKET_LENGTH - 4)).byteLength).toBe(MAX_PACKET_LENGTH);
  });

  test("reads data, flush, delim and response-end packets", () => {
    const stream = bytes("0006a\n000000010002");
    const first = readPacket(stream, 0);
    expect(
      first.kind === "packet" && first.packet.kind === "data" && text(first.packet.payload),
    ).toBe("a\n");
    const kinds: string[] = [];
    let offset = first.kind === "packet" ? first.next : 0;
    for (let index = 0; index < 3; index++) {
      const read = readPacket(stream, offset);
      if (read.kind !== "packet") throw new Error(read.kind);
      kinds.push(read.packet.kind);
      offset = read.next;
    }
    expect(kinds).toEqual(["flush", "delim", "response-end"]);
  });

  test("a short buffer is incomplete, not malformed", () => {
    expect(readPacket(bytes("00"), 0).kind).toBe("incomplete");
    expect(readPacket(bytes("000aabc"), 0).kind).toBe("incomplete");
  });

  test.each(["zzzz", "00A0", "0003", "fff1"])("the length %j is malformed", (prefix) => {
    expect(readPacket(bytes(`${prefix}${"x".repeat(8)}`), 0).kind).toBe("malformed");
  });
});

describe("receive-pack commands", () => {
  const OLD = "1".repeat(40);
  const NEW = "2".repeat(40);

  test("reads the first command's capabilities and every command up to the flush", () => {
    const request = new Uint8Array([
      ...encodePacket(`${OLD} ${NEW} refs/heads/main\0report-status side-band-64k agent=git/2`),
      ...encodePacket(`${ZERO_OID} ${NEW} refs/heads/other\n`),
      ...bytes("0000PACK..."),
    ]);
    expect(parseReceiveCommands(request)).toEqual({
      kind: "commands",
      commands: [
        { oldOid: OLD, newOid: NEW, ref: "refs/heads/main" },
        { oldOid: ZERO_OID, newOid: NEW, ref: "refs/heads/other" },
      ],
      capabilities: ["report-status", "side-band-64k", "agent=git/2"],
    });
  });

  test("skips the shallow lines a shallow clone sends first", () => {
    const request = new Uint8Array([
      ...encodePacket(`shallow ${"3".repeat(40)}\n`),
      ...encodePacket(`${OLD} ${NEW} refs/heads/main\0report-status`),
      ...bytes("0000"),
    ]);
    const parsed = parseReceiveCommands(request);
    expect(parsed.kind === "commands" && parsed.commands).toEqual([
      { oldOid: OLD, newOid: NEW, ref: "refs/heads/main" },
    ]);
  });

  test("the auth pre-flight body 0000 has no commands", () => {
    expect(parseReceiveCommands(bytes("0000"))).toEqual({
      kind: "commands",
      commands: [],
      capabilities: [],
    });
  });

  test("a request cut before its flush is incomplete", () => {
    expect(parseReceiveCommands(encodePacket(`${OLD} ${NEW} refs/heads/main\0x`)).kind).toBe(
      "incomplete",
    );
  });

  test.each([
    ["a short object id", `${OLD.slice(2)} ${NEW} refs/heads/main`],
    ["a ref outside refs/", `${OLD} ${NEW} HEAD`],
    ["a push certificate", "push-cert\0report-status"],
  ])("%s is malformed", (_name, line) => {
    const request = new Uint8Array([...encodePacket(line), ...bytes("0000")]);
    expect(parseReceiveCommands(request).kind).toBe("malformed");
  });
});
