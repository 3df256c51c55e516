/**
 * What every dirty-tracking mechanism shares: the contract the engine calls
 * ({@link DirtyTracker}), its cost parameters and statistics, the registry entry each
 * mechanism file exports ({@link TrackerEntry}), and {@link BaseTracker}, which keeps the
 * dirty log, the profiling interval's lists and the cost counters so that a mechanism
 * adds only what its hardware reports and what re-arming a frame means.
 *
 * A tracker keeps the dirty log, hands the engine the frames newly logged at each sync,
 * clears the log when told (at the round's sync, per chunk or per page), and feeds the
 * profiling history. vCPU ids come from the workload (traces may record them) modulo
 * the options' `vcpus`, or are spread round-robin over them for generators. Exits and
 * translation refills are guest time lost (`stallNs`): the engine stops the guest's clock
 * for them, so a costly tracker also makes the guest dirty less.
 *
 * Cost defaults are partly measured (a VM exit), partly our assumptions: no published
 * per-entry scan, INVEPT or refill cost was found (`docs/trackers.md` gives the sources).
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { F_IV_A, F_IV_W, F_LOG, F_NEW, F_TLB, FrameList, type GuestMemory } from "../memory.ts";

/**
 * Cost parameters of a tracker: times in nanoseconds, sizes in entries. Each is a config
 * item (`trackerCosts.<name>`) with a `sim` flag; `docs/trackers.md` gives their sources.
 */
export interface TrackerCosts {
  /** Guest time of one VM exit round trip (default 800 ns: ≈2 000 cycles at 2.5 GHz). */
  exitNs: number;
  /** Guest time of one write-protection fault: its exit and its handling (default 800 ns). */
  wpFaultNs: number;
  /**
   * Host time to read and clear one scanned entry: an EPT leaf, a bitmap word, a PML
   * buffer or ring entry (default 2 ns).
   */
  scanEntryNs: number;
  /** Host time of one INVEPT, including the IPIs to vCPUs (default 1 µs). */
  flushHostNs: number;
  /**
   * Guest time each vCPU loses per flush for the invalidation itself (default 2 µs);
   * re-walking the translations it dropped is charged apart, per walk (`walkNs`).
   */
  flushGuestNs: number;
  /**
   * Guest time of one translation re-walk: after a flush, the first access to each frame
   * (each EPT leaf) walks the guest's and the EPT's page tables again (default 100 ns).
   */
  walkNs: number;
  /** `pml`: entries of each vCPU's log buffer (default 512, Intel's). */
  pmlEntries: number;
  /** `dirty-ring`: entries per vCPU ring, a power of two (default 4096, KVM's advice). */
  ringEntries: number;
}

/** The guest's vCPUs and how the EPT is set up, besides costs. */
export interface TrackerOptions {
  /** Frames per EPT leaf: 1 (4 KiB, default) or 512 (2 MiB). */
  leafFrames: number;
  /** Whether clears are followed by INVEPT (default true). */
  flush: boolean;
  /**
   * vCPUs of the guest (default 1): PML buffers and dirty rings are per vCPU, and every
   * vCPU drops its translations at a flush. (Formerly `TrackerCosts.vcpus`, which is
   * deprecated: `createTracker` still reads it there when the options do not say.)
   */
  vcpus?: number;
}

/** Bit positions of F_LOG, F_NEW and F_IV_W, for branchless scans. */
const LOG_BIT = 2, NEW_BIT = 11, IV_W_BIT = 6;
if (F_LOG !== 1 << LOG_BIT || F_NEW !== 1 << NEW_BIT || F_IV_W !== 1 << IV_W_BIT) {
  throw new Error("internal: flag bits");
}

/**
 * Default {@link TrackerOptions}: 4 KiB leaves, every clear flushed.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_TRACKER_OPTIONS } from "./base.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(DEFAULT_TRACKER_OPTIONS, { leafFrames: 1, flush: true, vcpus: 1 });
 * ```
 */
export const DEFAULT_TRACKER_OPTIONS: Readonly<Required<TrackerOptions>> = Object.freeze({
  leafFrames: 1,
  flush: true,
  vcpus: 1,
});

/**
 * Default {@link TrackerCosts}. Most are assumptions, not measurements: see
 * `docs/trackers.md` for where each comes from.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_TRACKER_COSTS } from "./base.ts";
 * import assert from "node:assert/strict";
 * assert.equal(DEFAULT_TRACKER_COSTS.exitNs, 800);
 * ```
 */
