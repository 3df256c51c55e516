/**
 * The tracker conformance suite: what the engine relies on from every dirty tracker,
 * checked against a reference model over random scripted accesses (fast-check) on small
 * guests, with no line of test written for the tracker. `conformance_test.ts` runs it for
 * every tracker in the registry.
 *
 * The reference model: a frame enters the log at its first write after its last clear
 * (`clear(p)` or `clearAll()`), and a sync reports the frames that entered since the
 * previous sync and are still logged. A tracker must report exactly that when its log is
 * exact (4 KiB granule, clears flushed). Where one dirty bit covers a 2 MiB leaf (its
 * entry's `granule`), it may also report frames of a leaf written since the previous sync
 * and since the frame's own clear. Without flushes (`flush: false`) it may miss frames,
 * but no more than the writes it counted as missed. Profiling intervals are held to the
 * same rules, and a tracker that declares `perFrame` is driven in two interleavings of
 * the same per-frame histories, which must leave it in the same state.
 *
 * A tracker skips a check by naming it in its entry's `skips`, with the reason.
 *
 * @module
 */

import fc from "fast-check";
import { PrecopyError } from "../errors.ts";
import { GuestMemory } from "../memory.ts";
import {
  DEFAULT_TRACKER_COSTS,
  type DirtyTracker,
  type ProfileResult,
  type SyncResult,
  type TrackerCosts,
  type TrackerEntry,
  type TrackerOptions,
  type TrackerStats,
} from "./base.ts";
import { createTracker, TRACKERS } from "./tracker.ts";

/** One check of the suite, for one tracker on one setup. */
export interface TrackerCheck {
  /** The check's id, as a tracker's `skips` names it. */
  readonly id: string;
  /** What is checked, and on which setup. */
  readonly name: string;
  /** Why the check does not apply, when it does not; `run` then does nothing. */
  readonly skip?: string;
  /** Throws an `Error` naming the tracker, the setup and the violation when it fails. */
  run(): void;
}

/** A small guest and tracker configuration the checks run on. */
export interface TrackerSetup {
  /** Shown in check names. */
  readonly name: string;
  /** Guest frames. */
  readonly pages: number;
  /** Tracker costs (distinct, non-zero values, so that cost identities can fail). */
  readonly costs: TrackerCosts;
  /** Leaf size, flushing and vCPUs. */
  readonly options: Required<TrackerOptions>;
}

const COSTS: TrackerCosts = {
  ...DEFAULT_TRACKER_COSTS,
  wpFaultNs: 1300, // unlike exitNs, so that charging a fault as an exit shows
  walkNs: 70,
  ringEntries: 256, // KVM's smallest ring: it fills within a script
};

/**
 * The setups every tracker is tried on; a setup its entry rejects is skipped with the
 * entry's own message. 2 100 frames are enough for more than 1 024 frames to be logged
 * between two syncs (the sync's bulk harvest), a PML buffer (512) or a small dirty ring
 * (192) to fill; 1 300 frames leave the last 2 MiB leaf partial.
 *
 * @example Usage
 * ```ts
 * import { TRACKER_SETUPS } from "./conformance.ts";
 * import assert from "node:assert/strict";
 * assert.ok(TRACKER_SETUPS.some((s) => !s.options.flush));
 * ```
 */
export const TRACKER_SETUPS: readonly TrackerSetup[] = Object.freeze([
  { name: "4 KiB, 1 vCPU, 96 frames", pages: 96, costs: COSTS, options: exact(1) },
  { name: "4 KiB, 3 vCPUs, 2100 frames", pages: 2100, costs: COSTS, options: exact(3) },
  {
    name: "2 MiB leaves, 2 vCPUs, 1300 frames",
    pages: 1300,
    costs: COSTS,
    options: { leafFrames: 512, flush: true, vcpus: 2 },
  },
  {
    name: "no flush, 2 vCPUs, 96 frames",
    pages: 96,
    costs: COSTS,
    options: { leafFrames: 1, flush: false, vcpus: 2 },
  },
]);

