// Hostile: never returns from order() in round 1.
import { definePolicy } from "../../../../policy.ts";

export default definePolicy({
  meta: { name: "loop-in-order", description: "Loops forever in round 1.", defaults: {} },
  create: () => ({
    order(round) {
      // deno-lint-ignore no-empty
      if (round.index === 1) { for (;;) {} }
      return round.offered;
    },
  }),
});
