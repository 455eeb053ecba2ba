/**
 * Reads the ref-update commands at the start of a receive-pack request (gitprotocol-pack.adoc,
 * "Reference Update Request and Packfile Transfer"): optional `shallow` lines, then
 * `<old> <new> <ref>\0<capabilities>`, more commands, and a flush before the packfile. The push
 * handler only looks at them; receive-pack itself still parses and enforces the whole request.
 */
import { readPacket } from "./pkt-line.ts";

export const ZERO_OID = "0000000000000000000000000000000000000000";

export interface RefUpdateCommand {
  oldOid: string;
  newOid: string;
  ref: string;
}

export type ReceiveCommandsResult =
  | { kind: "commands"; commands: RefUpdateCommand[]; capabilities: string[] }
  | { kind: "incomplete" }
  | { kind: "malformed"; reason: string };

const COMMAND = /^([0-9a-f]{40}) ([0-9a-f]{40}) (refs\/[^\0\n ]+)$/;
const SHALLOW = /^shallow [0-9a-f]{40}$/;

/** Parses the command list from the first bytes of a (decompressed) receive-pack request. */
export function parseReceiveCommands(head: Uint8Array): ReceiveCommandsResult {
  const decoder = new TextDecoder();
  const commands: RefUpdateCommand[] = [];
  let capabilities: string[] = [];
  let offset = 0;
  for (;;) {
    const read = readPacket(head, offset);
    if (read.kind !== "packet") return read;
    offset = read.next;
    const packet = read.packet;
    if (packet.kind === "flush") return { kind: "commands", commands, capabilities };
    if (packet.kind !== "data") {
      return { kind: "malformed", reason: "a protocol v2 marker in a push request" };
    }
    let line = decoder.decode(packet.payload);
    if (line.endsWith("\n")) line = line.slice(0, -1);
    if (commands.length === 0 && SHALLOW.test(line)) continue;
    if (commands.length === 0) {
      const nul = line.indexOf("\0");
      if (nul >= 0) {
        capabilities = line
          .slice(nul + 1)
          .split(" ")
          .filter((word) => word !== "");
        line = line.slice(0, nul);
      }
    }
    const match = COMMAND.exec(line);
    if (match === null) {
      return { kind: "malformed", reason: `not a ref update command: ${JSON.stringify(line)}` };
    }
    const [, oldOid = "", newOid = "", ref = ""] = match;
    commands.push({ oldOid, newOid, ref });
  }
}
