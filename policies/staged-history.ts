/**
 * `staged-history` — the seed paper (Nakai et al., IPSJ Journal 56(2), 2015): each frame
 * is put into one of `stages` priority stages by its update history, and every round sends
 * the coldest stage first and the hottest last, in address order within a stage. Nothing
 * is withheld, so the total sent does not grow while hot frames get the least time to be
 * re-dirtied before the next sync.
 *
 * The paper's stage count, history length and stage rule are not available to us; these
 * are our parameters. `rule=count` (default) stages by how many of the last `window`
 * intervals wrote the frame: stage = ⌊count × stages / (window + 1)⌋. `rule=recency`
 * stages by how recently it was written: never within the history is coldest, last
 * interval hottest.
 *
 * @module
 */
import { definePolicy } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "staged-history",
    description: "The paper's: stages from write history, cold stages first, nothing withheld.",
    defaults: { stages: 4, window: 8, rule: "count" },
    params: {
      stages: { type: "integer", min: 1, max: 255 },
      window: { type: "integer", min: 1, max: 32 },
      rule: { type: "choice", choices: ["count", "recency"] },
    },
  },
  create(params, env) {
    const stages = Math.max(1, Math.floor(params.stages));
    if (params.rule !== "count" && params.rule !== "recency") {
      throw new Error(`rule must be count or recency, not '${params.rule}'`);
    }
    const window = Math.max(1, Math.min(env.history.length, Math.floor(params.window)));
    const stageOf = new Uint8Array(256);
    if (params.rule === "count") {
      for (let c = 0; c <= window; c++) stageOf[c] = Math.floor((c * stages) / (window + 1));
    } else {
      // lastWrite: 0 = most recent interval … window-1; 255 = not within the history.
      for (let a = 0; a < 256; a++) {
        stageOf[a] = a >= window ? 0 : stages - 1 - Math.floor((a * stages) / window);
      }
    }
    return {
      order(round) {
        const key = params.rule === "count"
          ? env.history.writeCounts(window)
          : env.history.lastWrite();
        const o = round.offered;
        // Counting sort by stage keeps address order within a stage.
        const starts = new Uint32Array(stages + 1);
        for (let i = 0; i < o.length; i++) starts[stageOf[key[o[i]]] + 1]++;
        for (let s = 0; s < stages; s++) starts[s + 1] += starts[s];
        const out = new Uint32Array(o.length);
        for (let i = 0; i < o.length; i++) out[starts[stageOf[key[o[i]]]]++] = o[i];
        return out;
      },
    };
  },
});
