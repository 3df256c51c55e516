/**
 * Dirty tracking: how the hypervisor learns which frames the guest wrote, and what that
 * costs. A tracker folds the EPT state into its dirty log, hands the engine the frames
 * newly logged at each sync, clears the log when told (at the round's sync, per chunk or
 * per page), and feeds the profiling history.
 *
 * Implemented here: `ept-ad`, the seed paper's mechanism — no VM exits; a scan walks every
 * EPT leaf, reads and clears A/D, then invalidates cached translations (INVEPT). Other
 * mechanisms (`wp`, `pml`, `dirty-ring`) plug in behind the same interface.
 *
 * Cost defaults are our assumptions, not measurements: no published per-entry scan or
 * INVEPT cost was found (see `../shared/reference/mechanisms.md` §4.9, tagged [U]).
 *
 * @module
 */

import { PrecopyError } from "./errors.ts";
import { F_A, F_D, F_IV_A, F_IV_W, F_LOG, FrameList, type GuestMemory } from "./memory.ts";

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
   * Optional per-write work (a trap, a log append), called after the EPT bits were set.
   * Trackers without it cost nothing per write.
   */
  onWrite?(pfn: number): void;
  /** Folds the hardware state into the log and reports it. */
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

  /** Walks the leaves: D folds into the log and the interval, A into the interval. */
  #scan(): number {
    const flags = this.#m.flags, t = this.#m.touched, buf = t.buf;
    const ivW = this.#ivW, ivA = this.#ivA, newly = this.#newly;
    for (let i = 0; i < t.length; i++) {
      const p = buf[i];
      let f = flags[p];
      if ((f & (F_A | F_D)) === 0) continue; // cleared since it was listed
      if ((f & F_IV_A) === 0) {
        f |= F_IV_A;
        ivA.push(p);
      }
      if ((f & F_D) !== 0) {
        if ((f & F_IV_W) === 0) {
          f |= F_IV_W;
          ivW.push(p);
        }
        if ((f & F_LOG) === 0) {
          f |= F_LOG;
          newly.push(p);
          this.#logged++;
        }
      }
      flags[p] = f & ~(F_A | F_D);
    }
    t.reset();
    this.#entries += this.#m.pages;
    this.flush();
    return this.#m.pages * this.#c.scanEntryNs + this.#c.flushHostNs;
  }

  sync(): SyncResult {
    const costNs = this.#scan();
    const flags = this.#m.flags, n = this.#newly, r = this.#report;
    r.reset();
    for (let i = 0; i < n.length; i++) {
      const p = n.buf[i];
      if ((flags[p] & F_LOG) !== 0) r.push(p);
    }
    n.reset();
    return { newly: r.view(), logged: this.#logged, costNs };
  }

  clearAll(): void {
    const flags = this.#m.flags;
    for (let p = 0; p < flags.length; p++) flags[p] &= ~F_LOG;
    this.#logged = 0;
  }

  clear(p: number): void {
    const flags = this.#m.flags;
    let f = flags[p];
    // Read-and-clear: a write the profiler has not seen yet still reaches the history.
    if ((f & F_D) !== 0) {
      if ((f & F_IV_W) === 0) this.#ivW.push(p);
      if ((f & F_IV_A) === 0) this.#ivA.push(p);
      f |= F_IV_W | F_IV_A;
    }
    if ((f & F_LOG) !== 0) this.#logged--;
    flags[p] = f & ~(F_D | F_LOG);
    this.#entries++;
  }

  flush(): void {
    this.#flushes++;
  }

  profile(): ProfileResult {
    this.#scan();
    const flags = this.#m.flags, w = this.#ivW, a = this.#ivA;
    for (let i = 0; i < a.length; i++) flags[a.buf[i]] &= ~(F_IV_A | F_IV_W);
    const out = { written: w.buf.slice(0, w.length), accessed: a.buf.slice(0, a.length) };
    w.reset();
    a.reset();
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
 * import { F_A, F_D, GuestMemory } from "./memory.ts";
 * import assert from "node:assert/strict";
 * const m = new GuestMemory(8, null);
 * const t = createTracker("ept-ad", m);
 * m.flags[3] |= F_A | F_D; m.touched.push(3); // the guest writes frame 3
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
