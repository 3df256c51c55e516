/**
 * Workloads: time-ordered streams of guest memory accesses `(tNs, pfn, read|write)` in
 * typed-array chunks, from seeded generators or from trace files (`trace.ts`). Streams
 * never hold more than one chunk, so a long trace replays in bounded memory.
 *
 * Generator specs use `name[:k=v,k=v…]`:
 *
 * | generator | what it writes | parameters (defaults) |
 * |---|---|---|
 * | `idle` | nothing | `zero` |
 * | `uniform` | frames drawn uniformly from the footprint | `rate=10k` |
 * | `hotcold` | `hotShare` of writes to a scattered hot set of `hot` × footprint frames | `rate=20k,hot=5%,hotShare=90%` |
 * | `sequential` | frames in address order across the footprint, wrapping | `rate=10k` |
 * | `phases` | like `hotcold`, but the hot set moves to new frames every `period` | `rate=20k,hot=5%,hotShare=90%,period=2s` |
 * | `mix` | several generators at once: `mix:uniform(rate=2k)+hotcold(rate=20k)` | — |
 *
 * Every generator also takes `footprint` (the region it touches, from frame 0: a size such
 * as `256MiB` or a share such as `50%`; default all memory), `zero` (the share of frames
 * that hold only zeros at the start; default 0 %) and `reads` (reads per second drawn like
 * the writes; default 0). Writes are evenly spaced at `rate` per second.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { createRng, mixSeed, type Rng, shuffle } from "../rng.ts";
import { parseCount, parseDuration, parseShare, parseSize } from "../units.ts";

/** Access kind in {@link AccessChunk.op}. */
export const OP_READ = 0;
/** Access kind in {@link AccessChunk.op}. */
export const OP_WRITE = 1;

/**
 * One chunk of accesses, in time order. The arrays are reused by the stream: a chunk is
 * valid until the next call to {@link AccessStream.next}.
 */
export interface AccessChunk {
  /** Access times in integer nanoseconds since the workload began. */
  readonly t: Float64Array;
  /** Guest frame numbers. */
  readonly pfn: Uint32Array;
  /** {@link OP_READ} or {@link OP_WRITE}. */
  readonly op: Uint8Array;
  /** How many entries of the arrays are valid. */
  readonly length: number;
  /** vCPU ids, when the source records them. */
  readonly vcpu?: Uint16Array;
}

/** A source of access chunks; `next()` returns `null` when the workload ends. */
export interface AccessStream {
  /** The next chunk, or `null` at the end. */
  next(): AccessChunk | null;
  /** Releases what the stream holds open (a file), if it stops before its end. */
  close?(): void;
}

/**
 * A workload: a named, re-openable access stream. Opening it twice with the same memory
 * size and seed yields the same accesses (oracle policies rely on this to see the future).
 */
export interface Workload {
  /** The normalised spec (`hotcold:rate=20k,hot=5%`) or the trace path. */
  readonly name: string;
  /** `generator` or `trace`. */
  readonly kind: "generator" | "trace";
  /** The smallest guest (in frames) the workload can drive. */
  readonly minPages: number;
  /** Time of the last access for a trace; `Infinity` for a generator. */
  readonly endNs: number;
  /**
   * Which frames hold only zeros at the start (1 = zero), or `null` if none do.
   * @param pages guest frames
   * @param seed the run's seed
   */
  zeroMap(pages: number, seed: number): Uint8Array | null;
  /**
   * Opens a fresh stream from time 0.
   * @param pages guest frames
   * @param seed the run's seed
   */
  open(pages: number, seed: number): AccessStream;
}

const CHUNK = 8192;

/** Reusable chunk buffers. */
class Buffers implements AccessChunk {
  t = new Float64Array(CHUNK);
  pfn = new Uint32Array(CHUNK);
  op = new Uint8Array(CHUNK);
  length = 0;
}

/** A generator's parameters as written in the spec, by name. */
export type Params = Record<string, string>;

interface Common {
  footprint: string;
  zero: number;
  reads: number;
  rate: number;
}

function wErr(spec: string, msg: string): never {
  throw new PrecopyError("workload", `workload '${spec}': ${msg}`);
}

