/**
 * `oracle` — reads the future: within each round, every frame goes to the earliest send
 * slot after its last write before the round's estimated end, so that as many frames as
 * possible are clean at the next sync; frames that cannot be saved (written after every
 * free slot) fill the slots left over.
 *
 * Frames are taken in ascending order of that last write (never written first), each into
 * the earliest free slot that starts after it: since a frame's usable slots are all the
 * slots after its last write (nested suffixes), this greedy saves the most frames a round
 * can save (an exchange argument; docs/bounds.md). Sorting by last write alone, as this
 * file did before, puts a frame into a slot *before* its write whenever last writes
 * cluster late, as hot frames' do.
 *
 * Slots are spaced evenly over `[round.nowNs, round.endEstimateNs)` — exact unless the
 * offer holds zero pages, whose markers are shorter. The order is myopic: it saves the
 * most frames this round, not the best set for later rounds, so it is a future-informed
 * heuristic, not a bound; its declared bound is the one regime where the exhaustive test
 * and the argument hold (one pre-copy round, every offered frame sent).
 *
 * @module
 */
import { definePolicy, orderByKey } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "oracle",
    description: "Future-informed: each frame in the earliest slot after its last write.",
    defaults: {},
    params: {},
    oracle: true,
    bound: {
      quantity: "stopCopyPages",
      against: "permutations",
      regimes: [{
        maxRounds: 1,
        iteration: "drain",
        clear: "send",
        freeTracking: true,
        noZeroPages: true,
      }],
      proof: "docs/bounds.md, 'oracle'",
    },
  },
  create(_params, env) {
    return {
      order(round) {
        if (!env.future) throw new Error("needs env.future (oracle policies only)");
        const o = round.offered, n = o.length;
        if (n === 0) return o;
        const now = round.nowNs;
        const last = env.future.lastWrites(now, round.endEstimateNs);
        const slot = (round.endEstimateNs - now) / n;
        // never written in the round first (key -1), then by last write
        const byLast = orderByKey(o, last);
        const out = new Uint32Array(n);
        const taken = new Uint8Array(n);
        const lost: number[] = [];
        let next = 0; // earliest slot not yet taken by a saved frame (monotone: keys ascend)
        for (let i = 0; i < n; i++) {
          const p = byLast[i], t = last[p];
          // the first slot starting strictly after the write (a send captures t < start)
          const first = t < now ? 0 : Math.floor((t - now) / slot) + 1;
          const j = Math.max(next, first);
          if (j < n) {
            out[j] = p;
            taken[j] = 1;
            next = j + 1;
          } else lost.push(p);
        }
        lost.sort((a, b) => a - b);
        for (let j = 0, k = 0; j < n && k < lost.length; j++) {
          if (taken[j] === 0) out[j] = lost[k++];
        }
        return out;
      },
    };
  },
});
