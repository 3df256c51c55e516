/**
 * The binary trace format (`.pctrace`, specified in `fixtures/TRACE_FORMAT.md`): its
 * constants, the file header, checksums, and what every reader and the writer share.
 *
 * @module
 */

import { crc32 } from "node:zlib";
import { PrecopyError } from "../errors.ts";
import type { AccessChunk, Workload } from "../workloads/workload.ts";

/** The file's first eight bytes. */
export const MAGIC = "PCLTRACE";
/** A block header's first four bytes: "BLK1" little-endian. */
export const BLOCK_MAGIC = 0x314b4c42;
/**
 * The format version the writer writes. Version 2 differs from 1 only in what a block's
 * checksum covers: the block header's fields as well as the payload (see {@link blockCrc}).
 */
export const VERSION = 2;
/** The versions a reader accepts. */
export const READ_VERSIONS: readonly number[] = [1, 2];
/** Header flag: the trace records reads. */
export const TRACE_READS = 1;
/** Header flag: the trace records vCPU ids. */
export const TRACE_VCPU = 2;
/** Header flag: block payloads are raw-DEFLATE compressed. */
export const TRACE_COMPRESSED = 4;
/** Every flag a reader knows; other bits are an error. */
export const KNOWN_FLAGS = TRACE_READS | TRACE_VCPU | TRACE_COMPRESSED;
/** Bytes of the fixed file header (the range table follows). */
export const HEADER_BYTES = 32;
/** Bytes of a block header. */
export const BLOCK_HEADER_BYTES = 32;
/** Bytes of the end block's payload: event count and last time. */
export const END_PAYLOAD_BYTES = 16;
/**
 * The recorder's default sampling interval (`deno task record --interval`), ns: the
 * interval a `:spread` trace spreads its bursts over and the gap a `:loop` trace leaves
 * between passes, unless the spec gives another.
 */
export const RECORD_INTERVAL_NS = 10_000_000;
/** Events per block written by the writer. */
export const BLOCK_EVENTS = 65536;
/** The most events a reader accepts in one block (bounds the memory of one block). */
export const MAX_BLOCK_EVENTS = 1 << 22;
/**
 * Fewest and most bytes one event takes before compression, without and with the op
 * field: a time delta of up to 2^53 (8 varint bytes), a zig-zagged frame delta of up to
 * 2^33 (5 bytes), `vcpu × 2 + op` of up to 2^17 (3 bytes). A block whose raw length falls
 * outside `N × min … N × max` is corrupt, and is rejected before anything is decoded.
 */
export const EVENT_BYTES = { min: 2, minWithOp: 3, max: 16 } as const;
/**
 * DEFLATE cannot expand data by more than about 1032 : 1; a compressed block that claims
 * more (with a margin) is corrupt, whatever its declared raw length.
 */
export const MAX_INFLATE_RATIO = 1100;

/** What a trace file says about itself. */
export interface TraceHeader {
  /** The format version of the file (1 or 2). */
  version: number;
  /** Frames 0 … frames−1. */
  frames: number;
  /** Bytes per frame. */
  pageSize: number;
  /** Nanoseconds per stored time unit. */
  timeUnitNs: number;
  /** {@link TRACE_READS} | {@link TRACE_VCPU} | {@link TRACE_COMPRESSED}. */
  flags: number;
  /** Frames holding data at the start, as `[first, count]` ranges; the rest are zero. */
  nonZero: [number, number][];
}

/**
 * A trace file opened as a workload, with what its header or first pass found. Its
 * `endNs` (from {@link Workload}) is the time of its last access, in the workload's time
 * (the time `startNs` is measured in): a migration that starts or runs past it sees an
 * idle guest. A looped trace never ends (`endNs` is `Infinity`) and says how long one pass
 * takes.
 */
export type TraceWorkload = Workload & {
  /** Accesses in the trace (in one pass, for a looped trace). */
  readonly events: number;
  /** For a looped trace: the time between the starts of two passes, ns. */
  readonly passNs?: number;
};

/**
 * Throws the error every trace reader reports: the file, where in it, and what.
 *
 * @param file the trace's path
 * @param where `byte N`, `line N` or empty
 * @param msg what is wrong
 */
export function traceErr(file: string, where: string, msg: string): never {
  const name = UNSAFE.test(file) ? quote(file, 200) : file;
  // Messages quote file text already; an OS error may still carry the raw path.
  const safe = msg.replace(UNSAFE_G, (ch) => `\\u{${ch.charCodeAt(0).toString(16)}}`);
  throw new PrecopyError("workload", `trace ${name}${where ? ` ${where}` : ""}: ${safe}`);
}

/**
 * CRC-32 (IEEE, as zlib's `crc32`) of the parts, in order.
 *
 * @param parts byte ranges
 * @returns the checksum, unsigned
 */
export function crcOf(...parts: Uint8Array[]): number {
  let c = 0;
  for (const p of parts) c = crc32(p, c);
  return c >>> 0;
}

/** Reusable chunk buffers, with vCPU ids. */
export class TraceChunk implements AccessChunk {
  /** Times, ns. */
  t: Float64Array;
  /** Frames. */
  pfn: Uint32Array;
  /** Ops. */
  op: Uint8Array;
  /** vCPU ids. */
  vcpu: Uint16Array;
  /** Valid entries. */
  length = 0;
  /**
   * Allocates the arrays.
   * @param size entries
   */
  constructor(size: number) {
    this.t = new Float64Array(size);
    this.pfn = new Uint32Array(size);
    this.op = new Uint8Array(size);
    this.vcpu = new Uint16Array(size);
  }
}

