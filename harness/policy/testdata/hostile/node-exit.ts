// Hostile: ends its thread through the global `process` (Node's) from order().
import { definePolicy } from "../../../../policy.ts";

export default definePolicy({
  meta: { name: "node-exit", description: "process.exit(0) in order().", defaults: {} },
  create: () => ({
    order(round) {
      const p = (globalThis as { process?: { exit(code: number): void } }).process;
      if (round.index === 1) p?.exit(0);
      return round.offered;
    },
  }),
});
