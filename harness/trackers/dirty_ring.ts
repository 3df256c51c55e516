/**
 * `dirty-ring`: KVM's per-vCPU dirty rings, over write-protection. Each first write after
 * a reset traps (as with `wp`) and is pushed to the writing vCPU's ring; a ring that
 * reaches its soft limit (size − 64 reserved entries) is one more exit, for userspace to
 * harvest it; a sync harvests every ring and resets (re-protects) what it harvested.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import {
  checkLeafFrames,
  drain,
  type TrackerCosts,
  type TrackerEntry,
  type TrackerOptions,
} from "./base.ts";
import { WpTracker } from "./wp.ts";

/**
 * Entries per ring KVM accepts: a power of two, at least one 4 KiB page of 16-byte
 * entries (256) and at most `KVM_DIRTY_RING_MAX_ENTRIES` (65 536).
 *
 * @example Usage
 * ```ts
 * import { RING_ENTRIES } from "./dirty_ring.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(RING_ENTRIES, { min: 256, max: 65536 });
 * ```
 */
export const RING_ENTRIES: Readonly<{ min: number; max: number }> = Object.freeze({
  min: 256,
  max: 65536,
});

/** Ring entries KVM keeps in reserve: the soft limit is the size less these. */
const RESERVED_ENTRIES = 64;

/** KVM's dirty ring, over write-protection. */
class DirtyRingTracker extends WpTracker {
  override readonly kind = "dirty-ring";
  readonly #fill: Uint32Array;
  readonly #soft: number;
  constructor(memory: GuestMemory, costs: TrackerCosts, options?: TrackerOptions) {
    super(memory, costs, options);
    this.#fill = new Uint32Array(this.o.vcpus);
    this.#soft = costs.ringEntries - RESERVED_ENTRIES;
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

/**
 * The `dirty-ring` registry entry.
 *
 * @example Usage
 * ```ts
 * import { dirtyRing } from "./dirty_ring.ts";
 * import { DEFAULT_TRACKER_COSTS, DEFAULT_TRACKER_OPTIONS } from "./base.ts";
 * import assert from "node:assert/strict";
 * const costs = { ...DEFAULT_TRACKER_COSTS, ringEntries: 1000 };
 * assert.throws(() => dirtyRing.validate(costs, DEFAULT_TRACKER_OPTIONS), /power of two/);
 * ```
 */
export const dirtyRing: TrackerEntry = {
  description: "KVM dirty ring: write protection, and an exit when a vCPU's ring is nearly full",
  seesReads: false,
  granule: () => 1,
  validate(costs, o) {
    checkLeafFrames(o);
    const n = costs.ringEntries, { min, max } = RING_ENTRIES;
    if (!(Number.isInteger(n) && n >= min && n <= max && (n & (n - 1)) === 0)) {
      throw new PrecopyError(
        "config",
        `ringEntries: ${n} is not a power of two from ${min} to ${max} (--ring-entries)`,
      );
    }
  },
  create: (memory, costs, options) => new DirtyRingTracker(memory, costs, options),
};
