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
import { quote, TraceChunk, traceErr, type TraceWorkload } from "./format.ts";

interface TextEvent {
  t: number;
  pfn: number;
  op: number;
  vcpu: number;
}

/** What one pass over the file has seen (line numbers; 0 for not yet). */
interface Pass {
  /** The first pass collects the metadata; replays skip it. */
  collect: boolean;
  /** The declared frame count, or −1. */
  declared: number;
  /** The CSV header line. */
  header: number;
  /** The first access. */
  firstEvent: number;
}

function newPass(collect: boolean): Pass {
  return { collect, declared: -1, header: 0, firstEvent: 0 };
}

/** A CSV header line: three or four column names. */
const HEADER = /^[A-Za-z_][\w ]*(,\s*[A-Za-z_][\w ]*){2,3}$/;
/**
 * A decimal number of digits only (no sign, point, exponent or hex), with spaces or tabs
 * around it allowed, else NaN. Faster than a regular expression and `Number()` per field.
 */
function decimal(s: string): number {
  let i = 0, n = s.length;
  while (i < n && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 9)) i++;
  while (n > i && (s.charCodeAt(n - 1) === 32 || s.charCodeAt(n - 1) === 9)) n--;
  if (i === n || n - i > 20) return NaN;
  let v = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    v = v * 10 + c;
  }
  return v;
}
/** Control characters other than tab (a carriage return is trimmed with the line). */
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Whether the first `n` bytes hold a control character other than tab and line ends. */
function hasControl(buf: Uint8Array, n: number): boolean {
  // Four bytes at a time: a word with no byte below 0x20 and no 0x7f is skipped whole
  // (the usual "has a byte less than" bit trick); the rest are looked at byte by byte.
  const words = new Int32Array(buf.buffer, buf.byteOffset, n >> 2);
  for (let w = 0; w < words.length; w++) {
    const x = words[w], y = x ^ 0x7f7f7f7f;
    if ((((x - 0x20202020) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) {
      if (controlIn(buf, 4 * w, 4 * w + 4)) return true;
    }
  }
  return controlIn(buf, n & ~3, n);
}

function controlIn(buf: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const b = buf[i];
    if ((b < 32 && b !== 9 && b !== 10 && b !== 13) || b === 127) return true;
  }
  return false;
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

  constructor(path: string, offset: number, name: string) {
    this.#path = path;
    this.#offset = offset;
    this.name = name;
    this.#json = path.endsWith(".jsonl");
    let maxFrame = -1;
    const e: TextEvent = { t: 0, pfn: 0, op: 0, vcpu: 0 };
    const st = newPass(true);
    for (const _ of this.#lines(e, st)) {
      if (e.pfn > maxFrame) maxFrame = e.pfn;
      if (e.vcpu) this.hasVcpu = true;
      if (e.op === OP_READ) this.hasReads = true;
      this.endNs = e.t;
      this.events++;
    }
    const declared = st.declared;
    if (this.events === 0 && declared < 0) {
      traceErr(
        path,
        "",
        `an empty trace: no accesses and no frame count (an idle trace declares ${
          this.#json ? '{"frames": N}' : "# frames=N"
        })`,
      );
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
    const parts = text.split(",");
    if (text.trim() === "") this.#fail(no, "zero= lists no frame");
    return parts.map((s) => {
      const m = /^\s*(\d+)(?:\s*-\s*(\d+))?\s*$/.exec(s);
      if (!m) this.#fail(no, `${quote(s)} is not a frame or range F1-F2`);
      const lo = Number(m[1]), hi = m[2] === undefined ? lo : Number(m[2]);
      if (hi < lo) this.#fail(no, `range ${quote(s)} is empty`);
      if (hi > 0xfffffffe) this.#fail(no, `frame ${hi} is not a frame number`);
      return [lo, hi];
    });
  }

  #opOf(text: string, no: number): number {
    const o = text.trim().toLowerCase();
    if (o === "w" || o === "write" || o === "1") return OP_WRITE;
    if (o === "r" || o === "read" || o === "0") return OP_READ;
    return this.#fail(no, `op ${quote(text)} is not r or w`);
  }

  /** A declared frame count, once, before any access. */
  #declare(frames: unknown, no: number, st: Pass): void {
    if (
      !Number.isSafeInteger(frames) || (frames as number) < 1 || (frames as number) > 0xffffffff
    ) {
      this.#fail(
        no,
        `frames must be a whole number from 1 to 4294967295, not ${quote(String(frames))}`,
      );
    }
    if (st.declared >= 0) this.#fail(no, "the frame count is declared twice");
    st.declared = frames as number;
  }

  /** Metadata (frame count, zero frames) comes before the first access. */
  #meta(no: number, st: Pass): boolean {
    if (st.firstEvent) {
      this.#fail(no, `metadata after the first access (line ${st.firstEvent})`);
    }
    return st.collect;
  }

  /** Parses one line into `e`; returns true for an access, false for a line to skip. */
  #parse(text: string, no: number, e: TextEvent, st: Pass): boolean {
    if (this.#json) {
      let o: Record<string, unknown>;
      try {
        o = JSON.parse(text);
      } catch {
        return this.#fail(no, "not a JSON object");
      }
      if (o === null || typeof o !== "object" || Array.isArray(o)) {
        return this.#fail(no, "not a JSON object");
      }
      if ("frames" in o && !("t_ns" in o)) {
        if (!this.#meta(no, st)) return false;
        this.#declare(o.frames, no, st);
        if (o.zero !== undefined && !Array.isArray(o.zero)) {
          this.#fail(no, "zero must be a list of [first, last] frame pairs");
        }
        for (const r of (o.zero ?? []) as unknown[]) {
          if (
            !Array.isArray(r) || r.length !== 2 || !Number.isSafeInteger(r[0]) ||
            !Number.isSafeInteger(r[1]) || r[0] < 0 || r[1] < r[0]
          ) {
            this.#fail(no, "zero must be a list of [first, last] frame pairs");
          }
          this.#zero.push([r[0], r[1]]);
        }
        return false;
      }
      e.t = o.t_ns as number;
      e.pfn = o.frame as number;
      e.op = this.#opOf(String(o.op ?? ""), no);
      e.vcpu = o.vcpu === undefined ? 0 : o.vcpu as number;
      if (!Number.isSafeInteger(e.t) || e.t < 0) {
        this.#fail(no, `time ${quote(String(o.t_ns))} is not ns ≥ 0`);
      }
      if (!Number.isInteger(e.pfn) || e.pfn < 0 || e.pfn > 0xfffffffe) {
        this.#fail(no, `frame ${quote(String(o.frame))} is not a frame number`);
      }
      if (!Number.isInteger(e.vcpu) || e.vcpu < 0 || e.vcpu > 65535) {
        this.#fail(no, `vcpu ${quote(String(o.vcpu))} is not 0…65535`);
      }
    } else {
      if (text.startsWith("#")) {
        // `# frames=` and `# zero=` are metadata and must parse; other `#` lines are comments.
        const m = /^#\s*(frames|zero)\s*=(.*)$/.exec(text);
        if (m && this.#meta(no, st)) {
          if (m[1] === "zero") this.#zero.push(...this.#ranges(m[2], no));
          else {
            const v = m[2].trim();
            this.#declare(/^\d+$/.test(v) ? Number(v) : v, no, st);
          }
        }
        return false;
      }
      const cols = text.split(",");
      const c0 = text.charCodeAt(0);
      if (c0 < 48 || c0 > 57) {
        // The one header line names the columns, before any access.
        if (HEADER.test(text) && !st.header && !st.firstEvent) {
          st.header = no;
          return false;
        }
        if (HEADER.test(text)) {
          this.#fail(
            no,
            st.firstEvent
              ? `a header line after the first access (line ${st.firstEvent})`
              : `a second header line (the first is line ${st.header})`,
          );
        }
      }
      if (cols.length < 3 || cols.length > 4) {
        this.#fail(no, `expected t_ns,frame,op[,vcpu] but found ${quote(text)}`);
      }
      // Decimal digits only: Number() would also take "", "0x1f", "1e3" and " ".
      e.t = decimal(cols[0]);
      e.pfn = decimal(cols[1]);
      e.op = this.#opOf(cols[2], no);
      e.vcpu = cols.length === 4 ? decimal(cols[3]) : 0;
      if (!Number.isSafeInteger(e.t)) this.#fail(no, `time ${quote(cols[0].trim())} is not ns ≥ 0`);
      if (!(e.pfn <= 0xfffffffe)) {
        this.#fail(no, `frame ${quote(cols[1].trim())} is not a frame number`);
      }
      if (!(e.vcpu <= 65535)) this.#fail(no, `vcpu ${quote(cols[3].trim())} is not 0…65535`);
    }
    if (!st.firstEvent) st.firstEvent = no;
    return true;
  }

  /** Yields once per access, with `e` filled; checks every line on the way. */
  *#lines(e: TextEvent, st: Pass): Generator<true> {
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(this.#path);
    } catch (err) {
      return this.#fail(0, `cannot open: ${(err as Error).message}`);
    }
    // fatal: bytes that are not UTF-8 are an error, not U+FFFD in a message.
    const dec = new TextDecoder("utf-8", { fatal: true });
    const buf = new Uint8Array(65536);
    let rest = "", no = 0, last = 0, read = 0, flagged = false;
    try {
      for (;;) {
        const n = file.readSync(buf);
        const eof = n === null;
        let piece = "";
        try {
          piece = eof ? dec.decode() : dec.decode(buf.subarray(0, n), { stream: true });
        } catch {
          this.#fail(
            0,
            `binary content: the file is not UTF-8 text (bytes ${read}–${read + (n ?? 0)})`,
          );
        }
        read += n ?? 0;
        // One scan of the bytes per piece; only a piece holding a control character (or the
        // piece after it, which finishes its last line) is looked at line by line.
        // (The first pass checks; a replay reads what the first pass accepted.)
        const here = st.collect && hasControl(buf, n ?? 0), control = flagged || here;
        flagged = here;
        rest += piece;
        const lines = rest.split("\n");
        rest = eof ? "" : lines.pop()!;
        for (const raw of lines) {
          no++;
          const text = raw.trim();
          if (text === "") continue;
          const bad = control ? CONTROL.exec(text) : null;
          if (bad) {
            this.#fail(
              no,
              `binary content: control character U+${
                bad[0].charCodeAt(0).toString(16).padStart(4, "0")
              }`,
            );
          }
          if (!this.#parse(text, no, e, st)) continue;
          if (e.t < last) {
            this.#fail(no, `time ${e.t} is earlier than the previous access (${last})`);
          }
          last = e.t;
          yield true;
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
    const it = this.#lines(e, newPass(false));
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