export const DEFAULT_TRACKER_COSTS: Readonly<TrackerCosts> = Object.freeze({
  exitNs: 800,
  wpFaultNs: 800,
  scanEntryNs: 2,
  flushHostNs: 1000,
  flushGuestNs: 2000,
  walkNs: 100,
  pmlEntries: 512,
  ringEntries: 4096,
});

/** What a tracker cost, accumulated over the whole run (warm-up included). */
export interface TrackerStats {
  /** The tracker's kind. */
  kind: string;
  /** VM exits caused by tracking. */
  exits: number;
  /** Exits by cause: `wpFault`, `pmlFull`, `ringFull`. */
  exitsByCause: Record<string, number>;
  /**
   * Guest time lost to tracking: write-protection faults × wpFaultNs + other exits ×
   * exitNs + flushes × flushGuestNs × vcpus + walks × walkNs.
   */
  guestOverheadNs: number;
  /** Host CPU time spent by tracking (scans, clears, flushes). */
  hostCpuNs: number;
  /** INVEPT-style flushes. */
  flushes: number;
  /**
   * Translations re-walked because a flush dropped them: the distinct frames (EPT leaves)
   * the guest touched between a flush and the next one, charged at that next flush.
   */
  walks: number;
  /** EPT leaves read or cleared. */
  scanEntries: number;
  /** Writes no tracker saw: made through a cached translation after a clear without flush. */
  missedUpdates: number;
}

/** The result of a sync. */
export interface SyncResult {
  /** Frames whose log bit was set since the previous sync and is still set (a view; any order). */
  readonly newly: Uint32Array;
  /** All frames currently logged dirty (reported by this sync). */
  readonly logged: number;
  /** Host time the sync took; the sender waits for it. */
  readonly costNs: number;
}

/** The frames one profiling interval saw. */
export interface ProfileResult {
  /** Frames written during the interval, each once, in the order first accessed. */
  readonly written: Uint32Array;
  /** Frames accessed during the interval, each once, the written included. */
  readonly accessed: Uint32Array;
}

/** A dirty-tracking mechanism. */
export interface DirtyTracker {
  /** `ept-ad`, `pml`, … */
  readonly kind: string;
  /** Costs accumulated so far (a snapshot). */
  readonly stats: TrackerStats;
  /** Guest time lost so far (exits, translation refills): the guest's clock stops for it. */
  readonly stallNs: number;
  /**
   * True when {@link DirtyTracker.onAccess} and {@link DirtyTracker.clear} touch only the
   * given frame's state and never stall the guest, so that accesses and sends of different
   * frames commute. The engine then sends runs of frames as batches — the same results in
   * fewer steps. Absent means false.
   */
  readonly perFrame?: boolean;
  /**
   * Called for every guest access, after the engine updated the frame's content state.
   * @param pfn the frame
   * @param write whether the access is a write
   * @param vcpu the vCPU that made it (0 … vcpus−1)
   */
  onAccess(pfn: number, write: boolean, vcpu: number): void;
  /** Reads the dirty state into the log and reports what is newly logged. */
  sync(): SyncResult;
  /** Clears the log of every frame (legacy GET_DIRTY_LOG). */
  clearAll(): void;
  /** Clears the log of one frame; call {@link DirtyTracker.flush} to make it reliable. */
  clear(pfn: number): void;
  /** Invalidates cached translations so cleared bits are set again on the next access. */
  flush(): void;
  /** Closes a profiling interval: the frames written and accessed since the previous one. */
  profile(): ProfileResult;
}

/**
 * What every mechanism shares: the dirty log (F_LOG, with the frames newly logged since
 * the last sync), the profiling interval's lists, and cost counters. Subclasses decide
 * which accesses the hardware reports ({@link BaseTracker.seen} what it reported), what
 * re-arming a frame means, and what a sync or a profiling scan costs.
 *
 * @example Usage
 * ```ts
 * import { BaseTracker, DEFAULT_TRACKER_COSTS } from "./base.ts";
 * import { GuestMemory } from "../memory.ts";
 * import assert from "node:assert/strict";
 *
 * // A tracker that sees every write for free (no hardware works like this).
 * class Oracle extends BaseTracker {
 *   readonly kind = "oracle";
 *   onAccess(p: number, write: boolean, _vcpu: number): void {
 *     if (write) this.seen(p, true);
 *   }
 *   protected syncCost(): number {
 *     return 0;
 *   }
 *   protected rearm(): void {}
 *   protected profileScan(): void {}
 * }
 * const t = new Oracle(new GuestMemory(8, null), DEFAULT_TRACKER_COSTS);
 * t.onAccess(6, true, 0);
 * assert.deepEqual([...t.sync().newly], [6]);
 * ```
 */
