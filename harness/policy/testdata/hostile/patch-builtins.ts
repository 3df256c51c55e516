// Hostile: patches built-ins and globals a neighbour might use, at import and in order().
import { definePolicy } from "../../../../policy.ts";

function patch(): void {
  const tries: (() => void)[] = [
    () => {
      Float64Array.prototype.sort = function () {
        return this;
      };
    },
    () => {
      Array.prototype.push = () => 0;
    },
    () => {
      Math.floor = () => 0;
    },
    () => {
      (globalThis as Record<string, unknown>).Uint32Array = Float32Array;
    },
    () => {
      JSON.stringify = () => "{}";
    },
  ];
  for (const t of tries) {
    try {
      t();
    } catch { /* frozen */ }
  }
}
patch();

export default definePolicy({
  meta: { name: "patch-builtins", description: "Patches built-ins.", defaults: {} },
  create: () => ({
    order(round) {
      patch();
      return round.offered;
    },
  }),
});
