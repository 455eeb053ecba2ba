/**
 * The answer to a push we refuse before receive-pack runs, written the way receive-pack writes
 * its own (builtin/receive-pack.c `report`; gitprotocol-pack.adoc "Report Status"): messages on
 * side-band 2, which git prints as `remote:` lines, then the report-status on side-band 1 with
 * every command refused, so the pusher sees `! [remote rejected] main -> main (<reason>)`.
 */
import { encodePacket, FLUSH_PACKET, MAX_PACKET_LENGTH, sideBandMessage } from "./pkt-line.ts";
import type { RefUpdateCommand } from "./receive-commands.ts";

export interface RefusedPushReport {
  commands: readonly RefUpdateCommand[];
  capabilities: readonly string[];
  /** Lines for the pusher's terminal (only shown when the client asked for side-band-64k). */
  messages: readonly string[];
  /** One short phrase: the unpack status and every ref's reason. */
  reason: string;
}

const encoder = new TextEncoder();

/** The receive-pack result body that refuses every command of the push. */
export function refusedPushResult(report: RefusedPushReport): Uint8Array<ArrayBuffer> {
  // receive-pack uses side-band only for side-band-64k (read_head_info), and reports only if asked.
  const sideBand = report.capabilities.includes("side-band-64k");
  const reportStatus =
    report.capabilities.includes("report-status") ||
    report.capabilities.includes("report-status-v2");
  const status: Uint8Array[] = [];
  if (reportStatus) {
    status.push(encodePacket(`unpack ${report.reason}\n`));
    for (const command of report.commands) {
      status.push(encodePacket(`ng ${command.ref} ${report.reason}\n`));
    }
    status.push(encoder.encode(FLUSH_PACKET));
  }
  if (!sideBand) return Buffer.concat(status);

  const parts: Uint8Array[] = report.messages.map((line) => sideBandMessage(line));
  const statusBytes = Buffer.concat(status);
  const room = MAX_PACKET_LENGTH - 5;
  for (let offset = 0; offset < statusBytes.byteLength; offset += room) {
    const chunk = statusBytes.subarray(offset, offset + room);
    const framed = new Uint8Array(chunk.byteLength + 1);
    framed[0] = 1;
    framed.set(chunk, 1);
    parts.push(encodePacket(framed));
  }
  parts.push(encoder.encode(FLUSH_PACKET));
  return Buffer.concat(parts);
}
