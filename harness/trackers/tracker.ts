/**
 * The tracker registry: every dirty-tracking mechanism by its `--tracker` name, and
 * {@link createTracker}, which validates a mechanism's options and builds it. The kind
 * list ({@link TRACKER_KINDS}) is the registry's keys, so the CLI, the bench and the
 * suites all see the same trackers.
 *
 * Mechanisms, one file each:
 *
 * - `ept-ad` (ept_ad.ts) — the seed paper's: no VM exits; a scan walks every EPT leaf,
 *   reads and clears the accessed/dirty bits, then invalidates cached translations.
 * - `wp` (wp.ts) — write-protection dirty logging: the first write to a protected frame
 *   is a VM exit; reads are invisible.
 * - `pml` (pml.ts) — page-modification logging: D-bit transitions fill a 512-entry buffer
 *   per vCPU; a full buffer is a VM exit.
 * - `dirty-ring` (dirty_ring.ts) — KVM's per-vCPU rings over write protection; a ring at
 *   its soft limit is one more exit.
 *
 * Adding a mechanism: a file exporting a {@link TrackerEntry}, one line in
 * {@link TRACKERS}; `conformance_test.ts` then holds it to the contract with no test
 * written. `docs/trackers.md` has the model, the costs and the guide.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import type { GuestMemory } from "../memory.ts";
import {
  DEFAULT_TRACKER_COSTS,
  DEFAULT_TRACKER_OPTIONS,
  type DirtyTracker,
  type TrackerCosts,
  type TrackerEntry,
  type TrackerOptions,
} from "./base.ts";
import { dirtyRing } from "./dirty_ring.ts";
import { eptAd } from "./ept_ad.ts";
import { pml } from "./pml.ts";
import { wp } from "./wp.ts";

export {
  DEFAULT_TRACKER_COSTS,
  DEFAULT_TRACKER_OPTIONS,
  type DirtyTracker,
  type ProfileResult,
  type SyncResult,
  type TrackerCosts,
  type TrackerEntry,
  type TrackerOptions,
  type TrackerStats,
} from "./base.ts";

/**
 * Every tracker, by `--tracker` name, in the order lists and the bench show them.
 *
 * @example Usage
 * ```ts
 * import { TRACKERS } from "./tracker.ts";
 * import assert from "node:assert/strict";
 * assert.equal(TRACKERS["pml"].granule({ leafFrames: 512, flush: true }), 512);
 * for (const [kind, entry] of Object.entries(TRACKERS)) {
 *   assert.ok(entry.description.length > 0, kind);
 * }
 * ```
 */
export const TRACKERS: Readonly<Record<string, TrackerEntry>> = Object.freeze({
  "ept-ad": eptAd,
  wp,
  pml,
  "dirty-ring": dirtyRing,
});

/**
 * The tracker a migration uses unless told otherwise: the seed paper's profiler.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_TRACKER, TRACKERS } from "./tracker.ts";
 * import assert from "node:assert/strict";
 * assert.ok(DEFAULT_TRACKER in TRACKERS);
 * ```
 */
export const DEFAULT_TRACKER = "ept-ad";

/**
 * Tracker kinds that exist in this build: the names in {@link TRACKERS}.
 *
 * @example Usage
 * ```ts
 * import { TRACKER_KINDS } from "./tracker.ts";
 * import assert from "node:assert/strict";
 * assert.ok(TRACKER_KINDS.includes("ept-ad"));
 * ```
 */
export const TRACKER_KINDS: readonly string[] = Object.freeze(Object.keys(TRACKERS));

/**
 * Creates a tracker over a guest memory, after its registry entry accepted the costs and
 * options.
 *
 * @param kind a name from {@link TRACKER_KINDS}
 * @param memory the guest memory it watches
 * @param costs cost parameters (defaults: {@link DEFAULT_TRACKER_COSTS})
 * @param options leaf size, flushing, vCPUs (defaults: 4 KiB leaves, flushed, one vCPU)
 * @param registry where `kind` is looked up (default {@link TRACKERS}; tests pass their own)
 * @returns the tracker
 * @throws {PrecopyError} for an unknown kind, or costs and options it does not model
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
  options: TrackerOptions = DEFAULT_TRACKER_OPTIONS,
  registry: Readonly<Record<string, TrackerEntry>> = TRACKERS,
): DirtyTracker {
  const entry = Object.hasOwn(registry, kind) ? registry[kind] : undefined;
  if (entry === undefined) {
    throw new PrecopyError(
      "config",
      `--tracker: '${kind}' is not available; available: ${Object.keys(registry).join(", ")}`,
    );
  }
  if (!options.flush && !entry.noFlush) {
    const modelled = Object.keys(registry).filter((k) => registry[k].noFlush);
    throw new PrecopyError(
      "config",
      modelled.length === 0
        ? "--no-flush is not modelled by any tracker"
        : `--no-flush is modelled for --tracker ${modelled.join(", ")} only, not ${kind}`,
    );
  }
  // Deprecated: vCPUs used to be a cost parameter; honoured when the options do not say.
  const legacy = (costs as { vcpus?: number }).vcpus;
  const opts = { ...DEFAULT_TRACKER_OPTIONS, ...options };
  if (options.vcpus === undefined && legacy !== undefined) opts.vcpus = legacy;
  entry.validate(costs, opts);
  return entry.create(memory, costs, opts);
}
