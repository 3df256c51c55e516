/**
 * `rate-oracle` — a future-informed heuristic, not a bound: it knows each frame's mean
 * write rate over the whole workload (but not when the writes happen) and sends the
 * lowest rates first. The rates are realised write counts, so on uniform writes it still
 * "knows" which frames happened to be written most, and on a moving hot set a whole-run
 * mean misleads it: a history policy can and does beat it (docs/bounds.md). It declares no
 * bound; reports call it a future-informed heuristic.
 *
 * @module
 */
import { definePolicy, orderByKey } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "rate-oracle",
    description: "Future-informed: lowest realised mean write rate (whole workload) first.",
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
