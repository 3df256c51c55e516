/**
 * Dirty tracking: how the hypervisor learns which frames the guest wrote, and what that
 * costs. A tracker keeps the dirty log, hands the engine the frames newly logged at each
 * sync, clears the log when told (at the round's sync, per chunk or per page), and feeds
 * the profiling history.
 *
 * Mechanisms (`--tracker`):
 *
 * - `ept-ad` — the seed paper's: no VM exits; a scan walks every EPT leaf, reads and
 *   clears the accessed/dirty bits, then invalidates cached translations (INVEPT).
 * - `wp` — write-protection dirty logging: the first write to a protected frame is a VM
 *   exit that logs it and unprotects it; later writes are invisible until it is protected
 *   again (a clear re-protects; the profiler re-protects every frame it saw written, which
 *   is what makes write-protection profiling costly). Reads are invisible.
 * - `pml` — page-modification logging: a D-bit 0→1 transition appends the frame to its
 *   vCPU's 512-entry buffer, and a full buffer is a VM exit; clears reset D bits.
 * - `dirty-ring` — KVM's per-vCPU rings over write-protection: each first write after a
 *   reset traps and is pushed to the vCPU's ring; a ring at its soft limit (size − 64)
 *   is one more exit to harvest it; a sync harvests and resets (re-protects).
 *
 * vCPU ids come from the workload (traces may record them) modulo `vcpus`, or are spread
 * round-robin over `vcpus` for generators. Exits and translation refills are guest time
 * lost (`stallNs`): the engine stops the guest's clock for them, so a costly tracker
 * also makes the guest dirty less.
 *
 * How `ept-ad` is simulated: while every clear is followed by a flush (always, so far), a
 * leaf's A/D bits are set by the first access after the last scan and harvested by the
 * next scan, so "harvested by the next scan" and "recorded at the access, attributed to
 * the interval the next scan closes" give identical logs and histories. The simulator
 * records at the access — one cache line per access instead of a second visit per scan —
 * and still charges every scan as a walk of all leaves plus a flush. Modelling stale
 * translations (a clear without a flush) needs the bits themselves and belongs with it.
 *
 * Cost defaults are our assumptions, not measurements: no published per-entry scan or
 * INVEPT cost was found (`docs/model.md`, the EPT accessed/dirty model).
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import {
  F_DBIT,
  F_IV_A,
  F_IV_W,
  F_LOG,
  F_NEW,
  F_WP,
  FrameList,
  type GuestMemory,
} from "../memory.ts";

/** Cost parameters of a tracker, all in nanoseconds. */
export interface TrackerCosts {
  /** Host time to read and clear one EPT leaf during a scan or clear (default 2 ns). */
  scanEntryNs: number;
  /** Host time of one INVEPT, including the IPIs to vCPUs (default 1 µs). */
  flushHostNs: number;
  /** Guest time lost per vCPU refilling cached translations after a flush (default 2 µs). */
  flushGuestNs: number;
  /** vCPUs of the guest (default 1). */
  vcpus: number;
  /** Guest time of one VM exit round trip (default 800 ns: ≈2 000 cycles at 2.5 GHz). */
  exitNs: number;
  /** `dirty-ring`: entries per vCPU ring, a power of two (default 4096, KVM's advice). */
  ringEntries: number;
}

/** How the EPT is set up, besides costs. */
export interface TrackerOptions {
  /** Frames per EPT leaf: 1 (4 KiB, default) or 512 (2 MiB). */
  leafFrames: number;
  /** Whether clears are followed by INVEPT (default true). */
  flush: boolean;
}

/** Bit positions of F_LOG, F_NEW and F_IV_W, for branchless scans. */
const LOG_BIT = 2, NEW_BIT = 11, IV_W_BIT = 6;
if (F_LOG !== 1 << LOG_BIT || F_NEW !== 1 << NEW_BIT || F_IV_W !== 1 << IV_W_BIT) {
  throw new Error("internal: flag bits");
}

const DEFAULT_OPTIONS: TrackerOptions = Object.freeze({ leafFrames: 1, flush: true });

