/**
 * The workload conformance suite: the promises the engine and the oracle policies rely on,
 * checked for every workload kind with no test written for the kind.
 * `conformance_test.ts` runs it for every generator in the registry (alone, with the
 * common parameters, and mixed), every trace kind (a small fixture written in each form,
 * and placed at an offset), the recorded fixture traces, and fits of them.
 *
 * The promises:
 * - re-opening (the same workload object, or the spec parsed again) with the same guest
 *   size and seed yields the same accesses, even when two streams are read in turns:
 *   oracles read the future from a second opening;
 * - time never runs back, within a chunk or across chunks; times are whole nanoseconds;
 * - frames stay below the guest size given to `open()`; ops are read or write;
 * - a chunk's `length` is at least 1 and fits its arrays;
 * - `close()` is safe at any point (before reading, halfway, at the end, twice), and a
 *   stream read to its end or closed holds no file open;
 * - a trace's declared `events` and `endNs` are what a replay finds, its frames are below
 *   `minPages`, and a larger guest replays the same accesses;
 * - a looped trace (`passNs` set, `endNs` infinite) repeats: access `i + events` is access
 *   `i` a period later.
 *
 * @module
 */

import { type AccessChunk, type AccessStream, GENERATORS, type Workload } from "./workload.ts";
import { parseWorkload } from "./spec.ts";
import { TRACE_KINDS, TRACE_OPTIONS, type TraceWorkload, TraceWriter } from "../trace/trace.ts";

/** One check of the suite. */
export interface WorkloadCheck {
  /** What is checked. */
  name: string;
  /** Throws an `Error` naming the workload and the violation when it fails. */
  run(): void;
}

/** A workload the suite holds to its promises. */
export interface WorkloadCase {
  /** The spec, as `--workload` takes it. */
  spec: string;
  /** Guest frames to open it with (default: the workload's `minPages`). */
  pages?: number;
  /** Accesses to read at most (generators never end). */
  limit: number;
}

/** The events a stream yielded, copied out of its reused chunks. */
interface Drained {
  t: number[];
  pfn: number[];
  op: number[];
  vcpu: number[] | null;
}

function fail(c: WorkloadCase, msg: string): never {
  throw new Error(`workload '${c.spec}': ${msg}`);
}

/** Checks one chunk's shape and appends its events; returns the last time. */
function take(c: WorkloadCase, pages: number, chunk: AccessChunk, out: Drained, last: number) {
  const n = chunk.length;
  const room = Math.min(
    chunk.t.length,
    chunk.pfn.length,
    chunk.op.length,
    chunk.vcpu?.length ?? Infinity,
  );
  if (!Number.isInteger(n) || n < 1 || n > room) {
    fail(c, `a chunk's length ${n} is not within 1…${room} (its arrays)`);
  }
  if ((chunk.vcpu !== undefined) !== (out.vcpu !== null) && out.t.length > 0) {
    fail(c, "some chunks carry vCPU ids and some do not");
  }
  if (chunk.vcpu !== undefined && out.vcpu === null) out.vcpu = [];
  for (let i = 0; i < n; i++) {
    const t = chunk.t[i], p = chunk.pfn[i], o = chunk.op[i];
    const at = out.t.length;
    if (!Number.isSafeInteger(t) || t < 0) fail(c, `access ${at}: time ${t} is not whole ns ≥ 0`);
    if (t < last) {
      fail(
        c,
        `access ${at}: time ${t} runs back before ${last}${i === 0 ? " (across chunks)" : ""}`,
      );
    }
    if (p >= pages) fail(c, `access ${at}: frame ${p} is not below the guest's ${pages} frames`);
    if (o !== 0 && o !== 1) fail(c, `access ${at}: op ${o} is neither read (0) nor write (1)`);
    out.t.push(t);
    out.pfn.push(p);
    out.op.push(o);
    out.vcpu?.push(chunk.vcpu![i]);
    last = t;
  }
  return last;
}

/** Reads up to `limit` accesses (whole chunks) from each stream, in turns. */
function drainAll(c: WorkloadCase, pages: number, streams: AccessStream[]): Drained[] {
  const outs = streams.map((): Drained => ({ t: [], pfn: [], op: [], vcpu: null }));
  const last = streams.map(() => 0);
  const live = streams.map(() => true);
  while (live.some((x) => x)) {
    streams.forEach((s, k) => {
      if (!live[k]) return;
      const chunk = s.next();
      if (chunk === null) {
        live[k] = false;
        return;
      }
      last[k] = take(c, pages, chunk, outs[k], last[k]);
      if (outs[k].t.length >= c.limit) {
        s.close?.();
        live[k] = false;
      }
    });
  }
  return outs;
}

