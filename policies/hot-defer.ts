/**
 * `hot-defer` — the prior work the seed paper improves on: frames predicted to be
 * rewritten are withheld from pre-copy and sent only in stop-and-copy (e.g. Ma et al.
 * 2010's bitmap of frequently updated pages; Sharma & Chawla's TPO). Here a frame is hot
 * if it was written in at least `minWrites` of the last `window` profiling intervals.
 * Fewer resends, but the withheld frames lengthen downtime.
 *
 * @module
 */
import { definePolicy } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "hot-defer",
    description: "Withholds frames written in ≥ minWrites of the last window intervals.",
    defaults: { window: 8, minWrites: 4 },
    params: {
      window: { type: "integer", min: 1, max: 32 },
      minWrites: { type: "integer", min: 1, max: 32 },
    },
  },
  create(params, env) {
    return {
      order(round) {
        const counts = env.history.writeCounts(params.window);
        const o = round.offered;
        const out = new Uint32Array(o.length);
        let n = 0;
        for (let i = 0; i < o.length; i++) if (counts[o[i]] < params.minWrites) out[n++] = o[i];
        return out.subarray(0, n);
      },
    };
  },
});
