/**
 * `staged-history` — the seed paper (Nakai et al., IPSJ Journal 56(2), 2015): each frame
 * is put into one of `stages` priority stages by its update history, and every round sends
 * the coldest stage first and the hottest last, in address order within a stage. The order
 * withholds nothing itself; whether the hottest stage is sent before the switchover
 * depends on what ends a round.
 *
 * Under `iteration=drain` every round sends every offered frame, so the total sent does not
 * grow while hot frames get the least time to be re-dirtied before the next sync. Under
 * `iteration=qemu` a round re-syncs once the pending bytes fall to the threshold, and the
 * unsent tail carries over (`round.carried`). With the hottest stage last, that tail *is*
 * the hottest stage, and without care it is carried again and again — withheld, as the
 * prior work the paper improves on withheld it. `tail` chooses what to do with it:
 * `keep` stages carried frames like any other (the behaviour before `carried` existed);
 * `first` (default) sends them before every stage; `age` moves a carried frame one stage
 * colder for each round in a row it was carried. `first` is the default because it is the
 * only one of the three that does not withhold: on the measured QEMU-rule cases it needs
 * the fewest rounds and pages (docs/bounds.md), while `age` moves the tail too slowly to
 * leave the tail (it does worse than `keep` there). Under `iteration=drain` nothing is
 * carried and the three give the same order.
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
    description: "The paper's: stages from write history, cold stages first; tail=keep|first|age.",
    defaults: { stages: 4, window: 8, rule: "count", tail: "first" },
    params: {
      stages: { type: "integer", min: 1, max: 255 },
      window: { type: "integer", min: 1, max: 32 },
      rule: { type: "choice", choices: ["count", "recency"] },
      tail: { type: "choice", choices: ["keep", "first", "age"] },
    },
  },
  create(params, env) {
    const stages = Math.max(1, Math.floor(params.stages));
    if (params.rule !== "count" && params.rule !== "recency") {
      throw new Error(`rule must be count or recency, not '${params.rule}'`);
    }
    const tail = params.tail;
    if (tail !== "keep" && tail !== "first" && tail !== "age") {
      throw new Error(`tail must be keep, first or age, not '${tail}'`);
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
    // tail=age: rounds in a row a frame has been carried, and the last round it was.
    const streak = tail === "age" ? new Uint32Array(env.frames) : null;
    const carriedIn = tail === "age" ? new Uint32Array(env.frames) : null;
    // Buckets: with tail=first, bucket 0 holds the carried frames and stage s is bucket s+1.
    const buckets = stages + (tail === "first" ? 1 : 0);
    const starts = new Uint32Array(buckets + 1);
    let bucketOf = new Uint8Array(0);
    return {
      order(round) {
        const key = params.rule === "count"
          ? env.history.writeCounts(window)
          : env.history.lastWrite();
        const o = round.offered, carried = round.carried;
        if (bucketOf.length < o.length) bucketOf = new Uint8Array(o.length * 2);
        // carried ⊆ offered, both ascending: one merge walk marks them.
        for (let i = 0, j = 0; i < o.length; i++) {
          const p = o[i];
          let b = stageOf[key[p]];
          const isCarried = j < carried.length && carried[j] === p;
          if (isCarried) j++;
          if (tail === "first") b = isCarried ? 0 : b + 1;
          else if (tail === "age" && isCarried) {
            const s = carriedIn![p] === round.index - 1 ? streak![p] + 1 : 1;
            streak![p] = s;
            carriedIn![p] = round.index;
            b = b > s ? b - s : 0;
          }
          bucketOf[i] = b;
        }
        // Counting sort by bucket keeps address order within a stage.
        starts.fill(0);
        for (let i = 0; i < o.length; i++) starts[bucketOf[i] + 1]++;
        for (let s = 0; s < buckets; s++) starts[s + 1] += starts[s];
        const out = new Uint32Array(o.length);
        for (let i = 0; i < o.length; i++) out[starts[bucketOf[i]]++] = o[i];
        return out;
      },
    };
  },
});
