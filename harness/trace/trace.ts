/**
 * Trace files: the binary format v1 (`.pctrace`, specified in
 * `fixtures/TRACE_FORMAT.md`) and the CSV and JSONL text forms. Each is read as a
 * stream (one block or one 64 KiB piece at a time) and exposed as a {@link Workload}. A
 * trace can be placed at a frame offset inside a larger guest; the rest of memory is idle.
 * Every malformed input is an error naming the file and the byte offset (binary) or the
 * line (text), never a partial replay.
 *
 * Compression is raw DEFLATE through `node:zlib`'s synchronous calls. They produce and
 * read exactly what `CompressionStream("deflate-raw")` does, but the engine pulls chunks
 * synchronously, and the Streams API cannot be read that way.
 *
 * @module
 */

import { crc32, deflateRawSync, inflateRawSync } from "node:zlib";
import { PrecopyError } from "../errors.ts";
import { parseSize } from "../units.ts";
import {
  type AccessChunk,
  type AccessStream,
  OP_READ,
  OP_WRITE,
  type Workload,
} from "../workloads/workload.ts";

const MAGIC = "PCLTRACE";
const BLOCK_MAGIC = 0x314b4c42; // "BLK1" little-endian
const VERSION = 1;
/** Header flag: the trace records reads. */
export const TRACE_READS = 1;
/** Header flag: the trace records vCPU ids. */
export const TRACE_VCPU = 2;
/** Header flag: block payloads are raw-DEFLATE compressed. */
export const TRACE_COMPRESSED = 4;
const KNOWN_FLAGS = TRACE_READS | TRACE_VCPU | TRACE_COMPRESSED;
const HEADER_BYTES = 32;
const BLOCK_HEADER_BYTES = 32;
const END_PAYLOAD_BYTES = 16;
/** Events per block written by {@link TraceWriter}. */
export const BLOCK_EVENTS = 65536;
const MAX_BLOCK_EVENTS = 1 << 22;

/** What a trace file says about itself. */
export interface TraceHeader {
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

function traceErr(file: string, where: string, msg: string): never {
  throw new PrecopyError("workload", `trace ${file}${where ? ` ${where}` : ""}: ${msg}`);
}

function crcOf(...parts: Uint8Array[]): number {
  let c = 0;
  for (const p of parts) c = crc32(p, c);
  return c >>> 0;
}

/** Reusable chunk buffers, with vCPU ids. */
class TraceChunk implements AccessChunk {
  t: Float64Array;
  pfn: Uint32Array;
  op: Uint8Array;
  vcpu: Uint16Array;
  length = 0;
  constructor(size: number) {
    this.t = new Float64Array(size);
    this.pfn = new Uint32Array(size);
    this.op = new Uint8Array(size);
    this.vcpu = new Uint16Array(size);
  }
}

// ---------------------------------------------------------------------------------------
// Writing

/**
 * Writes a v1 trace as a stream: events are buffered into blocks of
 * {@link BLOCK_EVENTS} and written as each fills; {@link TraceWriter.close} writes the
 * end block. Appending out of order or outside the frames is an error.
 *
 * @example Usage
 * ```ts
 * import { openTrace, TraceWriter } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const path = Deno.makeTempFileSync({ suffix: ".pctrace" });
 * const w = new TraceWriter(path, { frames: 8, compress: true });
 * w.append(0, 3, 1);
 * w.append(1000, 5, 1);
 * w.close();
 * const trace = openTrace(path);
 * assert.equal(trace.minPages, 8);
 * assert.deepEqual([...trace.open(8, 1).next()!.pfn.subarray(0, 2)], [3, 5]);
 * Deno.removeSync(path);
 * ```
 */
export class TraceWriter {
  readonly #file: Deno.FsFile;
  readonly #path: string;
  readonly #h: TraceHeader;
  readonly #t = new Float64Array(BLOCK_EVENTS);
  readonly #p = new Uint32Array(BLOCK_EVENTS);
  readonly #o = new Uint8Array(BLOCK_EVENTS);
  readonly #v = new Uint16Array(BLOCK_EVENTS);
  #n = 0;
  #total = 0;
  #last = 0;
  #closed = false;