/** Default {@link TrackerCosts}. */
export const DEFAULT_TRACKER_COSTS: Readonly<TrackerCosts> = Object.freeze({
  scanEntryNs: 2,
  flushHostNs: 1000,
  flushGuestNs: 2000,
  vcpus: 1,
  exitNs: 800,
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
  /** Guest time lost to tracking (exits × exitNs + flushes × flushGuestNs × vcpus). */
  guestOverheadNs: number;
  /** Host CPU time spent by tracking (scans, clears, flushes). */
  hostCpuNs: number;
  /** INVEPT-style flushes. */
  flushes: number;
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
 * which accesses the hardware reports and what a clear or a scan does.
 */
abstract class BaseTracker implements DirtyTracker {
  abstract readonly kind: string;
  protected readonly m: GuestMemory;
  protected readonly c: TrackerCosts;
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
  protected readonly ivA = new FrameList(4096);
  protected logged = 0;
  protected entries = -0; // a float from the start: it outgrows small integers
  protected clears = 0;
  protected flushes = 0;
  protected readonly exitCounts: Record<string, number> = {};
  protected missed = 0;
  protected readonly o: TrackerOptions;
  stallNs = -0; // a float from the start (see the engine's clock fields)

  constructor(memory: GuestMemory, costs: TrackerCosts, options: TrackerOptions = DEFAULT_OPTIONS) {
    this.m = memory;
    this.c = costs;
    this.o = options;
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
      scanEntries: this.entries + this.clears,
      missedUpdates: this.missed,
    };
  }

  protected exit(cause: string): void {
    this.exitCounts[cause] = (this.exitCounts[cause] ?? 0) + 1;
    this.stallNs += this.c.exitNs;
  }

  abstract onAccess(pfn: number, write: boolean, vcpu: number): void;

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
    this.stallNs += this.c.flushGuestNs * this.c.vcpus;
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
 * The seed paper's EPT A/D scanner. While every clear is followed by a flush (always, so
 * far), a leaf's A/D bits are set by the first access after a scan and harvested by the
 * next scan: recording at the access and attributing it to the interval the next scan
 * closes gives identical logs and histories, at one cache line per access. Every scan is
 * still charged as a walk of all leaves plus a flush. With `flush: false` the D bits and
 * each vCPU's cached translations are kept explicitly, so writes can go missing.
 */
class EptAdTracker extends BaseTracker {
  readonly kind: string = "ept-ad";
  /** 2 MiB leaves: per leaf, whether its D (A) bit is set, and the leaves set. */
  protected readonly leafD: Uint8Array | null;
  readonly #leafA: Uint8Array | null;
  protected readonly setLeaves = new FrameList(1024);
  // Translations cached by vCPUs, for clears without a flush: per frame, the flush epoch
  // of its entries, a mask of vCPUs caching it with D=1, and the D bit in memory.
  readonly #tlbEpoch: Uint32Array | null;
  readonly #tlbDirty: Uint8Array | null;
  readonly #memD: Uint8Array | null;
  readonly #dSet = new FrameList(1024);
  #epoch = 1;

  /** 4 KiB leaves, flushed: nothing an access or a clear does reaches another frame. */
  readonly perFrame: boolean;

  constructor(memory: GuestMemory, costs: TrackerCosts, options?: TrackerOptions) {
    super(memory, costs, options);
    this.perFrame = this.o.leafFrames === 1 && this.o.flush;
    const leaves = Math.ceil(memory.pages / this.o.leafFrames);
    this.leafD = this.o.leafFrames > 1 ? new Uint8Array(leaves) : null;
    this.#leafA = this.o.leafFrames > 1 ? new Uint8Array(leaves) : null;
    const stale = !this.o.flush;
    this.#tlbEpoch = stale ? new Uint32Array(memory.pages) : null;
    this.#tlbDirty = stale ? new Uint8Array(memory.pages) : null;
    this.#memD = stale ? new Uint8Array(memory.pages) : null;
  }

  onAccess(p: number, write: boolean, vcpu: number): void {
    if (this.leafD !== null) return this.#leafAccess(p, write);
    if (this.#memD === null) return this.seen(p, write);
    // Clears may not be flushed: a vCPU whose cached entry already has D=1 writes without
    // setting D again, and the write goes unseen.
    const ep = this.#tlbEpoch!, td = this.#tlbDirty!, d = this.#memD, bit = 1 << vcpu;
    if (ep[p] !== this.#epoch) {
      ep[p] = this.#epoch;
      td[p] = 0;
    }
    if (!write) {
      if (d[p]) td[p] |= bit;
      return this.seen(p, false);
    }
    if ((td[p] & bit) !== 0 && d[p] === 0) {
      this.missed++;
      return;
    }
    if (d[p] === 0) {
      d[p] = 1;
      this.#dSet.push(p);
    }
    td[p] |= bit;
    this.seen(p, true);
  }

  /** A 2 MiB leaf: the first write after its D bit was cleared dirties all 512 frames. */
  #leafAccess(p: number, write: boolean): void {
    const leaf = Math.floor(p / this.o.leafFrames);
    const bits = write ? this.leafD! : this.#leafA!;
    if (bits[leaf] !== 0) return;
    bits[leaf] = 1;
    if (write) this.#leafA![leaf] = 1;
    this.setLeaves.push(leaf);
    this.seenLeaf(leaf * this.o.leafFrames, write);
  }

  /** A scan clears every A/D bit it walks. */
  #clearBits(): void {
    if (this.leafD !== null) {
      const l = this.setLeaves;
      for (let i = 0; i < l.length; i++) this.leafD[l.buf[i]] = this.#leafA![l.buf[i]] = 0;
      l.reset();
    }
    if (this.#memD !== null) {
      const l = this.#dSet;
      for (let i = 0; i < l.length; i++) this.#memD[l.buf[i]] = 0;
      l.reset();
    }
  }

  #walk(): number {
    this.#clearBits();
    return this.charge(Math.ceil(this.m.pages / this.o.leafFrames));
  }
  protected syncCost(): number {
    return this.#walk();
  }
  protected rearm(p: number): void {
    if (this.leafD !== null) this.leafD[Math.floor(p / this.o.leafFrames)] = 0;
    if (this.#memD !== null) this.#memD[p] = 0;
  }
  override flush(): void {
    super.flush();
    if (this.o.flush) this.#epoch++; // INVEPT: every cached translation is gone
  }
  protected profileScan(): void {
    this.#walk();
  }
}

