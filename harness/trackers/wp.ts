/**
 * `wp`: write-protection dirty logging, as KVM does without PML. Every frame starts
 * protected; the first write to a protected frame is a VM exit that logs it and lifts the
 * protection, so later writes are invisible until a clear (or the profiler) protects it
 * again. Reads are invisible. A 2 MiB leaf is split on its first logged write, so the log
 * stays exact at 4 KiB whatever the leaf size. Whether syncs re-protect (legacy
 * GET_DIRTY_LOG) or clears do (manual CLEAR_DIRTY_LOG) is the engine's `--clear`.
 *
 * @module
 */

import { F_WP, type GuestMemory } from "../memory.ts";
import {
  BaseTracker,
  checkLeafFrames,
  type TrackerCosts,
  type TrackerEntry,
  type TrackerOptions,
} from "./base.ts";

/**
 * Write-protection dirty logging (legacy or manual clear, as `--clear` says).
 *
 * @example Usage
 * ```ts
 * import { WpTracker } from "./wp.ts";
 * import { DEFAULT_TRACKER_COSTS } from "./base.ts";
 * import { GuestMemory } from "../memory.ts";
 * import assert from "node:assert/strict";
 * const t = new WpTracker(new GuestMemory(8, null), DEFAULT_TRACKER_COSTS);
 * t.onAccess(1, true, 0); // protected: an exit
 * t.onAccess(1, true, 0); // unprotected now: unseen
 * assert.equal(t.stats.exits, 1);
 * ```
 */
export class WpTracker extends BaseTracker {
  /** `wp`, or a subclass's name. */
  readonly kind: string = "wp";
  // A 2 MiB leaf is split on its first logged write (as KVM does), so protection and
  // logging stay at 4 KiB whatever --ept-leaf says; the split is the fault's own exit.
  /**
   * Protects every frame: logging starts.
   * @param memory the guest memory it watches
   * @param costs cost parameters
   * @param options leaf size (2 MiB leaves are split on their first logged write)
   */
  constructor(memory: GuestMemory, costs: TrackerCosts, options?: TrackerOptions) {
    super(memory, costs, options);
    const fr = memory.frames;
    for (let p = 0; p < fr.length; p++) fr[p] |= F_WP; // the profiler protects from the start
    this.charge(memory.pages);
  }
  /** A write to a protected frame traps. @param p frame @param write a write? @param vcpu who */
  onAccess(p: number, write: boolean, vcpu: number): void {
    this.touch(p);
    if (!write) return; // protection sees writes only
    const fr = this.m.frames;
    if ((fr[p] & F_WP) === 0) return; // unprotected: the write goes unseen
    fr[p] &= ~F_WP;
    this.exit("wpFault", this.c.wpFaultNs);
    this.trapped(p, vcpu);
  }
  /** A write that trapped: it is logged. */
  protected trapped(p: number, _vcpu: number): void {
    this.seen(p, true);
  }
  /** Reads the bitmap and flushes. @returns the host time */
  protected syncCost(): number {
    // GET_DIRTY_LOG: one bitmap word per 64 frames, and the re-protection's flush
    return this.charge(Math.ceil(this.m.pages / 64));
  }
  /** Re-protects the frame. @param p frame */
  protected rearm(p: number): void {
    this.m.frames[p] |= F_WP;
  }
  /** Re-protects the frames written in the interval. @param written those frames */
  protected profileScan(written: Uint32Array): void {
    // History from faults: re-protect every frame seen written, so its next write traps.
    for (let i = 0; i < written.length; i++) this.rearm(written[i]);
    this.charge(written.length);
  }
}

/**
 * The `wp` registry entry.
 *
 * @example Usage
 * ```ts
 * import { wp } from "./wp.ts";
 * import assert from "node:assert/strict";
 * assert.equal(wp.granule({ leafFrames: 512, flush: true }), 1); // splits 2 MiB leaves
 * ```
 */
export const wp: TrackerEntry = {
  description: "write protection: the first write to a frame after a clear is a VM exit",
  seesReads: false,
  granule: () => 1,
  validate: (_costs, o) => checkLeafFrames(o),
  create: (memory, costs, options) => new WpTracker(memory, costs, options),
};
