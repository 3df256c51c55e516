// Hostile: ends the process from order().
import { definePolicy } from "../../../../policy.ts";

export default definePolicy({
  meta: { name: "exit-in-hook", description: "Deno.exit(0) in order().", defaults: {} },
  create: () => ({
    order(round) {
      try {
        Deno.exit(0);
      } catch { /* pretend nothing happened */ }
      return round.offered;
    },
  }),
});
