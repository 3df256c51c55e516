/**
 * precopy-lab: which page-transfer order makes pre-copy live migration fastest?
 *
 * A harness drives ordering policies — one file each in `policies/`, one small contract —
 * against a model of the guest's page table with Intel EPT accessed/dirty semantics, fed
 * by seeded workload generators or traces, and reports downtime, resends, pages sent and
 * migration time.
 *
 * @example Run one migration
 * ```ts
 * import { loadPolicy, parseWorkload, simulate } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const report = simulate({
 *   workload: parseWorkload("hotcold:rate=2k"),
 *   policy: await loadPolicy("staged-history"),
 *   config: { pages: 4096, bandwidth: 64 * 1024 * 1024 },
 * });
 * assert.ok(report.downtimeNs > 0);
 * assert.equal(report.resends, report.necessaryResends + report.redundantResends);
 * ```
 *
 * @example A complete policy file
 * ```ts
 * import { definePolicy } from "./mod.ts";
 *
 * export default definePolicy({
 *   meta: {
 *     name: "lowest-rate-first",
 *     description: "Frames written least often in the recent history go first.",
 *     defaults: { window: 8 },
 *     params: { window: { type: "integer", min: 1, max: 32 } },
 *   },
 *   create(params, env) {
 *     return {
 *       order(round) {
 *         const w = env.history.writeCounts(params.window);
 *         return round.offered.slice().sort((a, b) => w[a] - w[b] || a - b);
 *       },
 *     };
 *   },
 * });
 * ```
 *
 * @module
 */

export {
  type ClearMode,
  CONFIG_ITEMS,
  type ConfigFlag,
  configFromFlags,
  type ConfigInput,
  type ConfigItem,
  type ConfigValue,
  DEFAULT_CONFIG,
  type FlagSyntax,
  type FlagValues,
  type IterationRule,
  type MigrationConfig,
  parseClear,
  resolveConfig,
} from "./harness/config.ts";
export { type Progress, simulate, type SimulationInput } from "./harness/engine/engine.ts";
export { type RoundRow, type RunReport } from "./harness/engine/run_report.ts";
export {
  type AutoConverge,
  decideSwitchover,
  type RoundEnd,
  startAutoConverge,
  stepAutoConverge,
  type SwitchoverReason,
  type SwitchoverRule,
  switchoverRule,
  thresholdBytes,
} from "./harness/engine/switchover.ts";
export { PrecopyError, type PrecopyErrorKind } from "./harness/errors.ts";
export {
  type Floor,
  type FloorInput,
  type PolicyRole,
  policyRole,
  type RunFacts,
  stopCopyFloor,
} from "./harness/bounds.ts";
export { createFuture, writeRates } from "./harness/workloads/future.ts";
export { type HistoryView, UpdateHistory } from "./harness/history.ts";
export {
  type BatchView,
  type BoundDeclaration,
  type BoundQuantity,
  type BoundRegime,
  definePolicy,
  type FutureView,
  type LoadedPolicy,
  orderByKey,
  type Params,
  type ParamSpec,
  type ParamValue,
  type Policy,
  type PolicyDefinition,
  type PolicyEnv,
  type PolicyMeta,
  type PolicySandbox,
  type RoundStats,
  type RoundView,
  type ScanView,
} from "./harness/policy/contract.ts";
export {
  type BrokenPolicy,
  checkPolicyModule,
  type LoadOptions,
  loadPolicies,
  loadPolicy,
  POLICIES_DIR,
  type PolicyScan,
  resolveParams,
  scanPolicies,
} from "./harness/policy/loader.ts";
export { DEFAULT_POLICY_TIMEOUT_MS } from "./harness/policy/sandbox.ts";
export {
  formatReport,
  formatTable,
  REPORT_COLUMNS,
  reportCsv,
  reportRow,
  toCsv,
} from "./harness/report/report.ts";
export {
  type Crossover,
  type CrossoverInput,
  findCrossover,
  type ProfilingCost,
  profilingCost,
  type ScalableCost,
} from "./harness/report/crossover.ts";
export { createRng, mixSeed, type Rng, shuffle } from "./harness/rng.ts";
export {
  createTracker,
  DEFAULT_TRACKER,
  DEFAULT_TRACKER_COSTS,
  type DirtyTracker,
  type ProfileResult,
  type SyncResult,
  TRACKER_KINDS,
  type TrackerCosts,
  type TrackerEntry,
  type TrackerOptions,
  TRACKERS,
  type TrackerStats,
} from "./harness/trackers/tracker.ts";
export {
  formatBytes,
  formatDuration,
  parseBandwidth,
  parseCount,
  parseDuration,
  parseInteger,
  parseShare,
  parseSize,
} from "./harness/units.ts";
export {
  type AccessChunk,
  type AccessStream,
  describeGenerators,
  GENERATOR_NAMES,
  mergeStreams,
  OP_READ,
  OP_WRITE,
  parseGenerator,
  type ScriptedAccess,
  scriptedWorkload,
  type Workload,
} from "./harness/workloads/workload.ts";
export { parseWorkload } from "./harness/workloads/spec.ts";
export { FrameList, GuestMemory } from "./harness/memory.ts";
export {
  type Analysis,
  analyzeWorkload,
  type Prediction,
  predictPrecopy,
  workingSetAt,
  type WorkingSetPoint,
} from "./harness/workloads/analyze.ts";
export {
  fitCurve,
  type FitModel,
  modelWorkingSet,
  parseFit,
  type RateClass,
} from "./harness/workloads/fit.ts";
export { type Provenance, record, type RecordOptions } from "./harness/record/record.ts";
export {
  BLOCK_EVENTS,
  exportTrace,
  importTrace,
  isTraceSpec,
  openTrace,
  readTraceHeader,
  splitTraceSpec,
  TRACE_COMPRESSED,
  TRACE_OPTIONS,
  TRACE_READS,
  TRACE_VCPU,
  type TraceHeader,
  type TraceOption,
  type TraceSpec,
  type TraceWorkload,
  TraceWriter,
} from "./harness/trace/trace.ts";
