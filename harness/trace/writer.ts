/**
 * Writing binary traces: events are buffered into blocks and written as each fills.
 *
 * @module
 */

import { deflateRawSync } from "node:zlib";
import { PrecopyError } from "../errors.ts";
import { OP_READ, OP_WRITE, type Workload } from "../workloads/workload.ts";
import {
  BLOCK_EVENTS,
  BLOCK_HEADER_BYTES,
  BLOCK_MAGIC,
  blockCrc,
  encodeHeader,
  END_PAYLOAD_BYTES,
  TRACE_COMPRESSED,
  TRACE_READS,
  TRACE_VCPU,
  type TraceHeader,
  VERSION,
} from "./format.ts";

/**
 * Writes a trace (format version 2) as a stream: events are buffered into blocks of
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
   * (1 per frame that holds only zeros at the start); `version` (2; 1 writes the older
   * block checksum, for testing readers of old files)
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
      version?: 1 | 2;
    },
  ) {
    const frames = options.frames;
    if (!Number.isInteger(frames) || frames < 1 || frames > 0xffffffff) {
      throw new PrecopyError("config", `trace ${path}: frames must be a whole number ≥ 1`);
    }
    if (options.version !== undefined && options.version !== 1 && options.version !== 2) {
      throw new PrecopyError("config", `trace ${path}: version must be 1 or 2`);
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
      version: options.version ?? VERSION,
      frames,
      pageSize: options.pageSize ?? 4096,
      timeUnitNs: options.timeUnitNs ?? 1,
      flags: (options.reads ? TRACE_READS : 0) | (options.vcpu ? TRACE_VCPU : 0) |
        (options.compress ? TRACE_COMPRESSED : 0),
      nonZero,
    };
    this.#path = path;
    this.#file = Deno.openSync(path, { write: true, create: true, truncate: true });
    const head = encodeHeader(this.#h);
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
    dv.setFloat64(16, baseT, true);
    dv.setUint32(24, baseP, true);
    dv.setUint32(28, rawLen, true);
    dv.setUint32(12, blockCrc(this.#h.version, head, payload), true);
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

/**
 * Writes a workload's accesses as a binary trace. A first pass finds whether reads and
 * vCPU ids occur, which the header declares; the second writes the events.
 *
 * @param src the workload (a trace, or a generator for a bounded run)
 * @param frames guest frames to open it with
 * @param output the `.pctrace` path
 * @param options `compress` (default true)
 * @returns the number of events written
 */
export function writeBinaryTrace(
  src: Workload,
  frames: number,
  output: string,
  options: { compress?: boolean } = {},
): number {
  let reads = false, vcpu = false;
  let s = src.open(frames, 0);
  try {
    for (let c = s.next(); c; c = s.next()) {
      const v = c.vcpu;
      for (let i = 0; i < c.length; i++) {
        if (c.op[i] === OP_READ) reads = true;
        if (v && v[i] !== 0) vcpu = true;
      }
    }
  } finally {
    s.close?.();
  }
  const w = new TraceWriter(output, {
    frames,
    reads,
    vcpu,
    compress: options.compress ?? true,
    zero: src.zeroMap(frames, 0),
  });
  let n = 0;
  s = src.open(frames, 0);
  try {
    for (let c = s.next(); c; c = s.next()) {
      const v = c.vcpu;
      for (let i = 0; i < c.length; i++) w.append(c.t[i], c.pfn[i], c.op[i], v ? v[i] : 0);
      n += c.length;
    }
  } finally {
    s.close?.();
  }
  w.close();
  return n;
}
