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
  crcOf,
  END_PAYLOAD_BYTES,
  MAX_BLOCK_EVENTS,
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

/** A binary v1 trace, optionally placed at a frame offset. */
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

  constructor(path: string, offset: number, name: string) {
    this.#path = path;
    this.#offset = offset;
    this.name = name;
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path);
    } catch (e) {
      traceErr(path, "", `cannot open: ${(e as Error).message}`);
    }
    try {
      const { header, bytes } = readHeader(path, file);
      this.header = header;
      this.#dataStart = bytes;
      const size = file.statSync().size;
      const endAt = size - BLOCK_HEADER_BYTES - END_PAYLOAD_BYTES;
      if (endAt < bytes) traceErr(path, `byte ${size}`, "truncated: no end block");
      file.seekSync(endAt, Deno.SeekMode.Start);
      const end = new Uint8Array(BLOCK_HEADER_BYTES + END_PAYLOAD_BYTES);
      readExactly(file, end);
      const dv = new DataView(end.buffer);
      const payload = end.subarray(BLOCK_HEADER_BYTES);
      if (
        dv.getUint32(0, true) !== BLOCK_MAGIC || dv.getUint32(4, true) !== 0 ||
        dv.getUint32(8, true) !== END_PAYLOAD_BYTES || crcOf(payload) !== dv.getUint32(12, true)
      ) {
        traceErr(
          path,
          `byte ${endAt}`,
          "truncated or corrupted: the end block is missing or damaged",
        );
      }
      this.events = dv.getFloat64(BLOCK_HEADER_BYTES, true);
      this.endNs = dv.getFloat64(BLOCK_HEADER_BYTES + 8, true) * header.timeUnitNs;
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
    const file = Deno.openSync(path);
    file.seekSync(this.#dataStart, Deno.SeekMode.Start);
    let pos = this.#dataStart, lastT = 0, done = false, seen = 0;
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
        if (bdv.getUint32(0, true) !== BLOCK_MAGIC) fail(at, "corrupted: expected a block (BLK1)");
        const n = bdv.getUint32(4, true), stored = bdv.getUint32(8, true);
        const rawLen = bdv.getUint32(28, true);
        if (
          n > MAX_BLOCK_EVENTS || stored > 16 * MAX_BLOCK_EVENTS || rawLen > 16 * MAX_BLOCK_EVENTS
        ) {
          fail(at, `corrupted: implausible block (${n} events, ${stored} bytes)`);
        }
        const payload = new Uint8Array(stored);
        if (readExactly(file, payload) < stored) {
          fail(at + BLOCK_HEADER_BYTES, "truncated: block payload cut short");
        }
        pos += BLOCK_HEADER_BYTES + stored;
        if (crcOf(payload) !== bdv.getUint32(12, true)) {
          fail(at, "corrupted: block checksum mismatch");
        }
        if (n === 0) {
          const total = new DataView(payload.buffer).getFloat64(0, true);
          if (total !== seen) {
            fail(at, `the end block counts ${total} events but the blocks hold ${seen}`);
          }
          file.close();
          done = true;
          return null;
        }
        let raw = payload;
        if (h.flags & TRACE_COMPRESSED) {
          try {
            raw = new Uint8Array(inflateRawSync(payload));
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
        if (t < lastT) fail(at, `time ${t} goes back before ${lastT}`);
        for (let i = 0; i < n; i++) {
          t += get();
          const z = get();
          p += z % 2 === 0 ? z / 2 : -(z + 1) / 2;
          const ov = withOp ? get() : OP_WRITE;
          if (p < 0 || p >= h.frames) {
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
        lastT = t;
        seen += n;
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
  const file = Deno.openSync(path);
  try {
    return readHeader(path, file).header;
  } finally {
    file.close();
  }
}