export abstract class BaseTracker implements DirtyTracker {
  abstract readonly kind: string;
  /** The guest memory watched: the log and the mechanisms' bits sit in its frame flags. */
  protected readonly m: GuestMemory;
  /** Cost parameters. */
  protected readonly c: TrackerCosts;
  /** Frames logged since the last sync (unless more than the cap: see `sync`). */
  protected readonly newly = new FrameList(4096);
  readonly #report = new FrameList(4096);
  /**
   * Past this many frames logged between two syncs, a sync reads F_NEW off every frame in
   * one sequential pass instead of visiting listed frames at random (much cheaper then).
   */
  readonly #newlyCap: number;
  #newlyOver = false;
  /** The last sync's report held every frame logged then. */
  #reportAll = false;
  /** The frames as 32-bit words, two frames each (low half first): empty if big-endian. */
  readonly #pairs: Uint32Array;
  /** Frames the hardware reported accessed in the current profiling interval. */
  protected readonly ivA = new FrameList(4096);
  /** Frames logged now. */
  protected logged = 0;
  /** Entries read by scans: leaves, bitmap words, buffer or ring entries. */
  protected entries: number = -0; // a float from the start: it outgrows small integers
  /** Frames cleared one by one. */
  protected clears = 0;
  /** Flushes (INVEPT). */
  protected flushes = 0;
  /** Frames (leaves' first frames) whose translation was walked since the last flush. */
  readonly #walked = new FrameList(4096);
  /** Translation walks charged so far. */
  protected walks = 0;
  /** Whether a flush happened: walks before the first are the guest's own, not tracking's. */
  #flushedOnce = false;
  /** VM exits, by cause. */
  protected readonly exitCounts: Record<string, number> = {};
  /** Writes no tracker saw (`ept-ad` without flushes). */
  protected missed = 0;
  /** Leaf size, flushing and vCPUs (every option filled in). */
  protected readonly o: Required<TrackerOptions>;
  /** Guest time lost so far. */
  stallNs: number = -0; // a float from the start (see the engine's clock fields)

  /**
   * Creates the tracker's shared state.
   * @param memory the guest memory it watches
   * @param costs cost parameters
   * @param options leaf size, flushing and vCPUs
   */
  constructor(
    memory: GuestMemory,
    costs: TrackerCosts,
    options: TrackerOptions = DEFAULT_TRACKER_OPTIONS,
  ) {
    this.m = memory;
    this.c = costs;
    this.o = { ...DEFAULT_TRACKER_OPTIONS, ...options };
    this.#newlyCap = Math.max(1024, memory.pages >>> 5);
    const fr = memory.frames, little = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
    this.#pairs = little && fr.byteOffset % 4 === 0
      ? new Uint32Array(fr.buffer, fr.byteOffset, fr.length >>> 1)
      : new Uint32Array(0);
  }

  get stats(): TrackerStats {
    const c = this.c;
    const exits = Object.values(this.exitCounts).reduce((a, b) => a + b, 0);
    return {
      kind: this.kind,
      exits,
      exitsByCause: { ...this.exitCounts },
      guestOverheadNs: this.stallNs + 0, // (+ 0: never −0)
      hostCpuNs: (this.entries + this.clears) * c.scanEntryNs + this.flushes * c.flushHostNs,
      flushes: this.flushes,
      walks: this.walks,
      scanEntries: this.entries + this.clears,
      missedUpdates: this.missed,
    };
  }

  /**
   * Counts a VM exit and stalls the guest for it.
   * @param cause its name in the stats
   * @param ns what it costs the guest (default `exitNs`)
   */
  protected exit(cause: string, ns: number = this.c.exitNs): void {
    this.exitCounts[cause] = (this.exitCounts[cause] ?? 0) + 1;
    this.stallNs += ns;
  }

  abstract onAccess(pfn: number, write: boolean, vcpu: number): void;

  /**
   * Notes a guest access for the translation cache: the first access to a frame (to its
   * EPT leaf) after a flush walks the page tables again. Every mechanism calls it for
   * every access (one bit of the frame's word; the walk is charged at the next flush).
   */
  protected touch(p: number): void {
    const leaf = this.o.leafFrames, fr = this.m.frames;
    const q = leaf === 1 ? p : p - (p % leaf);
    const f = fr[q];
    if ((f & F_TLB) === 0) {
      fr[q] = f | F_TLB;
      this.#walked.push(q);
    }
  }

