/**
 * Reading text traces (CSV and JSONL), in 64 KiB pieces: a first pass at open checks every
 * line and finds the frame count and end time, and each stream replays the file.
 *
 * @module
 */

import {
  type AccessChunk,
  type AccessStream,
  OP_READ,
  OP_WRITE,
  type Workload,
} from "../workloads/workload.ts";
import { TraceChunk, traceErr, type TraceWorkload } from "./format.ts";

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
export class TextTrace implements TraceWorkload {
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

/**
 * Writes a workload's accesses as CSV (`t_ns,frame,op,vcpu`) or JSONL, with the frame
 * count and the zero frames first.
 *
 * @param src the workload (a trace, or a generator for a bounded run)
 * @param frames guest frames to open it with
 * @param output the path
 * @param json JSONL rather than CSV
 * @returns the number of events written
 */
export function writeTextTrace(
  src: Workload,
  frames: number,
  output: string,
  json: boolean,
): number {
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
  let s: AccessStream | null = null;
  try {
    if (json) write(JSON.stringify({ frames, zero: ranges }) + "\n");
    else {
      write(`# frames=${frames}\n`);
      if (ranges.length) {
        write(`# zero=${ranges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(",")}\n`);
      }
      write("t_ns,frame,op,vcpu\n");
    }
    s = src.open(frames, 0);
    for (let c = s.next(); c; c = s.next()) {
      const vcpu = c.vcpu;
      let text = "";
      for (let i = 0; i < c.length; i++) {
        const op = c.op[i] === OP_WRITE ? "w" : "r";
        text += json
          ? `{"t_ns":${c.t[i]},"frame":${c.pfn[i]},"op":"${op}","vcpu":${vcpu ? vcpu[i] : 0}}\n`
          : `${c.t[i]},${c.pfn[i]},${op},${vcpu ? vcpu[i] : 0}\n`;
      }
      write(text);
      n += c.length;
    }
  } finally {
    s?.close?.();
    out.close();
  }
  return n;
}
