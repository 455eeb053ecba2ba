/**
 * pkt-line framing (gitprotocol-common.adoc, "pkt-line Format"): a four-digit lower-case hex
 * length that counts itself, then the payload. Used for the smart-HTTP service preamble, for
 * side-band messages we add to a push's response, and to read a push's ref-update commands.
 * It does not parse packfiles or whole conversations; git itself does that.
 */

/** `0000`: ends a section of pkt-lines. */
export const FLUSH_PACKET = "0000";

/** LARGE_PACKET_MAX: the longest pkt-line git sends or accepts, length prefix included. */
export const MAX_PACKET_LENGTH = 65520;

const encoder = new TextEncoder();

/** Frames one payload (text is encoded as UTF-8) as a pkt-line. */
export function encodePacket(payload: string | Uint8Array): Uint8Array {
  const body = typeof payload === "string" ? encoder.encode(payload) : payload;
  const length = body.byteLength + 4;
  if (length > MAX_PACKET_LENGTH) {
    throw new RangeError(`a pkt-line holds at most ${MAX_PACKET_LENGTH - 4} bytes of payload`);
  }
  const packet = new Uint8Array(length);
  packet.set(encoder.encode(length.toString(16).padStart(4, "0")), 0);
  packet.set(body, 4);
  return packet;
}

/**
 * The smart-HTTP ref advertisement preamble, `# service=<name>` then a flush
 * (gitprotocol-http.adoc, "Smart Clients"). git's own http-backend leaves it out for protocol
 * v2, but clients accept it either way (remote-curl.c `check_smart_http`), so we always send it.
 */
export function servicePreamble(service: string): Uint8Array {
  const line = encodePacket(`# service=${service}\n`);
  const preamble = new Uint8Array(line.byteLength + 4);
  preamble.set(line, 0);
  preamble.set(encoder.encode(FLUSH_PACKET), line.byteLength);
  return preamble;
}

/** Side-band channel 2 carries progress and messages the client prints as `remote: …`. */
export function sideBandMessage(text: string): Uint8Array {
  const body = encoder.encode(text.endsWith("\n") ? text : `${text}\n`);
  const framed = new Uint8Array(body.byteLength + 1);
  framed[0] = 2;
  framed.set(body, 1);
  return encodePacket(framed);
}

export type Packet =
  | { kind: "data"; payload: Uint8Array }
  /** `0000` ends a section; `0001` (delim) and `0002` (response end) exist only in protocol v2. */
  | { kind: "flush" }
  | { kind: "delim" }
  | { kind: "response-end" };

export type PacketRead =
  | { kind: "packet"; packet: Packet; next: number }
  | { kind: "incomplete" }
  | { kind: "malformed"; reason: string };

/** Reads the pkt-line that starts at `offset`; `incomplete` when `bytes` ends inside it. */
export function readPacket(bytes: Uint8Array, offset: number): PacketRead {
  if (bytes.byteLength - offset < 4) return { kind: "incomplete" };
  const prefix = new TextDecoder().decode(bytes.subarray(offset, offset + 4));
  if (!/^[0-9a-f]{4}$/.test(prefix)) {
    return { kind: "malformed", reason: `bad pkt-line length ${JSON.stringify(prefix)}` };
  }
  const length = Number.parseInt(prefix, 16);
  if (length === 0) return { kind: "packet", packet: { kind: "flush" }, next: offset + 4 };
  if (length === 1) return { kind: "packet", packet: { kind: "delim" }, next: offset + 4 };
  if (length === 2) return { kind: "packet", packet: { kind: "response-end" }, next: offset + 4 };
  if (length < 4 || length > MAX_PACKET_LENGTH) {
    return { kind: "malformed", reason: `pkt-line length ${length} is out of range` };
  }
  if (bytes.byteLength - offset < length) return { kind: "incomplete" };
  return {
    kind: "packet",
    packet: { kind: "data", payload: bytes.subarray(offset + 4, offset + length) },
    next: offset + length,
  };
}
