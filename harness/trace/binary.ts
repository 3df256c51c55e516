/**
 * Reading binary traces (`.pctrace`): the end block is checked when the file is opened,
 * then each `next()` reads, checks and decodes one block into reused typed arrays.
 *
 * Compression is raw DEFLATE through `node:zlib`'s synchronous calls. They read exactly
 * what `CompressionStream("deflate-raw")` produces, but the engine pulls chunks
 * synchronously, and the Streams API cannot be read that way.
 *
 * @module
 */

import { inflateRawSync } from "node:zlib";
import { type AccessChunk, type AccessStream, OP_WRITE } from "../workloads/workload.ts";
import {
  BLOCK_HEADER_BYTES,
  BLOCK_MAGIC,
  blockCrc,
  END_PAYLOAD_BYTES,
  EVENT_BYTES,
  MAX_BLOCK_EVENTS,
  MAX_INFLATE_RATIO,
  readExactly,
  readHeader,
  TRACE_COMPRESSED,
  TRACE_READS,
  TRACE_VCPU,
  TraceChunk,
  traceErr,
  type TraceHeader,
  type TraceWorkload,
} from "./format.ts";

/** An end block with its header. */
const END_BYTES = BLOCK_HEADER_BYTES + END_PAYLOAD_BYTES;
/** The largest `vcpu × 2 + op`. */
const MAX_OP = 2 * 65535 + 1;

/**
 * Walks the block headers from the first block to the end block, seeking over payloads,
 * and checks the structure: every block fits in the file and is plausible for its event
 * count, exactly one end block comes last, and its event count is what the blocks hold.
 *
 * @returns where the end block starts, its event count and its last time (time units)
 */
function scanBlocks(
  path: string,
  file: Deno.FsFile,
  h: TraceHeader,
  start: number,
): { at: number; events: number; lastT: number } {
  const size = file.statSync().size;
  const bh = new Uint8Array(END_BYTES);
  const dv = new DataView(bh.buffer);
  const compressed = (h.flags & TRACE_COMPRESSED) !== 0;
  const minBytes = (h.flags & (TRACE_READS | TRACE_VCPU)) ? EVENT_BYTES.minWithOp : EVENT_BYTES.min;
  const missing = "truncated or corrupted: the end block is missing or damaged";
  let at = start, events = 0;
  for (;;) {
    if (at + BLOCK_HEADER_BYTES > size) {
      traceErr(
        path,
        `byte ${at}`,
        `${missing} (the file ends ${size - at} bytes into a block header)`,
      );
    }
    file.seekSync(at, Deno.SeekMode.Start);
    readExactly(file, bh.subarray(0, BLOCK_HEADER_BYTES));
    if (dv.getUint32(0, true) !== BLOCK_MAGIC) {
      traceErr(path, `byte ${at}`, "corrupted: expected a block (BLK1)");
    }
    const n = dv.getUint32(4, true), stored = dv.getUint32(8, true);
    const rawLen = dv.getUint32(28, true);
    if (n === 0) break;
    if (
      n > MAX_BLOCK_EVENTS || rawLen < n * minBytes || rawLen > n * EVENT_BYTES.max ||
      (compressed ? stored > rawLen + 64 || rawLen > stored * MAX_INFLATE_RATIO : stored !== rawLen)
    ) {
      traceErr(
        path,
        `byte ${at}`,
        `corrupted: implausible block (${n} events, ${stored} bytes stored, ${rawLen} raw)`,
      );
    }
    if (at + BLOCK_HEADER_BYTES + stored > size) {
      traceErr(
        path,
        `byte ${at}`,
        `${missing} (a block of ${stored} bytes runs past the end of the file at byte ${size})`,
      );
    }
    events += n;
    at += BLOCK_HEADER_BYTES + stored;
  }
  // The end block: whole, checksummed, last, and agreeing with the blocks.
  if (dv.getUint32(8, true) !== END_PAYLOAD_BYTES || at + END_BYTES > size) {
    traceErr(path, `byte ${at}`, missing);
  }
  readExactly(file, bh.subarray(BLOCK_HEADER_BYTES));
  const payload = bh.subarray(BLOCK_HEADER_BYTES);
  if (blockCrc(h.version, bh.subarray(0, BLOCK_HEADER_BYTES), payload) !== dv.getUint32(12, true)) {
    traceErr(path, `byte ${at}`, `${missing} (checksum mismatch)`);
  }
  const total = dv.getFloat64(BLOCK_HEADER_BYTES, true);
  const lastT = dv.getFloat64(BLOCK_HEADER_BYTES + 8, true);
  const after = at + END_BYTES;
  if (after < size) {
    file.seekSync(after, Deno.SeekMode.Start);
    const next = new Uint8Array(8);
    const got = readExactly(file, next);
    const ndv = new DataView(next.buffer);
    const block = got === 8 && ndv.getUint32(0, true) === BLOCK_MAGIC;
    traceErr(
      path,
      `byte ${after}`,
      block && ndv.getUint32(4, true) === 0
        ? `a second end block (the first is at byte ${at})`
        : block
        ? `the end block at byte ${at} is not the last block`
        : `${size - after} bytes of data after the end block at byte ${at}`,
    );
  }
  if (total !== events) {
    traceErr(
      path,
      `byte ${at + BLOCK_HEADER_BYTES}`,
      `the end block counts ${total} events but the blocks hold ${events}`,
    );
  }
  if (!Number.isSafeInteger(lastT) || lastT < 0 || (events === 0 && lastT !== 0)) {
    traceErr(path, `byte ${at + BLOCK_HEADER_BYTES + 8}`, `corrupted: last time ${lastT}`);
  }
  return { at, events, lastT };
}

