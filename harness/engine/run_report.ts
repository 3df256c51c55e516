/**
 * The report of a run: its shape ({@link RunReport}, {@link RoundRow}), its assembly from
 * the engine's totals, and the split of the tracker's costs between the profiling before
 * migration and the migration itself.
 *
 * @module
 */

import { type PolicyRole, policyRole } from "../bounds.ts";
import type { MigrationConfig } from "../config.ts";
import type { LoadedPolicy, Params } from "../policy/contract.ts";
import type { TrackerStats } from "../trackers/tracker.ts";
import type { SwitchoverReason } from "./switchover.ts";

/** One pre-copy round of a report. */
export interface RoundRow {
  /** Round number, from 1. */
  round: number;
  /** Start, ns after the migration began. */
  startNs: number;
  /** Sending time plus the closing sync, ns. */
  durationNs: number;
  /** Frames offered to the policy. */
  offered: number;
  /** Frames sent (zero markers included). */
  sent: number;
  /** Offered frames not sent in the round (deferred by the policy or carried over). */
  deferred: number;
  /** Frames the closing sync found dirty. */
  dirtyAtSync: number;
  /** Wire bytes sent in the round. */
  bytes: number;
}

/** The result of one run. Field meanings: docs/model.md, "The report". */
export interface RunReport {
  /**
   * The policy that ran. `oracle`: it read the future. `role`: `bound` only where its
   * declared bound covers this run, `future-informed heuristic` for any other policy that
   * reads the future, else `contender` (docs/bounds.md).
   */
  policy: { name: string; file: string; params: Params; oracle: boolean; role: PolicyRole };
  /** The workload and seed. */
  workload: { name: string; seed: number };
  /** The full configuration. */
  config: MigrationConfig;
  /** Migration start to guest resume, ns (QEMU total-time). */
  totalTimeNs: number;
  /** Guest paused, ns: final sync + last transfer + pause/resume (QEMU downtime). */
  downtimeNs: number;
  /** Pre-copy rounds (stop-and-copy not counted). */
  rounds: number;
  /** Dirty-log syncs: setup, one per round, final (QEMU dirty-sync-count). */
  syncs: number;
  /** What triggered the switchover. */
  switchover: SwitchoverReason;
  /** Every send, zero markers included. */
  pagesSent: number;
  /** Full pages sent (QEMU normal). */
  normalPagesSent: number;
  /** Zero-page markers sent (QEMU duplicate). */
  zeroPagesSent: number;
  /** Wire bytes, device state included (QEMU transferred). */
  bytesSent: number;
  /** Frames sent at least once. */
  uniquePagesSent: number;
  /** Sends of a frame already sent before. */
  resends: number;
  /** Resends of frames written after their previous send. */
  necessaryResends: number;
  /** Resends of frames not written since their previous send. */
  redundantResends: number;
  /** Frames sent while the guest was paused. */
  stopCopyPages: number;
  /** Sends whose content the guest overwrote before the end. */
  wastedSends: number;
  /** Guest writes between migration start and pause. */
  guestWrites: number;
  /** Guest reads between migration start and pause. */
  guestReads: number;
  /** Tracking costs during the migration (from its start to the guest's resume). */
  tracker: TrackerStats & { slowdownPct: number };
  /** Tracking costs while the profiler ran before migration (`startNs` long). */
  profiling: TrackerStats & { slowdownPct: number };
  /** Per pre-copy round. */
  perRound: RoundRow[];
  /** Writes the tracker never saw (clears without a flush; see `--no-flush`). */
  missedUpdates: number;
  /** Auto-converge: whether it was on, the final throttle (% of vCPU time taken), steps. */
  autoConverge: { enabled: boolean; throttlePct: number; steps: number };
  /** Frames whose destination copy differs from the source at the end. */
  mismatchedFrames: number;
  /**
   * Every frame's destination copy equals its source copy. A run that fails verification
   * throws, unless `verify: "count"` asked to report it here (then `false`).
   */
  verified: boolean;
  /**
   * What the reader should know before trusting the numbers, one sentence each, in the
   * order they arose; always present, empty for most runs: a profiling scan longer than its
   * interval, tracking above one host CPU, a trace that ends before the migration starts or
   * before round 1 ends. Deterministic like every field; `sim` prints them on stderr and in
   * its text report.
   */
  warnings: string[];
}

/** What the engine counted in a run; {@link assembleReport} derives the rest. */
export interface RunTotals {
  /** Migration start to guest resume, ns. */
  totalTimeNs: number;
  /** Guest paused, ns. */
  downtimeNs: number;
  /** Per pre-copy round. */
  perRound: RoundRow[];
  /** Dirty-log syncs. */
  syncs: number;
  /** What triggered the switchover. */
  switchover: SwitchoverReason;
  /** Every send, zero markers included. */
  pagesSent: number;
  /** Zero-page markers sent. */
  zeroPagesSent: number;
  /** Wire bytes, device state included. */
  bytesSent: number;
  /** Frames sent at least once. */
  uniquePagesSent: number;
  /** Resends of frames written after their previous send. */
  necessaryResends: number;
  /** Frames sent while the guest was paused. */
  stopCopyPages: number;
  /** Sends whose content the guest overwrote before the end. */
  wastedSends: number;
  /** Guest writes between migration start and pause. */
  guestWrites: number;
  /** Guest reads between migration start and pause. */
  guestReads: number;
  /** The tracker's totals when migration started. */
  trackerAtStart: TrackerStats;
  /** The tracker's totals at the end. */
  trackerAtEnd: TrackerStats;
  /** Auto-converge's final throttle (%) and steps. */
  throttlePct: number;
  /** Times auto-converge raised the throttle. */
  throttleSteps: number;
  /** Frames whose destination copy differs from the source. */
  mismatchedFrames: number;
  /** Whether any frame started as a zero page (a bound's regime may exclude them). */
  zeroPages: boolean;
  /** The engine's warnings (see {@link RunReport.warnings}). */
  warnings: string[];
}

