/**
 * `ept-ad`: the seed paper's profiler as a dirty tracker. The hardware sets a leaf's
 * accessed/dirty bits on the first access after they were cleared; no VM exits. A scan
 * (each sync and each profiling interval) walks every EPT leaf, reads and clears the bits,
 * then invalidates cached translations (INVEPT) so cleared bits are set again.
 *
 * How it is simulated: while every clear is followed by a flush (the default), a leaf's
 * A/D bits are set by the first access after the last scan and harvested by the next
 * scan, so "harvested by the next scan" and "recorded at the access, attributed to the
 * interval the next scan closes" give identical logs and histories. The simulator records
 * at the access — one cache line per access instead of a second visit per scan — and
 * still charges every scan as a walk of all leaves plus a flush. With `flush: false`
 * (`--no-flush`) the D bits and each vCPU's cached translations are kept explicitly, so
 * writes through a translation cached with D=1 go missing.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { FrameList, type GuestMemory } from "../memory.ts";
import {
  BaseTracker,
  checkLeafFrames,
  type TrackerCosts,
  type TrackerEntry,
  type TrackerOptions,
} from "./base.ts";

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
    if (this.leafD !== null) {
      this.touch(p);
      return this.#leafAccess(p, write);
    }
    if (this.#memD === null) {
      this.touch(p);
      return this.seen(p, write);
    }
    // (without flushes no translation is dropped: nothing is walked again)
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

/** vCPUs whose cached translations `--no-flush` models: one bit each in a byte. */
const NO_FLUSH_MAX_VCPUS = 8;

/**
 * The `ept-ad` registry entry.
 *
 * @example Usage
 * ```ts
 * import { eptAd } from "./ept_ad.ts";
 * import { DEFAULT_TRACKER_COSTS } from "./base.ts";
 * import { GuestMemory } from "../memory.ts";
 * import assert from "node:assert/strict";
 * const t = eptAd.create(new GuestMemory(8, null), DEFAULT_TRACKER_COSTS, {
 *   leafFrames: 1,
 *   flush: true,
 * });
 * t.onAccess(2, true, 0);
 * assert.deepEqual([...t.sync().newly], [2]);
 * assert.equal(t.stats.exits, 0); // the hardware sets the bits: no exits
 * ```
 */
export const eptAd: TrackerEntry = {
  description: "EPT accessed/dirty bits: no exits; each scan walks every leaf, then INVEPT",
  noFlush: true,
  seesReads: true,
  granule: (o) => o.leafFrames,
  validate(_costs, o) {
    checkLeafFrames(o);
    if (o.flush) return;
    if (o.leafFrames > 1) {
      throw new PrecopyError("config", "--no-flush is modelled with 4 KiB leaves only");
    }
    if ((o.vcpus ?? 1) > NO_FLUSH_MAX_VCPUS) {
      throw new PrecopyError(
        "config",
        `--no-flush models the TLBs of at most ${NO_FLUSH_MAX_VCPUS} vCPUs`,
      );
    }
  },
  create: (memory, costs, options) => new EptAdTracker(memory, costs, options),
};
