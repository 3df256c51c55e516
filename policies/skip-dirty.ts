/**
 * `skip-dirty` — Xen's `to_skip` (legacy `xc_domain_save.c`): before each batch of pages
 * the sender peeks at the live dirty bitmap, and a page already re-dirtied during this
 * round is skipped — it would be resent next round anyway. Address order otherwise.
 *
 * @module
 */
import { definePolicy } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "skip-dirty",
    description: "Address order; frames re-dirtied during this round are left for the next.",
    defaults: {},
    params: {},
  },
  create() {
    return {
      order: (round) => round.offered.slice(),
      filter(batch) {
        const { frames, keep, dirtied } = batch;
        for (let i = 0; i < frames.length; i++) if (dirtied[frames[i]] !== 0) keep[i] = 0;
      },
    };
  },
});