function same(c: WorkloadCase, what: string, a: Drained, b: Drained): void {
  const n = Math.min(a.t.length, b.t.length, c.limit);
  if (a.t.length !== b.t.length && Math.min(a.t.length, b.t.length) < c.limit) {
    fail(c, `${what}: ${a.t.length} accesses, then ${b.t.length}`);
  }
  for (let i = 0; i < n; i++) {
    if (
      a.t[i] !== b.t[i] || a.pfn[i] !== b.pfn[i] || a.op[i] !== b.op[i] ||
      (a.vcpu?.[i] ?? 0) !== (b.vcpu?.[i] ?? 0)
    ) {
      fail(
        c,
        `${what}: access ${i} differs: (${a.t[i]} ns, frame ${a.pfn[i]}, op ${a.op[i]}) then (${
          b.t[i]
        } ns, frame ${b.pfn[i]}, op ${b.op[i]})`,
      );
    }
  }
}

/**
 * Runs `fn` and returns how many files it opened (through `Deno.openSync`, which the
 * readers use) and left open. The wrapper is removed before returning.
 */
function filesLeftOpen(fn: () => void): number {
  const open = Deno.openSync;
  const held = new Set<Deno.FsFile>();
  const d = Deno as { openSync: typeof Deno.openSync };
  d.openSync = (path, options) => {
    const f = open(path, options);
    held.add(f);
    const close = f.close.bind(f);
    f.close = () => {
      held.delete(f);
      close();
    };
    return f;
  };
  try {
    fn();
  } finally {
    d.openSync = open;
  }
  return held.size;
}

function sameMaps(c: WorkloadCase, a: Uint8Array | null, b: Uint8Array | null, pages: number) {
  if (a !== null && a.length !== pages) fail(c, `zeroMap() has ${a.length} entries, not ${pages}`);
  if ((a === null) !== (b === null) || (a && b && a.some((x, i) => x !== b[i]))) {
    fail(c, "zeroMap() differs between two calls with the same guest size and seed");
  }
}

/**
 * The checks for one workload. The workload is parsed from its spec when a check first
 * needs it and shared by the checks; any check can run alone.
 *
 * @param c the workload, its guest size and how much of it to read
 * @param seed the run's seed
 * @returns the checks
 *
 * @example Usage
 * ```ts
 * import { workloadChecks } from "./conformance.ts";
 * for (const check of workloadChecks({ spec: "uniform:rate=1k", pages: 64, limit: 5000 })) {
 *   check.run(); // throws on a broken promise
 * }
 * ```
 */
export function workloadChecks(c: WorkloadCase, seed = 7): WorkloadCheck[] {
  // Parsed once for all checks (a fit costs a pass over its trace); "parsed again" below.
  let parsed: Workload | null = null;
  const get = () => (parsed ??= parseWorkload(c.spec));
  let pages = 0;
  const pre = () => (pages = c.pages ?? get().minPages);
  return [
    {
      name: "re-opening yields the same accesses, even read in turns",
      run() {
        const w = get();
        pre();
        const again = parseWorkload(c.spec);
        const [a] = drainAll(c, pages, [w.open(pages, seed)]);
        const [b, d] = drainAll(c, pages, [w.open(pages, seed), w.open(pages, seed)]);
        same(c, "a second opening", a, b);
        same(c, "two openings read in turns", b, d);
        const [e] = drainAll(c, pages, [again.open(pages, seed)]);
        same(c, "the spec parsed again", a, e);
        sameMaps(c, w.zeroMap(pages, seed), again.zeroMap(pages, seed), pages);
      },
    },
    {
      name: "a trace's events, end time and frames are what a replay finds",
      run() {
        const w = get();
        pre();
        if (w.kind !== "trace") {
          if (w.endNs !== Infinity) fail(c, `a generator's endNs is ${w.endNs}, not Infinity`);
          return;
        }
        const [a] = drainAll(c, pages, [w.open(pages, seed)]);
        const { events, passNs } = w as Partial<TraceWorkload>;
        if (passNs !== undefined) {
          if (w.endNs !== Infinity) fail(c, `a looped trace's endNs is ${w.endNs}, not Infinity`);
          if (events === undefined) fail(c, "a looped trace does not say its events per pass");
          if (events > 0 && a.t.length <= events) {
            fail(c, `the limit ${c.limit} does not reach a second pass of ${events} accesses`);
          }
          for (let i = 0; i + events < a.t.length; i++) {
            const j = i + events;
            if (a.t[j] !== a.t[i] + passNs || a.pfn[j] !== a.pfn[i] || a.op[j] !== a.op[i]) {
              fail(
                c,
                `access ${j} (${a.t[j]} ns, frame ${a.pfn[j]}) is not access ${i} (${
                  a.t[i]
                } ns, frame ${a.pfn[i]}) one period (${passNs} ns) later`,
              );
            }
          }
          return;
        }
        if (a.t.length >= c.limit) return;
        if (events !== undefined && events !== a.t.length) {
          fail(c, `declares ${events} events but replays ${a.t.length}`);
        }
        const end = a.t.length ? a.t[a.t.length - 1] : 0;
        if (w.endNs !== end) fail(c, `endNs is ${w.endNs} but the last access is at ${end}`);
        const max = a.pfn.reduce((m, p) => Math.max(m, p), -1);
        if (max >= w.minPages) fail(c, `frame ${max} is not below minPages ${w.minPages}`);
        const [b] = drainAll(c, pages + 1000, [w.open(pages + 1000, seed)]);
        same(c, "a larger guest", a, b);
      },
    },
    {
      name: "close() is safe before reading, halfway, at the end and twice",
      run() {
        const w = get();
        pre();
        const left = filesLeftOpen(() => {
          const s1 = w.open(pages, seed);
          s1.close?.();
          s1.close?.();
          const s2 = w.open(pages, seed);
          const first = s2.next();
          if (first) take(c, pages, first, { t: [], pfn: [], op: [], vcpu: null }, 0);
          s2.close?.();
          s2.close?.();
          if (s2.close) s2.next(); // may return anything but must not throw
          if (w.kind === "trace" && Number.isFinite(w.endNs)) {
            const s3 = w.open(pages, seed);
            let n = 0;
            while (s3.next() !== null) {
              if (++n > 1e7) fail(c, "a trace stream does not end");
            }
            s3.close?.();
            s3.close?.();
            if (s3.next() !== null) fail(c, "next() after the end returned a chunk");
          }
        });
        if (left > 0) fail(c, `${left} file(s) left open after close() or the end`);
      },
    },
  ];
}