/** Opens a trace file for reading; a failure is an error naming the file. */
function openFile(path: string): Deno.FsFile {
  try {
    return Deno.openSync(path);
  } catch (e) {
    traceErr(path, "", `cannot open: ${(e as Error).message}`);
  }
}

/**
 * A binary trace (format version 1 or 2), optionally placed at a frame offset. Opening it
 * walks the block headers (seeking over the payloads) so that a file whose structure is
 * wrong — cut short, an end block that is not last, data after it, totals that disagree
 * with the blocks, a block larger than the file — is refused before any access is
 * replayed. Each stream then checks and decodes one block at a time.
 */
export class BinaryTrace implements TraceWorkload {
  readonly kind = "trace" as const;
  readonly name: string;
  readonly header: TraceHeader;
  readonly minPages: number;
  readonly endNs: number;
  readonly events: number;
  readonly #path: string;
  readonly #offset: number;
  readonly #dataStart: number;
  /** Where the end block starts. */
  readonly #endAt: number;
  /** The end block's last time, in time units. */
  readonly #lastT: number;

  constructor(path: string, offset: number, name: string) {
    this.#path = path;
    this.#offset = offset;
    this.name = name;
    const file = openFile(path);
    try {
      const { header, bytes } = readHeader(path, file);
      this.header = header;
      this.#dataStart = bytes;
      const end = scanBlocks(path, file, header, bytes);
      this.#endAt = end.at;
      this.#lastT = end.lastT;
      this.events = end.events;
      this.endNs = end.lastT * header.timeUnitNs;
      if (!Number.isSafeInteger(this.endNs)) {
        traceErr(
          path,
          `byte ${end.at + BLOCK_HEADER_BYTES + 8}`,
          `last time ${end.lastT} is too large`,
        );
      }
      this.minPages = header.frames + offset;
    } finally {
      file.close();
    }
  }

  zeroMap(pages: number): Uint8Array | null {
    const map = new Uint8Array(pages);
    const off = this.#offset;
    map.fill(1, off, off + this.header.frames);
    for (const [first, count] of this.header.nonZero) map.fill(0, off + first, off + first + count);
    return map;
  }

