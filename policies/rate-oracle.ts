/**
 * `rate-oracle` — a bound, not a contender: it knows each frame's mean write rate over the
 * whole workload (but not when the writes happen) and sends the lowest rates first. It is
 * the best any predictor of "how hot is this frame" could do; the gap from a history
 * policy to it is prediction error, the gap from it to `oracle` is timing no rate can
 * foresee.
 *
 * @module
 */
import { definePolicy, orderByKey } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "rate-oracle",
    description: "Bound: lowest mean write rate (over the whole workload) first.",
    defaults: {},
    params: {},
    oracle: true,
  },
  create(_params, env) {
    return {
      order(round) {
        if (!env.rates) throw new Error("needs env.rates (oracle policies only)");
        return orderByKey(round.offered, env.rates);
      },
    };
  },
});