/**
 * Assembles a run's report.
 *
 * @param policy the policy that ran
 * @param params its resolved parameters
 * @param workload the workload's name
 * @param cfg the full configuration
 * @param t the run's totals
 * @returns the report
 *
 * @example Usage
 * ```ts
 * import { simulate } from "./engine.ts";
 * import { loadPolicy } from "../policy/loader.ts";
 * import { parseWorkload } from "../workloads/spec.ts";
 * import assert from "node:assert/strict";
 * // assembleReport is what simulate() returns through
 * const r = simulate({
 *   workload: parseWorkload("idle"),
 *   policy: await loadPolicy("sequential"),
 *   config: { pages: 64 },
 * });
 * assert.equal(r.resends, r.necessaryResends + r.redundantResends);
 * ```
 */
export function assembleReport(
  policy: LoadedPolicy,
  params: Params,
  workload: string,
  cfg: MigrationConfig,
  t: RunTotals,
): RunReport {
  const def = policy.definition;
  const pagesSent = t.pagesSent;
  return {
    policy: {
      name: def.meta.name,
      file: policy.file,
      params,
      oracle: def.meta.oracle === true,
      role: policyRole(def.meta, {
        iteration: cfg.iteration,
        clear: cfg.clear,
        maxRounds: cfg.maxRounds,
        freeTracking: !cfg.autoConverge && cfg.trackerCosts.scanEntryNs === 0 &&
          cfg.trackerCosts.flushHostNs === 0 && cfg.trackerCosts.flushGuestNs === 0 &&
          cfg.trackerCosts.exitNs === 0,
        zeroPages: t.zeroPages,
      }),
    },
    workload: { name: workload, seed: cfg.seed },
    config: cfg,
    totalTimeNs: t.totalTimeNs,
    downtimeNs: t.downtimeNs,
    rounds: t.perRound.length,
    syncs: t.syncs,
    switchover: t.switchover,
    pagesSent,
    normalPagesSent: pagesSent - t.zeroPagesSent,
    zeroPagesSent: t.zeroPagesSent,
    bytesSent: t.bytesSent,
    uniquePagesSent: t.uniquePagesSent,
    resends: pagesSent - t.uniquePagesSent,
    necessaryResends: t.necessaryResends,
    redundantResends: pagesSent - t.uniquePagesSent - t.necessaryResends,
    stopCopyPages: t.stopCopyPages,
    wastedSends: t.wastedSends,
    guestWrites: t.guestWrites,
    guestReads: t.guestReads,
    tracker: migrationPart(t.trackerAtEnd, t.trackerAtStart, t.totalTimeNs),
    profiling: profilingPart(t.trackerAtStart, cfg.startNs),
    perRound: t.perRound,
    missedUpdates: t.trackerAtEnd.missedUpdates,
    autoConverge: { enabled: cfg.autoConverge, throttlePct: t.throttlePct, steps: t.throttleSteps },
    mismatchedFrames: t.mismatchedFrames,
    verified: t.mismatchedFrames === 0,
    warnings: t.warnings,
  };
}

/** Tracker costs from `warm` (the snapshot at migration start) to `end`. */
function migrationPart(
  end: TrackerStats,
  warm: TrackerStats,
  spanNs: number,
): TrackerStats & { slowdownPct: number } {
  const byCause: Record<string, number> = {};
  for (const [k, v] of Object.entries(end.exitsByCause)) {
    byCause[k] = v - (warm.exitsByCause[k] ?? 0);
  }
  const guest = end.guestOverheadNs - warm.guestOverheadNs;
  return {
    kind: end.kind,
    exits: end.exits - warm.exits,
    exitsByCause: byCause,
    guestOverheadNs: guest,
    hostCpuNs: end.hostCpuNs - warm.hostCpuNs,
    flushes: end.flushes - warm.flushes,
    walks: end.walks - warm.walks,
    scanEntries: end.scanEntries - warm.scanEntries,
    missedUpdates: end.missedUpdates - warm.missedUpdates,
    slowdownPct: spanNs > 0 ? 100 * guest / spanNs : 0,
  };
}

/** Tracker costs of the profiling period before migration. */
function profilingPart(warm: TrackerStats, spanNs: number): TrackerStats & { slowdownPct: number } {
  return { ...warm, slowdownPct: spanNs > 0 ? 100 * warm.guestOverheadNs / spanNs : 0 };
}