function exact(vcpus: number): Required<TrackerOptions> {
  return { leafFrames: 1, flush: true, vcpus };
}

/** Options of fast-check's runner that a caller may set. */
export interface TrackerCheckOptions {
  /** Random scripts per check and setup (default 100). */
  numRuns?: number;
  /** Stop at the first failure without shrinking it (faster when failure is expected). */
  endOnFailure?: boolean;
}

// ---------------------------------------------------------------------------------------
// Scripts

/** One step of a script: what the engine may do to a tracker. */
type Op =
  | { k: "access"; p: number; w: boolean; v: number }
  | { k: "clear"; p: number }
  | { k: "flush" }
  | { k: "sync"; empty?: boolean }
  | { k: "clearAll" }
  | { k: "profile" };

/** A burst: `n` accesses from frame `p` on, `stride` apart, the vCPUs in turn. */
type Burst = { k: "burst"; p: number; n: number; stride: number; w: boolean };

function scriptArb(s: TrackerSetup): fc.Arbitrary<Op[]> {
  const last = s.pages - 1;
  // Mostly a few hot frames, so that writes, clears and syncs meet on the same frames.
  const frame = fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 0, max: Math.min(last, 11) }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: last }) },
  );
  const vcpu = fc.integer({ min: 0, max: s.options.vcpus - 1 });
  const op: fc.Arbitrary<Op | Burst> = fc.oneof(
    {
      weight: 12,
      arbitrary: fc.record({ k: fc.constant("access"), p: frame, w: fc.boolean(), v: vcpu }),
    },
    { weight: 4, arbitrary: fc.record({ k: fc.constant("clear"), p: frame }) },
    { weight: 1, arbitrary: fc.constant({ k: "flush" }) },
    { weight: 3, arbitrary: fc.constant({ k: "sync" }) },
    { weight: 1, arbitrary: fc.constant({ k: "clearAll" }) },
    { weight: 2, arbitrary: fc.constant({ k: "profile" }) },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant("burst"),
        p: fc.integer({ min: 0, max: last }),
        n: fc.integer({ min: 1, max: s.pages }),
        stride: fc.integer({ min: 1, max: 3 }),
        w: fc.boolean(),
      }),
    },
  ) as fc.Arbitrary<Op | Burst>;
  return fc.array(op, { maxLength: 80 }).map((ops) => expand(ops, s));
}