/** Write-protection dirty logging (legacy or manual clear, as `--clear` says). */
class WpTracker extends BaseTracker {
  readonly kind: string = "wp";
  // A 2 MiB leaf is split on its first logged write (as KVM does), so protection and
  // logging stay at 4 KiB whatever --ept-leaf says; the split is the fault's own exit.
  constructor(memory: GuestMemory, costs: TrackerCosts, options?: TrackerOptions) {
    super(memory, costs, options);
    const fr = memory.frames;
    for (let p = 0; p < fr.length; p++) fr[p] |= F_WP; // the profiler protects from the start
    this.charge(memory.pages);
  }
  onAccess(p: number, write: boolean, vcpu: number): void {
    if (!write) return; // protection sees writes only
    const fr = this.m.frames;
    if ((fr[p] & F_WP) === 0) return; // unprotected: the write goes unseen
    fr[p] &= ~F_WP;
    this.exit("wpFault");
    this.trapped(p, vcpu);
  }
  /** A write that trapped: it is logged. */
  protected trapped(p: number, _vcpu: number): void {
    this.seen(p, true);
  }
  protected syncCost(): number {
    // GET_DIRTY_LOG: one bitmap word per 64 frames, and the re-protection's flush
    return this.charge(Math.ceil(this.m.pages / 64));
  }
  protected rearm(p: number): void {
    this.m.frames[p] |= F_WP;
  }
  protected profileScan(written: Uint32Array): void {
    // History from faults: re-protect every frame seen written, so its next write traps.
    for (let i = 0; i < written.length; i++) this.rearm(written[i]);
    this.charge(written.length);
  }
}