/**
 * The workloads the suite covers: every generator in the registry, with its defaults and
 * with the common parameters, a mix of them all; a fixture of every trace kind (written
 * into `dir`), with each trace option of `TRACE_OPTIONS` (and one with all of them); the
 * given recorded traces; and a fit of each trace.
 *
 * @param dir a scratch directory for the fixtures
 * @param recorded recorded trace files to include (e.g. `fixtures/traces/*.pctrace`)
 * @returns the cases
 *
 * @example Usage
 * ```ts
 * import { workloadCases } from "./conformance.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const cases = workloadCases(dir);
 * assert.ok(cases.some((c) => c.spec.startsWith("hotcold")));
 * assert.ok(cases.some((c) => c.spec.endsWith(".jsonl")));
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function workloadCases(dir: string, recorded: readonly string[] = []): WorkloadCase[] {
  const cases: WorkloadCase[] = [];
  const names = Object.keys(GENERATORS);
  for (const name of names) {
    cases.push({ spec: name, pages: 4096, limit: 40_000 });
    cases.push({ spec: `${name}:footprint=50%,zero=10%,reads=4k`, pages: 1000, limit: 40_000 });
  }
  cases.push({ spec: `mix:${names.join("+")}`, pages: 2048, limit: 40_000 });
  // One trace with reads, vCPU ids, zero frames and several blocks, written in every form.
  const frames = 300;
  const base = `${dir}/fixture-source.pctrace`;
  const w = new TraceWriter(base, {
    frames,
    reads: true,
    vcpu: true,
    compress: true,
    zero: Uint8Array.from({ length: frames }, (_, p) => (p % 11 === 3 ? 1 : 0)),
  });
  let t = 5;
  for (let i = 0; i < 70_000; i++) {
    t += (i * 7919) % 13 === 0 ? 0 : (i * 31) % 97;
    w.append(t, (i * 2654435761) % frames, i % 5 === 0 ? 0 : 1, i % 3);
  }
  w.close();
  const traces: string[] = [];
  const source = parseWorkload(base);
  // An endless option is read for two and a half passes.
  const limitOf = (endless: boolean) => endless ? 175_000 : Infinity;
  const options = Object.values(TRACE_OPTIONS);
  for (const [ext, kind] of Object.entries(TRACE_KINDS)) {
    const path = `${dir}/fixture.${ext}`;
    kind.write(source, frames, path);
    traces.push(path);
    for (const o of options) {
      cases.push({ spec: `${path}:${o.example}`, limit: limitOf(o.endless) });
    }
  }
  cases.push({
    spec: `${traces[0]}:${options.map((o) => o.example).join(":")}`,
    limit: limitOf(options.some((o) => o.endless)),
  });
  traces.push(...recorded);
  for (const path of traces) {
    cases.push({ spec: path, limit: Infinity });
    cases.push({ spec: `fit:${path}`, limit: 40_000 });
  }
  return cases;
}
