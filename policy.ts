/**
 * The entry point for policy authors: the contract, {@link definePolicy}, and the helpers a
 * policy may use. It loads nothing else of the harness (no engine, trace codec, analyzer
 * or recorder), so a policy file stays small to import.
 *
 * @example A policy that sends the highest frame first
 * ```ts
 * import { definePolicy } from "./policy.ts";
 * import assert from "node:assert/strict";
 * const reverse = definePolicy({
 *   meta: { name: "reverse", description: "Highest frame first.", defaults: {} },
 *   create: () => ({ order: (round) => round.offered.slice().reverse() }),
 * });
 * assert.equal(reverse.meta.name, "reverse");
 * ```
 *
 * @module
 */

export {
  type BatchView,
  type BoundDeclaration,
  type BoundQuantity,
  type BoundRegime,
  definePolicy,
  type FutureView,
  orderByKey,
  type Params,
  type ParamSpec,
  type ParamValue,
  type Policy,
  type PolicyDefinition,
  type PolicyEnv,
  type PolicyMeta,
  type RoundStats,
  type RoundView,
  type ScanView,
} from "./harness/policy/contract.ts";
export type { HistoryView } from "./harness/history.ts";
export { createRng, type Rng, shuffle } from "./harness/rng.ts";