  /**
   * Creates (or truncates) the file and writes the header.
   * @param path where to write
   * @param options `frames` (required); `pageSize` (4096); `timeUnitNs` (1); `reads` and
   * `vcpu` (whether ops other than write and vCPU ids are recorded); `compress`; `zero`
   * (1 per frame that holds only zeros at the start)
   */
  constructor(
    path: string,
    options: {
      frames: number;
      pageSize?: number;
      timeUnitNs?: number;
      reads?: boolean;
      vcpu?: boolean;
      compress?: boolean;
      zero?: Uint8Array | null;
    },
  ) {
    const frames = options.frames;
    if (!Number.isInteger(frames) || frames < 1 || frames > 0xffffffff) {
      throw new PrecopyError("config", `trace ${path}: frames must be a whole number ≥ 1`);
    }
    const nonZero: [number, number][] = [];
    const zero = options.zero;
    for (let p = 0; p < frames;) {
      if (zero && zero[p]) {
        p++;
        continue;
      }
      const first = p;
      while (p < frames && !(zero && zero[p])) p++;
      nonZero.push([first, p - first]);
    }
    this.#h = {
      frames,
      pageSize: options.pageSize ?? 4096,
      timeUnitNs: options.timeUnitNs ?? 1,
      flags: (options.reads ? TRACE_READS : 0) | (options.vcpu ? TRACE_VCPU : 0) |
        (options.compress ? TRACE_COMPRESSED : 0),
      nonZero,
    };
    this.#path = path;
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
    const head = new Uint8Array(HEADER_BYTES + 8 * nonZero.length);
    const dv = new DataView(head.buffer);
    head.set(new TextEncoder().encode(MAGIC), 0);
    dv.setUint16(8, VERSION, true);
    dv.setUint16(10, this.#h.flags, true);
    dv.setUint32(12, frames, true);
    dv.setUint32(16, this.#h.pageSize, true);
    dv.setUint32(20, this.#h.timeUnitNs, true);
    dv.setUint32(24, nonZero.length, true);
    nonZero.forEach(([f, c], i) => {
      dv.setUint32(HEADER_BYTES + 8 * i, f, true);
      dv.setUint32(HEADER_BYTES + 8 * i + 4, c, true);
    });
    dv.setUint32(28, crcOf(head.subarray(0, 28), head.subarray(HEADER_BYTES)), true);
    this.#write(head);
  }

  #write(bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) off += this.#file.writeSync(bytes.subarray(off));
  }

  /**
   * Appends one access.
   * @param t time in the trace's time units, not before the previous access
   * @param pfn frame, below `frames`
   * @param op {@link OP_READ} or {@link OP_WRITE}
   * @param vcpu vCPU id (0–65535), kept if the trace records vCPU ids
   */
  append(t: number, pfn: number, op: number, vcpu = 0): void {
    if (this.#closed) throw new Error("TraceWriter: append after close");
    if (!Number.isSafeInteger(t) || t < this.#last) {
      throw new PrecopyError(
        "workload",
        `trace ${this.#path}: event ${this.#total}: time ${t} is out of order`,
      );
    }
    if (!Number.isInteger(pfn) || pfn < 0 || pfn >= this.#h.frames) {
      throw new PrecopyError(
        "workload",
        `trace ${this.#path}: event ${this.#total}: frame ${pfn} is outside 0…${
          this.#h.frames - 1
        }`,
      );
    }
    if (op !== OP_WRITE && !(op === OP_READ && (this.#h.flags & TRACE_READS))) {
      throw new PrecopyError(
        "workload",
        `trace ${this.#path}: event ${this.#total}: a read in a trace created without reads`,
      );
    }
    const i = this.#n++;
    this.#t[i] = t;
    this.#p[i] = pfn;
    this.#o[i] = op;
    this.#v[i] = vcpu;
    this.#last = t;
    this.#total++;
    if (this.#n === BLOCK_EVENTS) this.#flush();
  }

  #flush(): void {
    const n = this.#n;
    if (n === 0) return;
    const withOp = (this.#h.flags & (TRACE_READS | TRACE_VCPU)) !== 0;
    const raw = new Uint8Array(n * (withOp ? 20 : 15));
    let k = 0;
    const put = (v: number) => {
      while (v >= 0x80) {
        raw[k++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      raw[k++] = v;
    };
    let prevT = this.#t[0], prevP = this.#p[0];
    for (let i = 0; i < n; i++) {
      put(this.#t[i] - prevT);
      const d = this.#p[i] - prevP;
      put(d >= 0 ? 2 * d : -2 * d - 1);
      if (withOp) put(this.#v[i] * 2 + this.#o[i]);
      prevT = this.#t[i];
      prevP = this.#p[i];
    }
    const rawPayload = raw.subarray(0, k);
    const stored = (this.#h.flags & TRACE_COMPRESSED)
      ? new Uint8Array(deflateRawSync(rawPayload))
      : rawPayload;
    this.#block(n, stored, this.#t[0], this.#p[0], rawPayload.length);
    this.#n = 0;
  }

  #block(n: number, payload: Uint8Array, baseT: number, baseP: number, rawLen: number): void {
    const head = new Uint8Array(BLOCK_HEADER_BYTES);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, BLOCK_MAGIC, true);
    dv.setUint32(4, n, true);
    dv.setUint32(8, payload.length, true);
    dv.setUint32(12, crcOf(payload), true);
    dv.setFloat64(16, baseT, true);
    dv.setUint32(24, baseP, true);
    dv.setUint32(28, rawLen, true);
    this.#write(head);
    this.#write(payload);
  }

  /** Writes the last block and the end block, and closes the file. */
  close(): void {
    if (this.#closed) return;
    this.#flush();
    const end = new Uint8Array(END_PAYLOAD_BYTES);
    const dv = new DataView(end.buffer);
    dv.setFloat64(0, this.#total, true);
    dv.setFloat64(8, this.#last, true);
    this.#block(0, end, 0, 0, END_PAYLOAD_BYTES);
    this.#file.close();
    this.#closed = true;
  }
}

// ---------------------------------------------------------------------------------------
// Reading binary traces

function readExactly(file: Deno.FsFile, buf: Uint8Array): number {
  let off = 0;
  while (off < buf.length) {
    const n = file.readSync(buf.subarray(off));
    if (n === null) break;
    off += n;
  }
  return off;
}

function readHeader(path: string, file: Deno.FsFile): { header: TraceHeader; bytes: number } {
  const head = new Uint8Array(HEADER_BYTES);
  const got = readExactly(file, head);
  if (got < HEADER_BYTES) traceErr(path, `byte ${got}`, "truncated header");
  if (new TextDecoder().decode(head.subarray(0, 8)) !== MAGIC) {
    traceErr(path, "byte 0", "not a precopy-lab trace (bad magic)");
  }
  const dv = new DataView(head.buffer);
  const version = dv.getUint16(8, true);
  if (version !== VERSION) {
    traceErr(path, "byte 8", `format version ${version} is not supported (this reader knows 1)`);
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
  return { header: { frames, pageSize, timeUnitNs, flags, nonZero }, bytes: HEADER_BYTES + 8 * r };
}

/** A binary v1 trace, optionally placed at a frame offset. */
class BinaryTrace implements Workload {
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

// ---------------------------------------------------------------------------------------
// Reading text traces (CSV and JSONL)

interface TextEvent {
  t: number;
  pfn: number;
  op: number;
  vcpu: number;
}

/**
 * A CSV or JSONL trace, read in 64 KiB pieces. The first pass (at construction) checks
 * every line and finds the frame count and end time; `open()` replays it.
 */
class TextTrace implements Workload {
  readonly kind = "trace" as const;
  readonly name: string;
  minPages = 0;
  endNs = 0;
  events = 0;
  frames = 0;
  hasVcpu = false;
  hasReads = false;
  readonly #path: string;
  readonly #offset: number;
  readonly #json: boolean;
  #zero: [number, number][] = [];
  #sawEvent = false;

  constructor(path: string, offset: number, name: string) {
    this.#path = path;
    this.#offset = offset;
    this.name = name;
    this.#json = path.endsWith(".jsonl");
    let declared = -1, maxFrame = -1;
    const e: TextEvent = { t: 0, pfn: 0, op: 0, vcpu: 0 };
    for (const line of this.#lines(e)) {
      if (typeof line === "number") {
        declared = line;
        continue;
      }
      if (e.pfn > maxFrame) maxFrame = e.pfn;
      if (e.vcpu) this.hasVcpu = true;
      if (e.op === OP_READ) this.hasReads = true;
      this.endNs = e.t;
      this.events++;
    }
    if (declared >= 0 && maxFrame >= declared) {
      traceErr(path, "", `frame ${maxFrame} is outside the declared frames=${declared}`);
    }
    this.frames = Math.max(declared, maxFrame + 1, 1);
    for (const [, hi] of this.#zero) {
      if (hi >= this.frames) traceErr(path, "", `zero frame ${hi} is outside the trace's frames`);
    }
    this.minPages = this.frames + offset;
  }

  #fail(line: number, msg: string): never {
    return traceErr(this.#path, line ? `line ${line}` : "", msg);
  }

  #ranges(text: string, no: number): [number, number][] {
    return text.split(",").filter((s) => s.trim()).map((s) => {
      const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(s);
      if (!m) this.#fail(no, `'${s}' is not a frame or range F1-F2`);
      const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) this.#fail(no, `range ${s} is empty`);
      return [lo, hi];
    });
  }

  #opOf(text: string, no: number): number {
    const o = text.trim().toLowerCase();
    if (o === "w" || o === "write" || o === "1") return OP_WRITE;
    if (o === "r" || o === "read" || o === "0") return OP_READ;
    return this.#fail(no, `op '${text}' is not r or w`);
  }

  /** Parses one line into `e`; returns "event", a declared frame count, or null to skip. */
  #parse(text: string, no: number, e: TextEvent): "event" | number | null {
    if (this.#json) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(text);
      } catch {
        return this.#fail(no, "not a JSON object");
      }
      if (o === null || typeof o !== "object") return this.#fail(no, "not a JSON object");
      if ("frames" in o && !("t_ns" in o)) {
        if (!Number.isInteger(o.frames)) this.#fail(no, "frames must be a whole number");
        if (Array.isArray(o.zero)) {
          for (const r of o.zero) {
            if (
              !Array.isArray(r) || !Number.isInteger(r[0]) || !Number.isInteger(r[1]) || r[1] < r[0]
            ) {
              this.#fail(no, "zero must be a list of [first, last] frame pairs");
            }
            this.#zero.push([r[0], r[1]]);
          }
        }
        return o.frames as number;
      }
      e.t = o.t_ns as number;
      e.pfn = o.frame as number;
      e.op = this.#opOf(String(o.op ?? ""), no);
      e.vcpu = o.vcpu === undefined ? 0 : o.vcpu as number;
    } else {
      if (text.startsWith("#")) {
        const f = /^#\s*frames\s*=\s*(\d+)\s*$/.exec(text);
        const z = /^#\s*zero\s*=\s*(.*)$/.exec(text);
        if (z) this.#zero.push(...this.#ranges(z[1], no));
        return f ? Number(f[1]) : null;
      }
      const cols = text.split(",");
      if (!this.#sawEvent && !/^\d/.test(cols[0])) return null; // the header line
      this.#sawEvent = true;
      if (cols.length < 3 || cols.length > 4) {
        this.#fail(no, `expected t_ns,frame,op[,vcpu] but found '${text}'`);
      }
      e.t = Number(cols[0]);
      e.pfn = Number(cols[1]);
      e.op = this.#opOf(cols[2], no);
      e.vcpu = cols.length === 4 ? Number(cols[3]) : 0;
    }
    if (!Number.isSafeInteger(e.t) || e.t < 0) this.#fail(no, `time '${e.t}' is not ns ≥ 0`);
    if (!Number.isInteger(e.pfn) || e.pfn < 0 || e.pfn > 0xfffffffe) {
      this.#fail(no, `frame '${e.pfn}' is not a frame number`);
    }
    if (!Number.isInteger(e.vcpu) || e.vcpu < 0 || e.vcpu > 65535) {
      this.#fail(no, `vcpu '${e.vcpu}' is not 0…65535`);
    }
    return "event";
  }

  /** Yields, per event line, "event" with `e` filled, or a declared frame count. */
  *#lines(e: TextEvent): Generator<"event" | number> {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(this.#path);
    } catch (err) {
      return this.#fail(0, `cannot open: ${(err as Error).message}`);
    }
    const dec = new TextDecoder();
    const buf = new Uint8Array(65536);
    let rest = "", no = 0, last = 0;
    this.#sawEvent = false;
    try {
      for (;;) {
        const n = file.readSync(buf);
        const eof = n === null;
        rest += eof ? dec.decode() : dec.decode(buf.subarray(0, n), { stream: true });
        const lines = rest.split("\n");
        rest = eof ? "" : lines.pop()!;
        for (const raw of lines) {
          no++;
          const text = raw.trim();
          if (text === "") continue;
          const r = this.#parse(text, no, e);
          if (r === null) continue;
          if (typeof r === "number") {
            yield r;
            continue;
          }
          if (e.t < last) {
            this.#fail(no, `time ${e.t} is earlier than the previous access (${last})`);
          }
          last = e.t;
          yield "event";
        }
        if (eof) break;
      }
    } finally {
      file.close();
    }
  }

  zeroMap(pages: number): Uint8Array | null {
    if (this.#zero.length === 0) return null;
    const map = new Uint8Array(pages);
    for (const [lo, hi] of this.#zero) map.fill(1, this.#offset + lo, this.#offset + hi + 1);
    return map;
  }

  open(pages: number): AccessStream {
    if (pages < this.minPages) {
      this.#fail(
        0,
        `needs ${this.minPages} frames${
          this.#offset ? ` (offset ${this.#offset})` : ""
        } but the guest has ${pages}`,
      );
    }
    const e: TextEvent = { t: 0, pfn: 0, op: 0, vcpu: 0 };
    const it = this.#lines(e);
    const chunk = new TraceChunk(8192);
    const off = this.#offset;
    return {
      close(): void {
        it.return(undefined); // runs the reader's finally: closes the file
      },
      next(): AccessChunk | null {
        let k = 0;
        while (k < chunk.t.length) {
          const r = it.next();
          if (r.done) break;
          if (r.value !== "event") continue;
          chunk.t[k] = e.t;
          chunk.pfn[k] = e.pfn + off;
          chunk.op[k] = e.op;
          chunk.vcpu[k] = e.vcpu;
          k++;
        }
        chunk.length = k;
        return k === 0 ? null : chunk;
      },
    };
  }
}

/** A trace file opened as a workload, with what its header or first pass found. */
export type TraceWorkload = Workload & {
  /** Accesses in the trace. */
  readonly events: number;
};

/**
 * Whether a workload spec names a trace file: it has a `/` or ends (before an optional
 * `:offset=…`) in `.pctrace`, `.csv` or `.jsonl`.
 *
 * @param spec the `--workload` value
 * @returns true for a trace path
 *
 * @example Usage
 * ```ts
 * import { isTraceSpec } from "./trace.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isTraceSpec("fixtures/sort.pctrace:offset=1GiB"));
 * assert.ok(!isTraceSpec("uniform:rate=5k"));
 * ```
 */
export function isTraceSpec(spec: string): boolean {
  const path = spec.replace(/:offset=[^:]*$/, "");
  return path.includes("/") || /\.(pctrace|csv|jsonl)$/.test(path);
}

/**
 * Opens a trace file as a workload: `.pctrace` (binary v1), `.csv` or `.jsonl`. A suffix
 * `:offset=N` (frames) or `:offset=SIZE` (`1GiB`, page-aligned) places the trace's frames
 * at that offset in the guest; the rest of memory is idle.
 *
 * @param spec the path, with an optional `:offset=…`
 * @param pageSize bytes per frame, for a size offset (default 4096)
 * @returns the workload
 * @throws {PrecopyError} naming the file and the byte offset or line that is wrong
 *
 * @example Usage
 * ```ts
 * import { openTrace } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const path = Deno.makeTempFileSync({ suffix: ".csv" });
 * Deno.writeTextFileSync(path, "t_ns,frame,op\n0,1,w\n5,2,w\n");
 * const w = openTrace(`${path}:offset=100`);
 * assert.equal(w.minPages, 103);
 * assert.deepEqual([...w.open(200, 1).next()!.pfn.subarray(0, 2)], [101, 102]);
 * Deno.removeSync(path);
 * ```
 */
export function openTrace(spec: string, pageSize = 4096): TraceWorkload {
  const m = /^(.*):offset=([^:]*)$/.exec(spec);
  const path = m ? m[1] : spec;
  let offset = 0;
  if (m) {
    const text = m[2].trim();
    if (/^\d+$/.test(text)) offset = Number(text);
    else {
      const bytes = parseSize(text, `workload '${spec}' offset`);
      if (bytes % pageSize !== 0) {
        throw new PrecopyError(
          "workload",
          `workload '${spec}': offset ${text} is not a multiple of the ${pageSize}-byte page`,
        );
      }
      offset = bytes / pageSize;
    }
  }
  if (path.endsWith(".pctrace")) return new BinaryTrace(path, offset, spec);
  if (path.endsWith(".csv") || path.endsWith(".jsonl")) return new TextTrace(path, offset, spec);
  throw new PrecopyError(
    "workload",
    `workload '${spec}': a trace must end in .pctrace, .csv or .jsonl`,
  );
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

/**
 * Converts a CSV or JSONL trace into a binary v1 trace.
 *
 * @param input `.csv` or `.jsonl` path
 * @param output `.pctrace` path
 * @param options `compress` (default true)
 * @returns the number of events written
 * @throws {PrecopyError} for a malformed input
 *
 * @example Usage
 * ```ts
 * import { importTrace, openTrace } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/a.jsonl`, '{"t_ns":0,"frame":2,"op":"r","vcpu":1}\n');
 * assert.equal(importTrace(`${dir}/a.jsonl`, `${dir}/a.pctrace`), 1);
 * assert.equal(openTrace(`${dir}/a.pctrace`).minPages, 3);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function importTrace(
  input: string,
  output: string,
  options: { compress?: boolean } = {},
): number {
  const src = new TextTrace(input, 0, input);
  const w = new TraceWriter(output, {
    frames: src.frames,
    reads: src.hasReads,
    vcpu: src.hasVcpu,
    compress: options.compress ?? true,
    zero: src.zeroMap(src.frames),
  });
  const s = src.open(src.frames);
  for (let c = s.next() as TraceChunk | null; c; c = s.next() as TraceChunk | null) {
    for (let i = 0; i < c.length; i++) w.append(c.t[i], c.pfn[i], c.op[i], c.vcpu[i]);
  }
  w.close();
  return src.events;
}

/**
 * Writes any trace as CSV (`t_ns,frame,op,vcpu`) or JSONL, chosen by the output's ending.
 *
 * @param input a `.pctrace`, `.csv` or `.jsonl` trace
 * @param output a `.csv` or `.jsonl` path
 * @returns the number of events written
 * @throws {PrecopyError} for a malformed input or an unknown output form
 *
 * @example Usage
 * ```ts
 * import { exportTrace, TraceWriter } from "./trace.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const w = new TraceWriter(`${dir}/a.pctrace`, { frames: 4, vcpu: true });
 * w.append(7, 3, 1, 2);
 * w.close();
 * exportTrace(`${dir}/a.pctrace`, `${dir}/a.csv`);
 * assert.match(Deno.readTextFileSync(`${dir}/a.csv`), /^# frames=4\nt_ns,frame,op,vcpu\n7,3,w,2\n$/);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function exportTrace(input: string, output: string): number {
  const json = output.endsWith(".jsonl");
  if (!json && !output.endsWith(".csv")) {
    throw new PrecopyError("config", `export: '${output}' must end in .csv or .jsonl`);
  }
  const src = openTrace(input);
  const frames = src.minPages;
  const zero = src.zeroMap(frames, 0);
  const ranges: [number, number][] = [];
  for (let p = 0; zero && p < frames; p++) {
    if (!zero[p]) continue;
    const lo = p;
    while (p + 1 < frames && zero[p + 1]) p++;
    ranges.push([lo, p]);
  }
  const out = Deno.openSync(output, { write: true, create: true, truncate: true });
  const enc = new TextEncoder();
  const write = (s: string) => {
    const b = enc.encode(s);
    let off = 0;
    while (off < b.length) off += out.writeSync(b.subarray(off));
  };
  let n = 0;
  try {
    if (json) write(JSON.stringify({ frames, zero: ranges }) + "\n");
    else {
      write(`# frames=${frames}\n`);
      if (ranges.length) {
        write(`# zero=${ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",")}\n`);
      }
      write("t_ns,frame,op,vcpu\n");
    }
    const s = src.open(frames, 0);
    for (let c = s.next() as TraceChunk | null; c; c = s.next() as TraceChunk | null) {
      let text = "";
      for (let i = 0; i < c.length; i++) {
        const op = c.op[i] === OP_WRITE ? "w" : "r";
        text += json
          ? `{"t_ns":${c.t[i]},"frame":${c.pfn[i]},"op":"${op}","vcpu":${c.vcpu[i]}}\n`
          : `${c.t[i]},${c.pfn[i]},${op},${c.vcpu[i]}\n`;
      }
      write(text);
      n += c.length;
    }
  } finally {
    out.close();
  }
  return n;
}