  /** Records what the hardware reported of an access: the interval lists and the log. */
  protected seen(p: number, write: boolean): void {
    const fr = this.m.frames;
    let f = fr[p];
    if ((f & F_IV_A) === 0) { // first report in this interval
      f |= F_IV_A;
      this.ivA.push(p);
    }
    if (write) {
      f |= F_IV_W; // listed when the interval closes
      if ((f & F_LOG) === 0) {
        f |= F_LOG;
        this.logged++;
        if ((f & F_NEW) === 0) {
          f |= F_NEW;
          if (this.newly.length < this.#newlyCap) this.newly.push(p);
          else this.#newlyOver = true;
        }
      }
    }
    fr[p] = f;
  }

  /** Records an access to every frame of the 2 MiB leaf that starts at `head`. */
  protected seenLeaf(head: number, write: boolean): void {
    const hi = Math.min(this.m.pages, head + this.o.leafFrames);
    for (let q = head; q < hi; q++) this.seen(q, write);
  }

  /** Charges `entries` leaves or bitmap words read plus a flush; returns the host time. */
  protected charge(entries: number): number {
    this.entries += entries;
    this.flush();
    return entries * this.c.scanEntryNs + this.c.flushHostNs;
  }

  /** Host time of a sync; the sender waits for it. */
  protected abstract syncCost(): number;

  sync(): SyncResult {
    const costNs = this.syncCost();
    const fr = this.m.frames, n = this.newly, r = this.#report;
    r.reset();
    if (this.#newlyOver) {
      r.length = harvestNew(fr, this.#pairs, r.reserve(fr.length + 2));
      this.#newlyOver = false;
    } else {
      for (let i = 0; i < n.length; i++) {
        const p = n.buf[i], f = fr[p];
        fr[p] = f & ~F_NEW;
        if ((f & F_LOG) !== 0) r.push(p);
      }
    }
    n.reset();
    this.#reportAll = this.logged === r.length;
    return { newly: r.view(), logged: this.logged, costNs };
  }

  clearAll(): void {
    const fr = this.m.frames, r = this.#report;
    if (this.#reportAll && this.newly.length === 0 && !this.#newlyOver) {
      // The last sync reported every logged frame and nothing was logged since: the
      // logged frames are among that report, so only those are visited.
      for (let i = 0; i < r.length; i++) {
        const p = r.buf[i];
        if ((fr[p] & F_LOG) === 0) continue;
        this.rearm(p); // (may change the frame's word: read it again below)
        fr[p] &= ~F_LOG;
      }
    } else {
      for (let p = 0; p < fr.length; p++) {
        if ((fr[p] & F_LOG) === 0) continue; // unlogged frames are not written back
        this.rearm(p);
        fr[p] &= ~F_LOG;
      }
    }
    this.logged = 0;
  }

  clear(p: number): void {
    const fr = this.m.frames, f = fr[p];
    if ((f & F_LOG) !== 0) {
      this.logged--;
      fr[p] = f & ~F_LOG;
    }
    this.rearm(p);
    this.clears++; // a small integer, cheaper to count than the scans' entries
  }

  /** Makes the hardware report the frame's next write again (re-protect, clear D). */
  protected abstract rearm(p: number): void;

  flush(): void {
    this.flushes++;
    // The walks since the previous flush are charged now, when their count is known: the
    // total is exact, its moment late by at most one flush interval.
    const w = this.#walked, fr = this.m.frames, n = w.length;
    for (let i = 0; i < n; i++) fr[w.buf[i]] &= ~F_TLB;
    w.reset();
    const walks = this.#flushedOnce ? n : 0;
    this.#flushedOnce = true;
    this.walks += walks;
    this.stallNs += this.c.flushGuestNs * this.o.vcpus + walks * this.c.walkNs;
  }

  profile(): ProfileResult {
    // One pass over the frames accessed: the written ones are listed (every written frame
    // is also accessed), and the next interval starts with none listed.
    const a = this.ivA, n = a.length, written = new Uint32Array(n);
    const k = closeInterval(this.m.frames, a.buf, n, written);
    const out = { written: written.subarray(0, k), accessed: a.buf.slice(0, n) };
    this.profileScan(out.written);
    a.reset();
    return out;
  }

  /** What closing an interval costs and does to the hardware state. */
  protected abstract profileScan(written: Uint32Array): void;
}

/**
 * A registry entry: what `createTracker` and the conformance suite know about a
 * mechanism besides its class. One per file under `harness/trackers/`, listed in
 * `TRACKERS` (tracker.ts).
 */
export interface TrackerEntry {
  /** One line: what the mechanism is and what it costs. */
  readonly description: string;
  /**
   * Whether clears without INVEPT (`flush: false`, `--no-flush`) are modelled. Absent
   * means false, and `createTracker` rejects such options for this tracker.
   */
  readonly noFlush?: boolean;
  /**
   * Whether profiling sees reads: when true, a frame only read in an interval is listed
   * as accessed; when false, only written frames are.
   */
  readonly seesReads: boolean;
  /**
   * Frames one logged write may mark dirty under these options: 1 when the log is exact
   * (4 KiB), 512 when a 2 MiB leaf has one dirty bit. The conformance suite allows a
   * sync to report more than was written only within such a granule.
   */
  granule(options: TrackerOptions): number;
  /**
   * Rejects costs and options the mechanism does not model.
   * @throws {PrecopyError} of kind `config`, naming the option and what is accepted
   */
  validate(costs: TrackerCosts, options: TrackerOptions): void;
  /** Builds the tracker; `validate` has accepted the costs and options. */
  create(memory: GuestMemory, costs: TrackerCosts, options: TrackerOptions): DirtyTracker;
  /** Conformance checks (by id, see `harness/trackers/conformance.ts`) it skips, with why. */
  readonly skips?: Readonly<Record<string, string>>;
}

/**
 * Checks that a 2 MiB or 4 KiB EPT leaf size is asked for: the only two the EPT model has.
 *
 * @param options the tracker options
 * @throws {PrecopyError} naming `--ept-leaf` for any other size
 *
 * @example Usage
 * ```ts
 * import { checkLeafFrames } from "./base.ts";
 * import assert from "node:assert/strict";
 * checkLeafFrames({ leafFrames: 512, flush: true });
 * assert.throws(() => checkLeafFrames({ leafFrames: 8, flush: true }), /--ept-leaf/);
 * ```
 */
export function checkLeafFrames(options: TrackerOptions): void {
  const n = options.leafFrames;
  if (n !== 1 && n !== 512) {
    throw new PrecopyError("config", `--ept-leaf: ${n} frames is not 4KiB (1) or 2MiB (512)`);
  }
}

/**
 * Resets the interval flags of the `n` frames in `accessed` and lists, in that order, the
 * ones flagged written. Returns how many. (A function of its own: its loop is compiled
 * apart from the scan's bookkeeping.)
 */
function closeInterval(
  fr: Uint16Array,
  accessed: Uint32Array,
  n: number,
  written: Uint32Array,
): number {
  let k = 0;
  for (let i = 0; i < n; i++) {
    const p = accessed[i], f = fr[p];
    fr[p] = f & ~(F_IV_A | F_IV_W);
    written[k] = p;
    k += (f >>> IV_W_BIT) & 1;
  }
  return k;
}

/**
 * Clears F_NEW on every frame and lists, ascending, the frames that had F_NEW and F_LOG.
 * Two frames per 32-bit word, without branches within a word, and words without a new
 * frame are left unwritten: writing all of memory back costs more than the branch (a
 * small function of its own, so the compiler optimizes the loop fully). Returns the count.
 */
function harvestNew(fr: Uint16Array, pairs: Uint32Array, out: Uint32Array): number {
  const both = F_NEW | F_NEW << 16, n = pairs.length;
  let k = 0;
  for (let q = 0; q < n; q++) {
    const w = pairs[q];
    if ((w & both) === 0) continue;
    pairs[q] = w & ~both;
    const p = q << 1;
    out[k] = p;
    k += (w >>> NEW_BIT) & (w >>> LOG_BIT) & 1;
    out[k] = p + 1;
    k += (w >>> (NEW_BIT + 16)) & (w >>> (LOG_BIT + 16)) & 1;
  }
  for (let p = n << 1; p < fr.length; p++) { // the odd frame out, or all on big-endian hosts
    const f = fr[p];
    fr[p] = f & ~F_NEW;
    out[k] = p;
    k += (f >>> NEW_BIT) & (f >>> LOG_BIT) & 1;
  }
  return k;
}

/**
 * Empties per-vCPU fill counters (PML buffers, dirty rings); returns the entries.
 *
 * @param fill entries per vCPU, zeroed on return
 * @returns the entries there were
 *
 * @example Usage
 * ```ts
 * import { drain } from "./base.ts";
 * import assert from "node:assert/strict";
 * const fill = Uint32Array.of(3, 4);
 * assert.equal(drain(fill), 7);
 * assert.deepEqual([...fill], [0, 0]);
 * ```
 */
export function drain(fill: Uint32Array): number {
  let n = 0;
  for (let v = 0; v < fill.length; v++) n += fill[v], fill[v] = 0;
  return n;
}