  open(pages: number): AccessStream {
    if (pages < this.minPages) {
      traceErr(
        this.#path,
        "",
        `needs ${this.minPages} frames${
          this.#offset ? ` (offset ${this.#offset})` : ""
        } but the guest has ${pages}`,
      );
    }
    const path = this.#path, h = this.header, off = this.#offset, unit = h.timeUnitNs;
    const withOp = (h.flags & (TRACE_READS | TRACE_VCPU)) !== 0;
    const file = openFile(path);
    file.seekSync(this.#dataStart, Deno.SeekMode.Start);
    const endAt = this.#endAt, lastAt = this.#lastT, version = h.version;
    let pos = this.#dataStart, lastT = 0, done = false;
    let chunk = new TraceChunk(0);
    const bh = new Uint8Array(BLOCK_HEADER_BYTES);
    const bdv = new DataView(bh.buffer);
    const fail = (at: number, msg: string): never => {
      file.close();
      done = true;
      return traceErr(path, `byte ${at}`, msg);
    };
    return {
      close(): void {
        if (!done) file.close();
        done = true;
      },
      next(): AccessChunk | null {
        if (done) return null;
        const at = pos;
        if (readExactly(file, bh) < BLOCK_HEADER_BYTES) {
          fail(at, "truncated: block header cut short");
        }
        // The structure was checked at open; these checks catch a file changed since.
        if (bdv.getUint32(0, true) !== BLOCK_MAGIC) fail(at, "corrupted: expected a block (BLK1)");
        const n = bdv.getUint32(4, true), stored = bdv.getUint32(8, true);
        const rawLen = bdv.getUint32(28, true);
        if ((n === 0) !== (at === endAt) || at + BLOCK_HEADER_BYTES + stored > endAt + END_BYTES) {
          fail(at, "the file changed since it was opened");
        }
        const payload = new Uint8Array(stored);
        if (readExactly(file, payload) < stored) {
          fail(at + BLOCK_HEADER_BYTES, "truncated: block payload cut short");
        }
        pos += BLOCK_HEADER_BYTES + stored;
        if (blockCrc(version, bh, payload) !== bdv.getUint32(12, true)) {
          fail(at, "corrupted: block checksum mismatch");
        }
        if (n === 0) {
          const last = new DataView(payload.buffer).getFloat64(8, true);
          if (last !== lastT) {
            fail(
              at + BLOCK_HEADER_BYTES + 8,
              `the end block says the last access is at ${last} but the blocks end at ${lastT}`,
            );
          }
          file.close();
          done = true;
          return null;
        }
        let raw = payload;
        if (h.flags & TRACE_COMPRESSED) {
          try {
            // Capped at the declared length: a corrupt block cannot make it allocate more.
            raw = new Uint8Array(inflateRawSync(payload, { maxOutputLength: rawLen }));
          } catch (e) {
            fail(at + BLOCK_HEADER_BYTES, `corrupted: cannot decompress (${(e as Error).message})`);
          }
        }
        if (raw.length !== rawLen) fail(at, "corrupted: block payload has the wrong length");
        if (chunk.t.length < n) chunk = new TraceChunk(n);
        let k = 0, t = bdv.getFloat64(16, true), p = bdv.getUint32(24, true);
        const get = (): number => {
          let v = 0, mul = 1;
          for (;;) {
            if (k >= raw.length) return fail(at, "corrupted: block payload ends inside an event");
            const b = raw[k++];
            v += (b & 0x7f) * mul;
            if (b < 0x80) return v;
            mul *= 128;
            if (mul > 2 ** 56) return fail(at, "corrupted: varint too long");
          }
        };
        if (!Number.isSafeInteger(t)) {
          fail(at + 16, `corrupted: base time ${t} is not a whole number`);
        }
        if (t < lastT) fail(at, `time ${t} goes back before ${lastT}`);
        for (let i = 0; i < n; i++) {
          t += get();
          const z = get();
          p += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
          const ov = withOp ? get() : OP_WRITE;
          if (p < 0 || p >= h.frames || ov > MAX_OP) {
            if (ov > MAX_OP) fail(at, `event ${i} of the block: vCPU id ${ov >> 1} is above 65535`);
            fail(
              at,
              `event ${i} of the block: frame ${p} is outside the trace's ${h.frames} frames`,
            );
          }
          chunk.t[i] = t * unit;
          chunk.pfn[i] = p + off;
          chunk.op[i] = ov % 2;
          chunk.vcpu[i] = Math.floor(ov / 2);
        }
        if (k !== raw.length) fail(at, "corrupted: bytes left over after the block's events");
        if (t > lastAt) {
          fail(at, `time ${t} is after the last access the end block declares (${lastAt})`);
        }
        lastT = t;
        chunk.length = n;
        return chunk;
      },
    };
  }
}

/**
 * Reads a binary trace's header.
 *
 * @param path the `.pctrace` file
 * @returns the header
 * @throws {PrecopyError} if the header is missing, damaged or of an unknown version
 *
 * @example Usage
 * ```ts
 * import { readTraceHeader, TraceWriter } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const path = Deno.makeTempFileSync({ suffix: ".pctrace" });
 * new TraceWriter(path, { frames: 4, zero: Uint8Array.of(0, 1, 1, 0) }).close();
 * assert.deepEqual(readTraceHeader(path).nonZero, [[0, 1], [3, 1]]);
 * Deno.removeSync(path);
 * ```
 */
export function readTraceHeader(path: string): TraceHeader {
  const file = openFile(path);
  try {
    return readHeader(path, file).header;
  } finally {
    file.close();
  }
}
