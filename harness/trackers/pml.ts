/**
 * `pml`: Intel page-modification logging. A D-bit 0→1 transition appends the frame to the
 * writing vCPU's log buffer (512 entries on Intel's processors: `pmlEntries`), and a full
 * buffer is a VM exit that drains it; a
 * clear resets the D bit. With 2 MiB leaves one D bit covers 512 frames, so one write logs
 * them all.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { F_DBIT, type GuestMemory } from "../memory.ts";
import {
  BaseTracker,
  checkLeafFrames,
  drain,
  type TrackerCosts,
  type TrackerEntry,
  type TrackerOptions,
} from "./base.ts";

/**
 * The most PML buffer entries modelled (Intel's buffer holds 512; the PML index is a
 * 16-bit field, so a larger buffer is a what-if, not hardware).
 *
 * @example Usage
 * ```ts
 * import { PML_MAX_ENTRIES } from "./pml.ts";
 * import assert from "node:assert/strict";
 * assert.equal(PML_MAX_ENTRIES, 65536);
 * ```
 */
export const PML_MAX_ENTRIES = 65536;

/** Page-modification logging. */
class PmlTracker extends BaseTracker {
  readonly kind = "pml";
  readonly #fill: Uint32Array;
  readonly #size: number;
  constructor(memory: GuestMemory, costs: TrackerCosts, options?: TrackerOptions) {
    super(memory, costs, options);
    this.#fill = new Uint32Array(this.o.vcpus);
    this.#size = costs.pmlEntries;
  }
  onAccess(p: number, write: boolean, vcpu: number): void {
    this.touch(p);
    if (!write) return; // PML logs D-bit transitions only
    const fr = this.m.frames, leaf = this.o.leafFrames;
    const head = leaf > 1 ? p - (p % leaf) : p; // a 2 MiB leaf's D bit sits on its first frame
    if ((fr[head] & F_DBIT) !== 0) return; // D already set: nothing is logged
    fr[head] |= F_DBIT;
    if (leaf > 1) this.seenLeaf(head, true);
    else this.seen(p, true);
    if (++this.#fill[vcpu] === this.#size) { // the buffer is full: a VM exit drains it
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
 * The `pml` registry entry.
 *
 * @example Usage
 * ```ts
 * import { pml } from "./pml.ts";
 * import assert from "node:assert/strict";
 * assert.equal(pml.granule({ leafFrames: 512, flush: true }), 512); // one D bit per leaf
 * ```
 */
export const pml: TrackerEntry = {
  description: "page-modification logging: D-bit transitions logged, an exit per 512",
  seesReads: false,
  granule: (o) => o.leafFrames,
  validate(costs, o) {
    checkLeafFrames(o);
    const n = costs.pmlEntries;
    if (!(Number.isInteger(n) && n >= 1 && n <= PML_MAX_ENTRIES)) {
      throw new PrecopyError(
        "config",
        `pmlEntries: ${n} is not a whole number from 1 to ${PML_MAX_ENTRIES} (--pml-entries)`,
      );
    }
  },
  create: (memory, costs, options) => new PmlTracker(memory, costs, options),
};