function expand(ops: (Op | Burst)[], s: TrackerSetup): Op[] {
  const out: Op[] = [];
  for (const o of ops) {
    if (o.k !== "burst") {
      out.push(o);
      continue;
    }
    for (let i = 0; i < o.n; i++) {
      out.push({ k: "access", p: (o.p + i * o.stride) % s.pages, w: o.w, v: i % s.options.vcpus });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The reference model, and a driver that checks a tracker against it at every step

/** What the engine relies on, per frame, from the script so far. */
class Reference {
  #t = 0;
  /** Per frame: when it entered the log (its first write since its last clear), or −1. */
  readonly entry: Int32Array;
  readonly #cleared: Int32Array;
  #clearedAll = -1;
  readonly #leafWritten: Int32Array;
  prevSync = -1;
  /** Per frame: first access and first write in the profiling interval, or −1. */
  readonly firstAccess: Int32Array;
  readonly firstWrite: Int32Array;
  readonly #leafAccessedIv: Uint8Array;
  readonly #leafWrittenIv: Uint8Array;
  readonly g: number;

  constructor(readonly pages: number, granule: number) {
    this.g = granule;
    const leaves = Math.ceil(pages / granule);
    this.entry = new Int32Array(pages).fill(-1);
    this.#cleared = new Int32Array(pages).fill(-1);
    this.#leafWritten = new Int32Array(leaves).fill(-1);
    this.firstAccess = new Int32Array(pages).fill(-1);
    this.firstWrite = new Int32Array(pages).fill(-1);
    this.#leafAccessedIv = new Uint8Array(leaves);
    this.#leafWrittenIv = new Uint8Array(leaves);
  }

  access(p: number, w: boolean): void {
    const t = ++this.#t, leaf = Math.floor(p / this.g);
    if (this.firstAccess[p] < 0) this.firstAccess[p] = t;
    this.#leafAccessedIv[leaf] = 1;
    if (!w) return;
    if (this.firstWrite[p] < 0) this.firstWrite[p] = t;
    if (this.entry[p] < 0) this.entry[p] = t;
    this.#leafWritten[leaf] = t;
    this.#leafWrittenIv[leaf] = 1;
  }
  clear(p: number): void {
    this.#cleared[p] = ++this.#t;
    this.entry[p] = -1;
  }
  clearAll(): void {
    this.#clearedAll = ++this.#t;
    this.entry.fill(-1);
  }
  /** Must the sync report the frame: it entered the log since the previous sync. */
  must(p: number): boolean {
    return this.entry[p] > this.prevSync;
  }
  /** May it: a write to its leaf since the previous sync and since its own clear. */
  may(p: number): boolean {
    const since = Math.max(this.prevSync, this.#cleared[p], this.#clearedAll);
    return this.#leafWritten[Math.floor(p / this.g)] > since;
  }
  synced(): void {
    this.prevSync = ++this.#t;
  }
  /** Within the profiling interval, a write (or any access) to the frame's leaf. */
  leafWrittenIv(p: number): boolean {
    return this.#leafWrittenIv[Math.floor(p / this.g)] !== 0;
  }
  leafAccessedIv(p: number): boolean {
    return this.#leafAccessedIv[Math.floor(p / this.g)] !== 0;
  }
  profiled(): void {
    this.firstAccess.fill(-1);
    this.firstWrite.fill(-1);
    this.#leafAccessedIv.fill(0);
    this.#leafWrittenIv.fill(0);
  }
}

/** Runs scripts on one tracker and setup, checking each step against the reference. */
class Driver {
  readonly t: DirtyTracker;
  readonly ref: Reference;
  /** What the tracker reported and has not been told to clear since. */
  readonly #log = new Set<number>();
  readonly #exact: boolean;
  #stats: TrackerStats;
  #missedAtSync = 0;
  #missedAtProfile = 0;
  /** Leaves touched since the last flush, and the walks expected so far (`stats` only). */
  readonly #touched = new Set<number>();
  #walks = 0;
  step = 0;

  /**
   * @param aspects what to check at each step (`sync`, `profile`, `stats`); the model is
   *   kept up to date whatever is checked
   */
  constructor(
    readonly kind: string,
    readonly entry: TrackerEntry,
    readonly setup: TrackerSetup,
    readonly registry: Readonly<Record<string, TrackerEntry>>,
    readonly aspects: ReadonlySet<string> = new Set(),
  ) {
    const m = new GuestMemory(setup.pages, null);
    this.t = createTracker(kind, m, setup.costs, setup.options, registry);
    const g = entry.granule(setup.options);
    this.ref = new Reference(setup.pages, g);
    this.#exact = g === 1 && setup.options.flush;
    this.#stats = this.t.stats;
    if (aspects.has("stats")) this.checkStats();
  }

  fail(msg: string): never {
    throw new Error(`tracker '${this.kind}' [${this.setup.name}], step ${this.step}: ${msg}`);
  }

  run(script: readonly Op[]): void {
    for (const op of script) this.apply(op);
    this.apply({ k: "profile" });
    this.apply({ k: "sync" });
  }

  apply(op: Op): SyncResult | ProfileResult | undefined {
    this.step++;
    const t = this.t;
    let out: SyncResult | ProfileResult | undefined;
    switch (op.k) {
      case "access":
        t.onAccess(op.p, op.w, op.v);
        this.ref.access(op.p, op.w);
        if (this.aspects.has("stats") && this.setup.options.flush) {
          const leaf = this.setup.options.leafFrames;
          this.#touched.add(op.p - op.p % leaf);
        }
        break;
      case "clear":
        t.clear(op.p);
        this.ref.clear(op.p);
        this.#log.delete(op.p);
        break;
      case "flush":
        t.flush();
        break;
      case "clearAll":
        t.clearAll();
        this.ref.clearAll();
        this.#log.clear();
        break;
      case "sync":
        out = t.sync();
        if (op.empty && (out.newly.length !== 0 || out.logged !== 0)) {
          this.fail(
            `a sync after every frame was cleared, with no write since, reports ` +
              `${out.newly.length} frames and ${out.logged} logged`,
          );
        }
        this.checkSync(out);
        break;
      case "profile":
        out = t.profile();
        this.checkProfile(out);
        break;
    }
    if (this.aspects.has("stats")) this.checkStats();
    return out;
  }

  #frames(what: string, a: Uint32Array): Set<number> {
    const s = new Set<number>();
    for (const p of a) {
      if (!Number.isInteger(p) || p < 0 || p >= this.setup.pages) this.fail(`${what}: ${p}?`);
      if (s.has(p)) this.fail(`${what} lists frame ${p} twice`);
      s.add(p);
    }
    return s;
  }

  checkSync(r: SyncResult): void {
    const ref = this.ref, flush = this.setup.options.flush;
    if (!this.aspects.has("sync")) {
      for (const p of r.newly) this.#log.add(p);
      return ref.synced();
    }
    if (!(r.costNs >= 0) || !Number.isFinite(r.costNs)) this.fail(`sync cost ${r.costNs}`);
    const got = this.#frames("sync", r.newly);
    for (const p of got) {
      if (!ref.may(p)) {
        this.fail(
          `sync reported frame ${p}, which no write since the previous sync (and its clear) ` +
            (ref.g > 1 ? `to its ${ref.g}-frame leaf ` : "") + "could have dirtied",
        );
      }
      if (this.#exact && !ref.must(p)) {
        this.fail(`sync reported frame ${p} again: it was logged before the previous sync`);
      }
    }
    const missing: number[] = [];
    for (let p = 0; p < ref.pages; p++) {
      // (a frame a coarse leaf logged before, and still logged, is not news)
      if (ref.must(p) && !got.has(p) && !this.#log.has(p)) missing.push(p);
    }
    const missed = this.t.stats.missedUpdates - this.#missedAtSync;
    if (missing.length > (flush ? 0 : missed)) {
      this.fail(
        `sync missed writes to frames ${missing.slice(0, 8).join(", ")}` +
          (missing.length > 8 ? ` (${missing.length} in all)` : "") +
          (flush ? "" : `; only ${missed} missed updates were counted`),
      );
    }
    for (const p of got) this.#log.add(p);
    if (r.logged !== this.#log.size) {
      this.fail(
        `sync says ${r.logged} frames are logged; ${this.#log.size} were reported and not cleared since`,
      );
    }
    this.#missedAtSync = this.t.stats.missedUpdates;
    ref.synced();
  }

  checkProfile(r: ProfileResult): void {
    const ref = this.ref, flush = this.setup.options.flush, reads = this.entry.seesReads;
    if (!this.aspects.has("profile")) return ref.profiled();
    const written = this.#frames("profile().written", r.written);
    const accessed = this.#frames("profile().accessed", r.accessed);
    // written: the accessed list's written frames, in the same order
    let i = 0;
    for (const p of r.accessed) if (i < r.written.length && r.written[i] === p) i++;
    if (i !== r.written.length) {
      this.fail("profile().written is not the accessed list's written frames in its order");
    }
    for (const p of written) {
      if (!ref.leafWrittenIv(p)) this.fail(`profile() lists frame ${p} written; it was not`);
    }
    for (const p of accessed) {
      if (!(reads ? ref.leafAccessedIv(p) : ref.leafWrittenIv(p))) {
        this.fail(
          `profile() lists frame ${p} accessed; ${reads ? "it was not" : "it was only read"}`,
        );
      }
    }
    let unlisted = 0, first = -1;
    for (let p = 0; p < ref.pages; p++) {
      if (ref.firstWrite[p] >= 0 && !written.has(p)) unlisted++, first = first < 0 ? p : first;
      if (flush && reads && ref.firstAccess[p] >= 0 && !accessed.has(p)) {
        this.fail(`profile() does not list frame ${p}, read in the interval, as accessed`);
      }
    }
    const missed = this.t.stats.missedUpdates - this.#missedAtProfile;
    if (unlisted > (flush ? 0 : missed)) {
      this.fail(`profile() does not list frame ${first}, written in the interval, as written`);
    }
    if (this.#exact) { // in the order first seen: first access, or first write if reads are unseen
      const at = reads ? ref.firstAccess : ref.firstWrite;
      for (let k = 1; k < r.accessed.length; k++) {
        if (at[r.accessed[k - 1]] > at[r.accessed[k]]) {
          this.fail(`profile() lists frame ${r.accessed[k - 1]} before ${r.accessed[k]}`);
        }
      }
    }
    this.#missedAtProfile = this.t.stats.missedUpdates;
    ref.profiled();
  }

  checkStats(): void {
    const s = this.t.stats, prev = this.#stats, c = this.setup.costs;
    if (s.kind !== this.kind || this.t.kind !== this.kind) {
      this.fail(`kind is '${this.t.kind}' (stats: '${s.kind}'), not its registry name`);
    }
    const fields = [
      "exits",
      "guestOverheadNs",
      "hostCpuNs",
      "flushes",
      "walks",
      "scanEntries",
      "missedUpdates",
    ] as const;
    // A flush drops every translation; the first access to a leaf after it is one walk,
    // charged at the next flush (walks before the first flush are not tracking's).
    if (s.flushes > prev.flushes) {
      if (prev.flushes > 0) this.#walks += this.#touched.size;
      this.#touched.clear();
    }
    if (s.walks !== this.#walks) {
      this.fail(
        `${s.walks} walks charged, but ${this.#walks} leaves were first touched after a flush ` +
          `and before the next`,
      );
    }
    for (const f of fields) {
      if (!(s[f] >= 0) || !Number.isFinite(s[f])) this.fail(`stats.${f} is ${s[f]}`);
      if (s[f] < prev[f]) this.fail(`stats.${f} went down from ${prev[f]} to ${s[f]}`);
    }
    let sum = 0;
    for (const [cause, n] of Object.entries(s.exitsByCause)) {
      if (!(n >= 0) || n < (prev.exitsByCause[cause] ?? 0)) this.fail(`exits by ${cause}: ${n}`);
      sum += n;
    }
    for (const cause of Object.keys(prev.exitsByCause)) {
      if (!(cause in s.exitsByCause)) this.fail(`exits by ${cause} vanished from the stats`);
    }
    if (sum !== s.exits) this.fail(`exits ${s.exits}, but ${sum} by cause`);
    if (s.guestOverheadNs !== this.t.stallNs) {
      this.fail(`guestOverheadNs ${s.guestOverheadNs} is not stallNs ${this.t.stallNs}`);
    }
    const faults = s.exitsByCause.wpFault ?? 0, vcpus = this.setup.options.vcpus;
    const stall = faults * c.wpFaultNs + (s.exits - faults) * c.exitNs +
      s.flushes * c.flushGuestNs * vcpus + s.walks * c.walkNs;
    if (Math.abs(stall - s.guestOverheadNs) > 1e-9 * Math.max(1, stall)) {
      this.fail(
        `guest overhead ${s.guestOverheadNs} ns is not faults × wpFaultNs + other exits × exitNs + flushes × flushGuestNs × vcpus + walks × walkNs = ${stall}`,
      );
    }
    if (this.setup.options.flush && s.missedUpdates !== 0) {
      this.fail(`${s.missedUpdates} missed updates, although every clear is flushed`);
    }
    this.#stats = s;
  }
}

// ---------------------------------------------------------------------------------------
// The checks

/**
 * A fixed script: every frame written, then cleared every way the engine clears (all at
 * once; frame by frame, last first; every other frame, so that on coarse leaves the
 * cleared frames are not the ones the leaf's bit sits on) and written again.
 */
function rearmScript(s: TrackerSetup): Op[] {
  const n = s.pages, v = s.options.vcpus, out: Op[] = [];
  const writeAll = (from = 0, step = 1) => {
    for (let p = from; p < n; p += step) out.push({ k: "access", p, w: true, v: p % v });
  };
  for (let round = 0; round < 2; round++) {
    writeAll();
    out.push({ k: "sync" }, { k: "clearAll" }, { k: "flush" }, { k: "sync", empty: true });
    writeAll();
    out.push({ k: "sync" });
    for (let p = n - 1; p >= 0; p--) out.push({ k: "clear", p });
    out.push({ k: "flush" }, { k: "sync", empty: true });
    writeAll();
    out.push({ k: "sync" });
    for (let p = 1; p < n; p += 2) out.push({ k: "clear", p });
    out.push({ k: "flush" }, { k: "sync" });
    writeAll(1, 2);
    out.push({ k: "profile" }, { k: "sync" }, { k: "clearAll" }, { k: "flush" });
  }
  return out;
}

/**
 * Reorders the accesses and clears between two other steps at random, keeping each
 * frame's own steps in their order: an interleaving a `perFrame` tracker cannot tell apart.
 */
function interleave(script: readonly Op[], keys: readonly number[]): Op[] {
  const out = script.slice();
  let i = 0;
  while (i < out.length) {
    let j = i;
    while (j < out.length && (out[j].k === "access" || out[j].k === "clear")) j++;
    if (j - i > 1) {
      const run = out.slice(i, j) as ({ p: number } & Op)[];
      const order = run.map((_, k) => k).sort((a, b) =>
        keys[(i + a) % keys.length] - keys[(i + b) % keys.length] || a - b
      );
      // the frames' slots in the new order, refilled with each frame's steps in the old one
      const byFrame = new Map<number, Op[]>();
      for (const op of run) {
        const l = byFrame.get(op.p);
        if (l) l.push(op);
        else byFrame.set(op.p, [op]);
      }
      order.forEach((k, slot) => out[i + slot] = byFrame.get(run[k].p)!.shift()!);
    }
    i = j + 1;
  }
  return out;
}

function sameResult(a: DirtyTracker, b: DirtyTracker, ra: unknown, rb: unknown): string | null {
  const sorted = (x: Uint32Array) => [...x].sort((p, q) => p - q).join(",");
  if (ra && rb && "newly" in (ra as SyncResult)) {
    const x = ra as SyncResult, y = rb as SyncResult;
    if (sorted(x.newly) !== sorted(y.newly)) return "syncs report different frames";
    if (x.logged !== y.logged || x.costNs !== y.costNs) return "syncs differ in logged or cost";
  }
  if (ra && rb && "written" in (ra as ProfileResult)) {
    const x = ra as ProfileResult, y = rb as ProfileResult;
    if (sorted(x.written) !== sorted(y.written)) return "profiles list different written frames";
    if (sorted(x.accessed) !== sorted(y.accessed)) return "profiles list different accessed frames";
  }
  if (JSON.stringify(a.stats) !== JSON.stringify(b.stats)) return "the stats differ";
  if (a.stallNs !== b.stallNs) return "the stalls differ";
  return null;
}

const CHECKS: { id: string; name: string }[] = [
  { id: "sync", name: "syncs report the frames logged since the previous sync" },
  { id: "rearm", name: "clears re-arm: a write after a clear is caught again" },
  { id: "profile", name: "profiling intervals list the frames written and accessed" },
  { id: "perFrame", name: "perFrame: accesses and clears of different frames commute" },
  { id: "stats", name: "statistics are non-negative, monotone and add up" },
];

/**
 * The conformance checks for one registered tracker: each check on each setup of
 * {@link TRACKER_SETUPS}, a setup the tracker rejects (with a `PrecopyError` of kind
 * `config`, which is checked) and a check its entry skips marked with the reason.
 *
 * @param kind the tracker's name in `registry`
 * @param registry where it is registered (default: `TRACKERS`)
 * @param options fast-check's runs
 * @returns the checks, each throwing on a violation
 *
 * @example Usage
 * ```ts
 * import { trackerConformanceChecks } from "./conformance.ts";
 * for (const check of trackerConformanceChecks("wp", undefined, { numRuns: 5 })) {
 *   if (!check.skip) check.run();
 * }
 * ```
 */
export function trackerConformanceChecks(
  kind: string,
  registry: Readonly<Record<string, TrackerEntry>> = TRACKERS,
  options: TrackerCheckOptions = {},
): TrackerCheck[] {
  const entry = registry[kind];
  if (entry === undefined) throw new Error(`tracker '${kind}' is not in the registry`);
  const params = { numRuns: options.numRuns ?? 100, endOnFailure: options.endOnFailure };
  const out: TrackerCheck[] = [{
    id: "entry",
    name: "the entry is complete and rejects what it does not model with a config error",
    skip: entry.skips?.["entry"],
    run() {
      if (!entry.description) throw new Error(`tracker '${kind}': no description`);
      for (const s of TRACKER_SETUPS) {
        try {
          createTracker(kind, new GuestMemory(s.pages, null), s.costs, s.options, registry);
        } catch (e) {
          if (!(e instanceof PrecopyError && e.kind === "config")) {
            throw new Error(
              `tracker '${kind}' [${s.name}]: rejected with ${e}, not a config error`,
            );
          }
        }
        const g = entry.granule(s.options);
        if (!(Number.isInteger(g) && g >= 1)) throw new Error(`tracker '${kind}': granule ${g}`);
      }
    },
  }];
  for (const s of TRACKER_SETUPS) {
    let rejected: string | undefined, perFrame = false;
    try {
      perFrame = new Driver(kind, entry, s, registry).t.perFrame === true;
    } catch (e) {
      // a config error: the setup is not modelled; anything else fails the entry check
      if (e instanceof PrecopyError) rejected = `setup rejected: ${e.message}`;
    }
    for (const c of CHECKS) {
      const skip = rejected ?? entry.skips?.[c.id] ??
        (c.id === "perFrame" && !perFrame ? "not declared perFrame here" : undefined);
      out.push({
        id: c.id,
        name: `${c.name} [${s.name}]`,
        skip,
        run: skip !== undefined ? () => {} : () => runCheck(c.id, kind, entry, s, registry, params),
      });
    }
  }
  return out;
}

function runCheck(
  id: string,
  kind: string,
  entry: TrackerEntry,
  s: TrackerSetup,
  registry: Readonly<Record<string, TrackerEntry>>,
  params: { numRuns: number; endOnFailure?: boolean },
): void {
  const driver = (...aspects: string[]) => new Driver(kind, entry, s, registry, new Set(aspects));
  switch (id) {
    case "sync":
    case "profile":
    case "stats":
      fc.assert(fc.property(scriptArb(s), (script) => driver(id).run(script)), params);
      return;
    case "rearm":
      driver("sync").run(rearmScript(s));
      return;
    case "perFrame":
      fc.assert(
        fc.property(
          scriptArb(s),
          fc.array(fc.integer(), { minLength: 1, maxLength: 64 }),
          (script, keys) => {
            const a = driver(), b = driver(), other = interleave(script, keys);
            script = script.concat([{ k: "sync" }, { k: "profile" }]);
            other.push({ k: "sync" }, { k: "profile" });
            for (let i = 0; i < script.length; i++) {
              const stall = a.t.stallNs, op = script[i];
              const ra = a.apply(op), rb = b.apply(other[i]);
              if ((op.k === "access" || op.k === "clear") && a.t.stallNs !== stall) {
                a.fail(`perFrame, but ${op.k}(${op.p}) stalled the guest`);
              }
              if (op.k === "access" || op.k === "clear") continue;
              const diff = sameResult(a.t, b.t, ra, rb);
              if (diff) a.fail(`perFrame, but after two interleavings ${diff}`);
            }
          },
        ),
        params,
      );
      return;
  }
}
