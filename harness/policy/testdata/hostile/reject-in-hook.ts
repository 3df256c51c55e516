// Hostile: leaves a rejected promise behind in order().
import { definePolicy } from "../../../../policy.ts";

export default definePolicy({
  meta: { name: "reject-in-hook", description: "Unhandled rejection in order().", defaults: {} },
  create: () => ({
    order(round) {
      Promise.reject(new Error("nobody listens"));
      return round.offered;
    },
    onRoundEnd() {},
  }),
});
