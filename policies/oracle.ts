/**
 * `oracle` — a bound, not a contender: it reads the future trace and, within each round,
 * sends frames in ascending order of their last write before the round's estimated end
 * (frames not written in the round first). A frame whose last write comes early can be
 * sent early and stay clean. It uses `round.endEstimateNs`, the end if every offered frame
 * is sent.
 *
 * @module
 */
import { definePolicy, orderByKey } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "oracle",
    description: "Bound: ascending order of each frame's last write before the round ends.",
    defaults: {},
    params: {},
    oracle: true,
  },
  create(_params, env) {
    return {
      order(round) {
        if (!env.future) throw new Error("needs env.future (oracle policies only)");
        const last = env.future.lastWrites(round.nowNs, round.endEstimateNs);
        return orderByKey(round.offered, last);
      },
    };
  },
});
