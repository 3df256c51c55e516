/**
 * Dirty tracking: how the hypervisor learns which frames the guest wrote, and what that
 * costs. A tracker keeps the dirty log, hands the engine the frames newly logged at each
 * sync, clears the log when told (at the round's sync, per chunk or per page), and feeds
 * the profiling history.
 *
 * Implemented here: `ept-ad`, the seed paper's mechanism — no VM exits; a scan walks every
 * EPT leaf, reads and clears the accessed/dirty bits, then invalidates cached translations
 * (INVEPT). Other mechanisms (`wp`, `pml`, `dirty-ring`) plug in behind the same interface.
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
 * INVEPT cost was found (see `../shared/reference/mechanisms.md` §4.9, tagged [U]).
 *
 * @module
 */

import { PrecopyError } from "./errors.ts";
import { F_IV_A, F_IV_W, F_LOG, FrameList, type GuestMemory } from "./memory.ts";

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
}

/** Default {@link TrackerCosts}. */
export const DEFAULT_TRACKER_COSTS: Readonly<TrackerCosts> = Object.freeze({
  scanEntryNs: 2,
  flushHostNs: 1000,
  flushGuestNs: 2000,
  vcpus: 1,
});

/** What a tracker cost, accumulated over the whole run (warm-up included). */
export interface TrackerStats {
  /** The tracker's kind. */
  kind: string;
  /** VM exits caused by tracking. */
  exits: number;
  /** Guest time lost to tracking (exits, translation refills). */
  guestOverheadNs: number;
  /** Host CPU time spent by tracking (scans, clears, flushes). */
  hostCpuNs: number;
  /** INVEPT-style flushes. */
  flushes: number;
  /** EPT leaves read or cleared. */
  scanEntries: number;
}

/** The result of a sync. */
export interface SyncResult {
  /** Frames whose log bit was set since the previous sync and is still set (a view). */
  readonly newly: Uint32Array;
  /** All frames currently logged dirty (reported by this sync). */
  readonly logged: number;
  /** Host time the sync took; the sender waits for it. */
  readonly costNs: number;
}

/** The frames one profiling interval saw. */
export interface ProfileResult {
  /** Frames written during the interval, each once (a view valid until the next scan). */
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
  /**
   * Called for every guest access, after the engine updated the frame's content state.
   * @param pfn the frame
   * @param write whether the access is a write
   */
  onAccess(pfn: number, write: boolean): void;
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

/** The seed paper's EPT A/D scanner. */
class EptAdTracker implements DirtyTracker {
  readonly kind = "ept-ad";
  readonly #m: GuestMemory;
  readonly #c: TrackerCosts;
  readonly #newly = new FrameList(4096);
  readonly #report = new FrameList(4096);
  readonly #ivW = new FrameList(4096);
  readonly #ivA = new FrameList(4096);
  /** The profiling interval now running (stamps name it), from 1. */
  #interval = 1;
  #logged = 0;
  #entries = 0;
  #flushes = 0;

  constructor(memory: GuestMemory, costs: TrackerCosts) {
    this.#m = memory;
    this.#c = costs;
  }

  get stats(): TrackerStats {
    const c = this.#c;
    return {
      kind: this.kind,
      exits: 0,
      guestOverheadNs: this.#flushes * c.flushGuestNs * c.vcpus,
      hostCpuNs: this.#entries * c.scanEntryNs + this.#flushes * c.flushHostNs,
      flushes: this.#flushes,
      scanEntries: this.#entries,
    };
  }

  onAccess(p: number, write: boolean): void {
    const fr = this.#m.frames, i = 2 * p;
    let f = fr[i];
    if (fr[i + 1] !== this.#interval) { // first access in this interval
      fr[i + 1] = this.#interval;
      f &= ~(F_IV_A | F_IV_W);
    }
    if ((f & F_IV_A) === 0) {
      f |= F_IV_A;
      this.#ivA.push(p);
    }
    if (write) {
      if ((f & F_IV_W) === 0) {
        f |= F_IV_W;
        this.#ivW.push(p);
      }
      if ((f & F_LOG) === 0) {
        f |= F_LOG;
        this.#newly.push(p);
        this.#logged++;
      }
    }
    fr[i] = f;
  }

  /** Charges one walk of every leaf plus the flush that makes its clears reliable. */
  #walk(): number {
    this.#entries += this.#m.pages;
    this.flush();
    return this.#m.pages * this.#c.scanEntryNs + this.#c.flushHostNs;
  }

  sync(): SyncResult {
    const costNs = this.#walk();
    const fr = this.#m.frames, n = this.#newly, r = this.#report;
    r.reset();
    for (let i = 0; i < n.length; i++) {
      const p = n.buf[i];
      if ((fr[2 * p] & F_LOG) !== 0) r.push(p);
    }
    n.reset();
    return { newly: r.view(), logged: this.#logged, costNs };
  }

  clearAll(): void {
    const fr = this.#m.frames;
    for (let i = 0; i < fr.length; i += 2) fr[i] &= ~F_LOG;
    this.#logged = 0;
  }

  clear(p: number): void {
    const fr = this.#m.frames, f = fr[2 * p];
    if ((f & F_LOG) !== 0) {
      this.#logged--;
      fr[2 * p] = f & ~F_LOG;
    }
    this.#entries++;
  }

  flush(): void {
    this.#flushes++;
  }

  profile(): ProfileResult {
    this.#walk();
    const w = this.#ivW, a = this.#ivA;
    const out = { written: w.buf.slice(0, w.length), accessed: a.buf.slice(0, a.length) };
    w.reset();
    a.reset();
    this.#interval++; // every frame's F_IV_* flags now belong to a past interval
    return out;
  }
}

/** Tracker kinds that exist in this build. */
export const TRACKER_KINDS: readonly string[] = ["ept-ad"];

/**
 * Creates a tracker over a guest memory.
 *
 * @param kind a name from {@link TRACKER_KINDS}
 * @param memory the guest memory it watches
 * @param costs cost parameters (defaults: {@link DEFAULT_TRACKER_COSTS})
 * @returns the tracker
 * @throws {PrecopyError} for an unknown kind
 *
 * @example Usage
 * ```ts
 * import { createTracker } from "./tracker.ts";
 * import { GuestMemory } from "./memory.ts";
 * import assert from "node:assert/strict";
 * const m = new GuestMemory(8, null);
 * const t = createTracker("ept-ad", m);
 * t.onAccess(3, true); // the guest writes frame 3
 * assert.deepEqual([...t.sync().newly], [3]);
 * assert.equal(t.stats.exits, 0);
 * ```
 */
export function createTracker(
  kind: string,
  memory: GuestMemory,
  costs: TrackerCosts = DEFAULT_TRACKER_COSTS,
): DirtyTracker {
  if (kind === "ept-ad") return new EptAdTracker(memory, costs);
  throw new PrecopyError(
    "config",
    `--tracker: '${kind}' is not available; available: ${TRACKER_KINDS.join(", ")}`,
  );
}
