// Hostile: scribbles over everything it is handed, then returns the offer sorted descending.
import { definePolicy } from "../../../../policy.ts";

export default definePolicy({
  meta: { name: "mutate-inputs", description: "Mutates its inputs.", defaults: {} },
  create: (_p, env) => ({
    order(round) {
      env.history.written().fill(0xffffffff);
      env.history.writeCounts().fill(99);
      (round.offered as Uint32Array).sort((a, b) => b - a);
      return round.offered;
    },
    onScan(scan) {
      scan.written.fill(0);
      scan.accessed.fill(0);
    },
  }),
});