function footprintFrames(spec: string, footprint: string, pages: number, pageSize: number) {
  if (footprint === "") return pages;
  let frames: number;
  if (footprint.endsWith("%")) {
    frames = Math.round(parseShare(footprint, `workload '${spec}' footprint`) * pages);
  } else {
    frames = Math.floor(parseSize(footprint, `workload '${spec}' footprint`) / pageSize);
  }
  if (frames < 1) wErr(spec, `footprint=${footprint} holds no frame`);
  if (frames > pages) {
    wErr(spec, `footprint=${footprint} (${frames} frames) exceeds guest memory (${pages} frames)`);
  }
  return frames;
}

function hashZero(pages: number, seed: number, share: number): Uint8Array | null {
  if (share <= 0) return null;
  const map = new Uint8Array(pages);
  const s = mixSeed(seed, "zero");
  const cut = share * 4294967296;
  for (let p = 0; p < pages; p++) {
    let h = Math.imul(p ^ s, 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    if ((h >>> 0) < cut) map[p] = 1;
  }
  return map;
}

/** Frame choice for one generator; `i` counts writes so far (for sweeps). */
export type Pick = (rng: Rng, tNs: number, i: number) => number;

/** A generator: its description, its parameters with their defaults, and its frame picker. */
export interface GeneratorDef {
  /** One line for `--help`. */
  description: string;
  /** The parameters it takes besides the common ones, with their defaults. */
  defaults: Record<string, string>;
  /** Builds the frame picker once the footprint (in frames) is known. */
  picker(p: Params, spec: string, frames: number, rng: Rng): Pick;
  /** The picker is `rng.below(frames)`: with writes only, a chunk's frames are drawn at once. */
  uniform?: true;
}

function skewed(p: Params, spec: string, frames: number, rng: Rng, periodNs: number): Pick {
  const hot = parseShare(p.hot, `workload '${spec}' hot`);
  const hotShare = parseShare(p.hotShare, `workload '${spec}' hotShare`);
  const h = frames === 1 ? 1 : Math.min(frames - 1, Math.max(1, Math.round(hot * frames)));
  const cold = frames - h;
  // A scattered hot set: the first h entries of a seeded permutation (shifted per phase).
  const perm = new Uint32Array(frames);
  for (let i = 0; i < frames; i++) perm[i] = i;
  shuffle(perm, rng);
  return (r, t) => {
    const off = periodNs > 0 ? (Math.floor(t / periodNs) * h) % frames : 0;
    if (cold === 0 || r.float() < hotShare) return perm[(off + r.below(h)) % frames];
    return perm[(off + h + r.below(cold)) % frames];
  };
}

/**
 * The generators, by name: adding one is one entry here (its parameters and defaults, and a
 * frame picker); the spec parser, `--help` and the workload conformance suite take it up.
 *
 * @example Usage
 * ```ts
 * import { GENERATORS } from "./workload.ts";
 * import assert from "node:assert/strict";
 * assert.equal(GENERATORS.hotcold.defaults.hot, "5%");
 * ```
 */
export const GENERATORS: Readonly<Record<string, GeneratorDef>> = {
  idle: {
    description: "a guest that touches no memory",
    defaults: { rate: "0" },
    picker: () => () => 0,
  },
  uniform: {
    description: "writes spread uniformly over the footprint",
    defaults: { rate: "10k" },
    picker: (_p, _s, frames) => (r) => r.below(frames),
    uniform: true,
  },
  hotcold: {
    description: "hotShare of the writes go to a scattered hot set of hot × footprint frames",
    defaults: { rate: "20k", hot: "5%", hotShare: "90%" },
    picker: (p, s, frames, rng) => skewed(p, s, frames, rng, 0),
  },
  sequential: {
    description: "a sweep writing frames in address order across the footprint, wrapping",
    defaults: { rate: "10k" },
    picker: (_p, _s, frames) => (_r, _t, i) => i % frames,
  },
  phases: {
    description: "a hot set that moves to new frames every period",
    defaults: { rate: "20k", hot: "5%", hotShare: "90%", period: "2s" },
    picker: (p, s, frames, rng) => {
      const period = parseDuration(p.period, `workload '${s}' period`);
      if (period <= 0) wErr(s, "period must be greater than zero");
      return skewed(p, s, frames, rng, period);
    },
  },
};

const COMMON: Record<string, string> = { footprint: "", zero: "0%", reads: "0" };

/** Names of the built-in generators, for help texts and error messages. */
export const GENERATOR_NAMES: readonly string[] = [...Object.keys(GENERATORS), "mix"];

function parseParams(spec: string, name: string, body: string, allowed: Params): Params {
  const out: Params = { ...allowed };
  if (body.trim() === "") return out;
  const given = new Set<string>();
  for (const part of splitTop(body, ",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) wErr(spec, `'${part}' is not k=v`);
    const k = part.slice(0, eq).trim();
    if (!Object.hasOwn(allowed, k)) {
      wErr(
        spec,
        `unknown parameter '${k}' for ${name}; accepted: ${Object.keys(allowed).join(", ")}`,
      );
    }
    if (given.has(k)) wErr(spec, `parameter '${k}' is given twice; give it once`);
    given.add(k);
    out[k] = part.slice(eq + 1).trim();
  }
  return out;
}

/** Splits on `sep` outside parentheses. */
function splitTop(s: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0, start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === sep && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/**
 * A generator's canonical form — its name and every parameter, defaults filled, in the
 * generator's own order, each number normalised (counts and durations as plain numbers,
 * shares as fractions, sizes in bytes) — so that `uniform`, `uniform:rate=10k` and
 * `uniform:rate=10000` are one workload and draw the same accesses. Seeds come from it.
 */
function canonicalForm(spec: string, gen: string, params: Params): string {
  const what = (k: string) => `workload '${spec}' ${k}`;
  const norm = (k: string, v: string): string => {
    switch (k) {
      case "rate":
      case "reads":
        return String(parseCount(v, what(k)));
      case "hot":
      case "hotShare":
      case "zero":
        return String(Number(parseShare(v, what(k)).toPrecision(12)));
      case "period":
        return `${parseDuration(v, what(k))}ns`;
      case "footprint":
        if (v === "") return "all";
        if (v.endsWith("%")) return `${Number((parseShare(v, what(k)) * 100).toPrecision(12))}%`;
        return `${parseSize(v, what(k))}B`;
      default:
        return v;
    }
  };
  const keys = [...Object.keys(GENERATORS[gen].defaults), ...Object.keys(COMMON)];
  return `${gen}:${keys.map((k) => `${k}=${norm(k, params[k])}`).join(",")}`;
}

class GeneratorWorkload implements Workload {
  readonly kind = "generator" as const;
  readonly minPages = 1;
  readonly endNs = Infinity;
  /** The canonical form (see {@link canonicalForm}); the generator's seed is drawn from it. */
  readonly canonical: string;
  readonly #common: Common;
  constructor(
    readonly name: string,
    readonly gen: string,
    readonly params: Params,
    readonly pageSize: number,
  ) {
    const what = `workload '${name}'`;
    this.#common = {
      footprint: params.footprint,
      zero: parseShare(params.zero, `${what} zero`),
      reads: parseCount(params.reads, `${what} reads`),
      rate: parseCount(params.rate, `${what} rate`),
    };
    if (!(this.#common.rate >= 0) || !Number.isFinite(this.#common.rate)) {
      wErr(name, "rate must be a number ≥ 0");
    }
    if (!(this.#common.reads >= 0)) wErr(name, "reads must be a number ≥ 0");
    // Validate the remaining parameters now, so a bad spec fails before any run.
    GENERATORS[gen].picker(params, name, 2, createRng(0));
    this.canonical = canonicalForm(name, gen, params);
  }

  zeroMap(pages: number, seed: number): Uint8Array | null {
    footprintFrames(this.name, this.#common.footprint, pages, this.pageSize);
    return hashZero(pages, seed, this.#common.zero);
  }

  open(pages: number, seed: number): AccessStream {
    const frames = footprintFrames(this.name, this.#common.footprint, pages, this.pageSize);
    const { rate, reads } = this.#common;
    const total = this.gen === "idle" ? 0 : rate + reads;
    const rng = createRng(mixSeed(seed, this.canonical));
    const def = GENERATORS[this.gen];
    const pick = def.picker(this.params, this.name, frames, rng);
    const bulk = def.uniform === true && reads === 0; // the same draws, fewer calls
    const buf = new Buffers();
    const writeShare = total > 0 ? rate / total : 0;
    const step = total > 0 ? 1e9 / total : 0;
    let i = 0, writes = 0;
    return {
      next(): AccessChunk | null {
        if (total === 0) return null;
        const ts = buf.t, ops = buf.op, pfns = buf.pfn;
        if (bulk) {
          rng.fillBelow(pfns, 0, CHUNK, frames);
          ops.fill(OP_WRITE);
          for (let k = 0; k < CHUNK; k++, i++) ts[k] = Math.round(i * step);
          writes += CHUNK;
          buf.length = CHUNK;
          return buf;
        }
        for (let k = 0; k < CHUNK; k++, i++) {
          const t = Math.round(i * step);
          const isWrite = reads === 0 || rng.float() < writeShare;
          ts[k] = t;
          ops[k] = isWrite ? OP_WRITE : OP_READ;
          pfns[k] = pick(rng, t, isWrite ? writes++ : writes);
        }
        buf.length = CHUNK;
        return buf;
      },
    };
  }
}

class Mix implements Workload {
  readonly kind = "generator" as const;
  readonly minPages = 1;
  readonly endNs = Infinity;
  constructor(readonly name: string, readonly parts: Workload[]) {}

  zeroMap(pages: number, seed: number): Uint8Array | null {
    // The union of the parts' zero shares would double-count; the first part decides.
    return this.parts[0].zeroMap(pages, seed);
  }

  open(pages: number, seed: number): AccessStream {
    const streams = this.parts.map((w, k) => w.open(pages, mixSeed(seed, `mix${k}`)));
    return mergeStreams(streams);
  }
}

/**
 * Merges time-ordered streams into one (ties go to the earlier stream).
 *
 * @param streams the streams to merge
 * @returns one stream in time order
 *
 * @example Usage
 * ```ts
 * import { mergeStreams, parseGenerator as parseWorkload } from "./workload.ts";
 * import assert from "node:assert/strict";
 * const a = parseWorkload("uniform:rate=1k").open(16, 1);
 * const b = parseWorkload("sequential:rate=1k").open(16, 1);
 * const c = mergeStreams([a, b]).next()!;
 * assert.ok(c.t[1] >= c.t[0]);
 * ```
 */
export function mergeStreams(streams: AccessStream[]): AccessStream {
  const n = streams.length;
  const cur: (AccessChunk | null)[] = streams.map((s) => s.next());
  const pos = new Uint32Array(n);
  const buf = new Buffers();
  return {
    close(): void {
      for (const s of streams) s.close?.();
    },
    next(): AccessChunk | null {
      let k = 0;
      while (k < CHUNK) {
        let best = -1, bestT = Infinity;
        for (let s = 0; s < n; s++) {
          let c = cur[s];
          if (c !== null && pos[s] >= c.length) {
            c = cur[s] = streams[s].next();
            pos[s] = 0;
          }
          if (c !== null && c.t[pos[s]] < bestT) {
            bestT = c.t[pos[s]];
            best = s;
          }
        }
        if (best < 0) break;
        const c = cur[best]!;
        const j = pos[best]++;
        buf.t[k] = c.t[j];
        buf.pfn[k] = c.pfn[j];
        buf.op[k] = c.op[j];
        k++;
      }
      buf.length = k;
      return k === 0 ? null : buf;
    },
  };
}

/**
 * Parses a generator spec (`uniform:rate=200k`, `hotcold:hot=5%,hotShare=90%`,
 * `mix:uniform(rate=2k)+hotcold(rate=20k)`). Trace files and fits are parsed by
 * `spec.ts`, the one module that knows every kind of workload.
 *
 * @param spec the spec
 * @param pageSize bytes per frame, for `footprint` sizes (default 4096)
 * @returns the workload
 * @throws {PrecopyError} naming the spec and what is wrong with it
 *
 * @example Usage
 * ```ts
 * import { parseGenerator } from "./workload.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseGenerator("idle").open(16, 1).next(), null);
 * ```
 */
export function parseGenerator(spec: string, pageSize = 4096): Workload {
  const s = spec.trim();
  const colon = s.indexOf(":");
  const name = colon < 0 ? s : s.slice(0, colon);
  const body = colon < 0 ? "" : s.slice(colon + 1);
  if (name === "mix") {
    const parts = splitTop(body, "+").map((part) => {
      const m = /^\s*([a-z]+)\s*(?:\((.*)\))?\s*$/.exec(part);
      if (!m || m[1] === "mix") {
        wErr(s, `mix parts are name(k=v,…) joined by '+', e.g. mix:uniform(rate=2k)+hotcold`);
      }
      return parseGenerator(m[2] ? `${m[1]}:${m[2]}` : m[1], pageSize);
    });
    if (parts.length < 1 || body.trim() === "") wErr(s, "mix needs at least one part");
    return new Mix(s, parts);
  }
  const def = Object.hasOwn(GENERATORS, name) ? GENERATORS[name] : undefined;
  if (!def) {
    wErr(
      s,
      `unknown generator '${name}'; known: ${GENERATOR_NAMES.join(", ")}, ` +
        "or a trace file (.pctrace, .csv, .jsonl)",
    );
  }
  const params = parseParams(s, name, body, { ...COMMON, ...def.defaults });
  return new GeneratorWorkload(s, name, params, pageSize);
}

/**
 * One-line descriptions of the generators, for `--help`.
 *
 * @returns `[name, description, defaults]` rows
 *
 * @example Usage
 * ```ts
 * import { describeGenerators } from "./workload.ts";
 * import assert from "node:assert/strict";
 * assert.ok(describeGenerators().some(([n]) => n === "uniform"));
 * ```
 */
export function describeGenerators(): [string, string, string][] {
  return Object.entries(GENERATORS).map(([n, d]) => [
    n,
    d.description,
    Object.entries(d.defaults).filter(([k]) => n !== "idle" || k !== "rate").map(([k, v]) =>
      `${k}=${v}`
    ).join(","),
  ]);
}

/** One scripted access: `[tNs, pfn, "r" | "w"]`. */
export type ScriptedAccess = readonly [number, number, "r" | "w"];

/**
 * A workload from a literal list of accesses — for hand-computed tests and small
 * experiments.
 *
 * @param accesses accesses in time order
 * @param options `name`, `frames` (smallest guest, default max frame + 1), `zero` (frames
 * that hold only zeros at the start)
 * @returns the workload
 * @throws {PrecopyError} if the accesses are out of order or malformed
 *
 * @example Usage
 * ```ts
 * import { scriptedWorkload } from "./workload.ts";
 * import assert from "node:assert/strict";
 * const w = scriptedWorkload([[500, 0, "w"], [2500, 3, "w"]], { zero: [2] });
 * assert.equal(w.minPages, 4);
 * assert.deepEqual([...w.open(4, 1).next()!.pfn.subarray(0, 2)], [0, 3]);
 * assert.equal(w.zeroMap(4, 1)![2], 1);
 * ```
 */
export function scriptedWorkload(
  accesses: readonly ScriptedAccess[],
  options: { name?: string; frames?: number; zero?: readonly number[] } = {},
): Workload {
  const name = options.name ?? "scripted";
  let last = -Infinity, max = -1;
  accesses.forEach(([t, p, o], i) => {
    if (!Number.isSafeInteger(t) || t < last) wErr(name, `access ${i}: time ${t} is out of order`);
    if (!Number.isInteger(p) || p < 0) wErr(name, `access ${i}: frame ${p} is not a frame number`);
    if (o !== "r" && o !== "w") wErr(name, `access ${i}: op ${o} is not r or w`);
    last = t;
    max = Math.max(max, p);
  });
  const zero = options.zero ?? [];
  const minPages = Math.max(options.frames ?? 0, max + 1, ...zero.map((z) => z + 1), 1);
  return {
    name,
    kind: "trace",
    minPages,
    endNs: accesses.length ? accesses[accesses.length - 1][0] : 0,
    zeroMap(pages: number): Uint8Array | null {
      if (zero.length === 0) return null;
      const m = new Uint8Array(pages);
      for (const z of zero) m[z] = 1;
      return m;
    },
    open(): AccessStream {
      let done = false;
      return {
        next(): AccessChunk | null {
          if (done || accesses.length === 0) return null;
          done = true;
          return {
            t: Float64Array.from(accesses, (a) => a[0]),
            pfn: Uint32Array.from(accesses, (a) => a[1]),
            op: Uint8Array.from(accesses, (a) => (a[2] === "w" ? OP_WRITE : OP_READ)),
            length: accesses.length,
          };
        },
      };
    },
  };
}