/**
 * A block's checksum. Version 1 covers the stored payload only; version 2 also covers the
 * block header's fields (event count, lengths, base time and base frame: every field that
 * changes the events), so a flipped bit anywhere in a block is caught.
 *
 * @param version the file's format version
 * @param head the 32-byte block header
 * @param payload the stored payload
 * @returns the checksum, unsigned
 */
export function blockCrc(version: number, head: Uint8Array, payload: Uint8Array): number {
  if (version === 1) return crcOf(payload);
  return crcOf(head.subarray(4, 12), head.subarray(16, BLOCK_HEADER_BYTES), payload);
}

/** Characters that must not reach a terminal raw: controls, invisibles, direction marks. */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffd]/;
const UNSAFE_G = new RegExp(UNSAFE.source, "g");
const UNSAFE_OR_QUOTE = new RegExp(`${UNSAFE.source.slice(0, -1)}\\\\']`, "g");

/**
 * Shows a piece of untrusted text in a message: quoted, cut to `max` characters, with
 * control, invisible and direction-changing characters escaped, so that nothing read from
 * a file can act on the terminal.
 *
 * @param text the text
 * @param max characters to show at most
 * @returns the quoted text
 */
export function quote(text: string, max = 60): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const safe = cut.replace(
    UNSAFE_OR_QUOTE,
    (ch) => ch === "\\" || ch === "'" ? `\\${ch}` : `\\u{${ch.charCodeAt(0).toString(16)}}`,
  );
  return `'${safe}${text.length > max ? "…" : ""}'`;
}

/**
 * Reads until `buf` is full or the file ends.
 *
 * @param file an open file
 * @param buf where to read
 * @returns bytes read
 */
export function readExactly(file: Deno.FsFile, buf: Uint8Array): number {
  let off = 0;
  while (off < buf.length) {
    const n = file.readSync(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return off;
}

/**
 * Encodes a file header with its range table and checksum.
 *
 * @param h the header
 * @returns the bytes
 */
export function encodeHeader(h: TraceHeader): Uint8Array {
  const head = new Uint8Array(HEADER_BYTES + 8 * h.nonZero.length);
  const dv = new DataView(head.buffer);
  head.set(new TextEncoder().encode(MAGIC), 0);
  dv.setUint16(8, h.version, true);
  dv.setUint16(10, h.flags, true);
  dv.setUint32(12, h.frames, true);
  dv.setUint32(16, h.pageSize, true);
  dv.setUint32(20, h.timeUnitNs, true);
  dv.setUint32(24, h.nonZero.length, true);
  h.nonZero.forEach(([f, c], i) => {
    dv.setUint32(HEADER_BYTES + 8 * i, f, true);
    dv.setUint32(HEADER_BYTES + 8 * i + 4, c, true);
  });
  dv.setUint32(28, crcOf(head.subarray(0, 28), head.subarray(HEADER_BYTES)), true);
  return head;
}

/**
 * Reads and checks a file header from the start of `file`.
 *
 * @param path the file's path, for errors
 * @param file the open file, at byte 0
 * @returns the header and its size in bytes (where the first block starts)
 * @throws {PrecopyError} naming the byte that is wrong
 */
export function readHeader(
  path: string,
  file: Deno.FsFile,
): { header: TraceHeader; bytes: number } {
  const head = new Uint8Array(HEADER_BYTES);
  const got = readExactly(file, head);
  if (got < HEADER_BYTES) traceErr(path, `byte ${got}`, "truncated header");
  if (new TextDecoder().decode(head.subarray(0, 8)) !== MAGIC) {
    traceErr(path, "byte 0", "not a precopy-lab trace (bad magic)");
  }
  const dv = new DataView(head.buffer);
  const version = dv.getUint16(8, true);
  if (!READ_VERSIONS.includes(version)) {
    traceErr(
      path,
      "byte 8",
      `format version ${version} is not supported (this reader knows ${
        READ_VERSIONS.join(" and ")
      })`,
    );
  }
  const flags = dv.getUint16(10, true);
  if (flags & ~KNOWN_FLAGS) traceErr(path, "byte 10", `unknown flags 0x${flags.toString(16)}`);
  const frames = dv.getUint32(12, true);
  if (frames < 1) traceErr(path, "byte 12", "frame count is 0");
  const pageSize = dv.getUint32(16, true);
  const timeUnitNs = dv.getUint32(20, true);
  if (timeUnitNs < 1) traceErr(path, "byte 20", "time unit is 0");
  const r = dv.getUint32(24, true);
  if (r > frames) traceErr(path, "byte 24", `${r} non-zero ranges for ${frames} frames`);
  // A count the file cannot hold is refused before its table is allocated.
  const size = file.statSync().size;
  if (HEADER_BYTES + 8 * r > size) {
    traceErr(path, "byte 24", `${r} non-zero ranges do not fit in the file's ${size} bytes`);
  }
  const table = new Uint8Array(8 * r);
  if (readExactly(file, table) < table.length) {
    traceErr(path, `byte ${HEADER_BYTES}`, "truncated range table");
  }
  if (crcOf(head.subarray(0, 28), table) !== dv.getUint32(28, true)) {
    traceErr(path, "byte 28", "header checksum mismatch (corrupted header)");
  }
  const tv = new DataView(table.buffer);
  const nonZero: [number, number][] = [];
  let next = 0;
  for (let i = 0; i < r; i++) {
    const first = tv.getUint32(8 * i, true), count = tv.getUint32(8 * i + 4, true);
    if (first < next || count < 1 || first + count > frames) {
      traceErr(
        path,
        `byte ${HEADER_BYTES + 8 * i}`,
        `non-zero range ${first}+${count} is out of order or outside the frames`,
      );
    }
    nonZero.push([first, count]);
    next = first + count;
  }
  return {
    header: { version, frames, pageSize, timeUnitNs, flags, nonZero },
    bytes: HEADER_BYTES + 8 * r,
  };
}
