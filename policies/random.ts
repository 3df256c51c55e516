/**
 * `random` — a seeded random permutation of the offered frames every round: the
 * order-agnostic baseline. Any policy worth its file should beat it; under `clear=round`
 * nothing permutation-only can, on average (see docs/model.md, clear modes).
 *
 * @module
 */
import { createRng, definePolicy, shuffle } from "../policy.ts";

export default definePolicy({
  meta: {
    name: "random",
    description: "A seeded random permutation of the offered frames.",
    defaults: {},
    params: {},
  },
  create(_params, env) {
    const rng = createRng(env.seed ^ 0x5eed);
    return { order: (round) => shuffle(round.offered.slice(), rng) };
  },
});