/** KVM's dirty ring, over write-protection. */
class DirtyRingTracker extends WpTracker {
  override readonly kind = "dirty-ring";
  readonly #fill: Uint32Array;
  readonly #soft: number;
  constructor(memory: GuestMemory, costs: TrackerCosts, options?: TrackerOptions) {
    super(memory, costs, options);
    this.#fill = new Uint32Array(costs.vcpus);
    this.#soft = costs.ringEntries - 64;
  }
  protected override trapped(p: number, vcpu: number): void {
    this.seen(p, true);
    if (++this.#fill[vcpu] >= this.#soft) { // KVM_EXIT_DIRTY_RING_FULL: userspace harvests
      this.exit("ringFull");
      this.#fill[vcpu] = 0;
    }
  }
  protected override syncCost(): number {
    // harvest every ring entry, then KVM_RESET_DIRTY_RINGS (re-protect) and a flush
    return this.charge(drain(this.#fill));
  }
}

/** Page-modification logging. */
class PmlTracker extends BaseTracker {
  readonly kind = "pml";
  readonly #fill: Uint32Array;
  constructor(memory: GuestMemory, costs: TrackerCosts, options?: TrackerOptions) {
    super(memory, costs, options);
    this.#fill = new Uint32Array(costs.vcpus);
  }
  onAccess(p: number, write: boolean, vcpu: number): void {
    if (!write) return; // PML logs D-bit transitions only
    const fr = this.m.frames, leaf = this.o.leafFrames;
    const head = leaf > 1 ? p - (p % leaf) : p; // a 2 MiB leaf's D bit sits on its first frame
    if ((fr[head] & F_DBIT) !== 0) return; // D already set: nothing is logged
    fr[head] |= F_DBIT;
    if (leaf > 1) this.seenLeaf(head, true);
    else this.seen(p, true);
    if (++this.#fill[vcpu] === 512) { // the 512-entry buffer is full: a VM exit drains it
      this.exit("pmlFull");
      this.#fill[vcpu] = 0;
    }
  }
  protected syncCost(): number {
    // drain the buffers, then read and clear the dirty bitmap
    return this.charge(drain(this.#fill) + Math.ceil(this.m.pages / 64));
  }
  protected rearm(p: number): void {
    const leaf = this.o.leafFrames;
    this.m.frames[leaf > 1 ? p - (p % leaf) : p] &= ~F_DBIT;
  }
  protected profileScan(written: Uint32Array): void {
    // clear the D bits of the frames seen written, so their next write is logged again
    for (let i = 0; i < written.length; i++) this.rearm(written[i]);
    this.charge(written.length);
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

/** Empties per-vCPU fill counters (PML buffers, dirty rings); returns the entries. */
function drain(fill: Uint32Array): number {
  let n = 0;
  for (let v = 0; v < fill.length; v++) n += fill[v], fill[v] = 0;
  return n;
}

/** Tracker kinds that exist in this build. */
export const TRACKER_KINDS: readonly string[] = ["ept-ad", "wp", "pml", "dirty-ring"];

/**
 * Creates a tracker over a guest memory.
 *
 * @param kind a name from {@link TRACKER_KINDS}
 * @param memory the guest memory it watches
 * @param costs cost parameters (defaults: {@link DEFAULT_TRACKER_COSTS})
 * @param options leaf size and flushing (defaults: 4 KiB leaves, flushed)
 * @returns the tracker
 * @throws {PrecopyError} for an unknown kind
 *
 * @example Usage
 * ```ts
 * import { createTracker } from "./tracker.ts";
 * import { GuestMemory } from "../memory.ts";
 * import assert from "node:assert/strict";
 * const m = new GuestMemory(8, null);
 * const t = createTracker("ept-ad", m);
 * t.onAccess(3, true, 0); // vCPU 0 writes frame 3
 * assert.deepEqual([...t.sync().newly], [3]);
 * assert.equal(t.stats.exits, 0);
 * ```
 */
export function createTracker(
  kind: string,
  memory: GuestMemory,
  costs: TrackerCosts = DEFAULT_TRACKER_COSTS,
  options: TrackerOptions = DEFAULT_OPTIONS,
): DirtyTracker {
  if (!options.flush && kind !== "ept-ad") {
    throw new PrecopyError(
      "config",
      `--no-flush is modelled for --tracker ept-ad only, not ${kind}`,
    );
  }
  if (!options.flush && options.leafFrames > 1) {
    throw new PrecopyError("config", "--no-flush is modelled with 4 KiB leaves only");
  }
  if (!options.flush && costs.vcpus > 8) {
    throw new PrecopyError("config", "--no-flush models the TLBs of at most 8 vCPUs");
  }
  if (kind === "ept-ad") return new EptAdTracker(memory, costs, options);
  if (kind === "wp") return new WpTracker(memory, costs, options);
  if (kind === "pml") return new PmlTracker(memory, costs, options);
  if (kind === "dirty-ring") {
    const n = costs.ringEntries;
    if (!(n >= 128 && (n & (n - 1)) === 0)) {
      throw new PrecopyError("config", `ringEntries: ${n} is not a power of two ≥ 128`);
    }
    return new DirtyRingTracker(memory, costs, options);
  }
  throw new PrecopyError(
    "config",
    `--tracker: '${kind}' is not available; available: ${TRACKER_KINDS.join(", ")}`,
  );
}
