/**
 * `sequential` — QEMU's order. QEMU's sender walks the migration bitmap in ascending
 * address order and resumes each pass where the previous one stopped (`last_seen_block`,
 * `last_page` in `migration/ram.c`), wrapping around. With the `drain` rule every round
 * ends at the top of memory, so each round is plain address order; with QEMU's own
 * re-sync rule the cursor matters.
 *
 * @module
 */
import { definePolicy } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "sequential",
    description: "QEMU's address order, resuming after the last frame sent.",
    defaults: {},
    params: {},
  },
  create() {
    let cursor = -1; // last frame sent
    return {
      order(round) {
        const o = round.offered;
        // First offered frame above the cursor (binary search: offered is ascending).
        let lo = 0, hi = o.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (o[mid] <= cursor) lo = mid + 1;
          else hi = mid;
        }
        if (lo === 0 || lo === o.length) return o; // nothing to rotate
        const out = new Uint32Array(o.length);
        out.set(o.subarray(lo), 0);
        out.set(o.subarray(0, lo), o.length - lo);
        return out;
      },
      onRoundEnd(stats) {
        if (stats.lastSent >= 0) cursor = stats.lastSent;
      },
    };
  },
});
