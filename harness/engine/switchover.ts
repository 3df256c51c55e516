/**
 * The decisions taken between rounds, as pure functions of what the round left behind:
 * when to pause the guest (the switchover rule) and how hard to throttle it (QEMU's
 * auto-converge). The engine feeds them its counters and applies their answers.
 *
 * @module
 */

import type { MigrationConfig } from "../config.ts";

/** Why the guest was paused. */
export type SwitchoverReason =
  | "downtime-limit"
  | "min-pending"
  | "max-rounds"
  | "max-transfer-factor";

/** The configuration items the switchover rule reads, fixed for a run. */
export interface SwitchoverRule {
  /** QEMU's iteration: compare dirty bytes (frames × page size), strictly below. */
  qemu: boolean;
  /** Bytes the link moves within the downtime limit. */
  thresholdBytes: number;
  /** Xen's rule: pause below this many pending frames; 0 = off. */
  minPending: number;
  /** Forced switchover after this many rounds. */
  maxRounds: number;
  /** Forced switchover once sends reach this many times the guest's frames; 0 = off. */
  maxTransferFactor: number;
  /** The guest's frames. */
  pages: number;
  /** Bytes per frame. */
  pageSize: number;
}

/** Where a migration stands after a round's closing sync. */
export interface RoundEnd {
  /** The round just finished, from 1. */
  round: number;
  /** Frames pending. */
  pending: number;
  /** Wire bytes of the pending frames (zero pages as markers). */
  pendingWireBytes: number;
  /** Sends so far. */
  pagesSent: number;
}

/**
 * The bytes the link moves within the downtime limit: QEMU's `threshold_size`.
 *
 * @param cfg the configuration
 * @returns bandwidth × downtime limit, in bytes
 *
 * @example Usage
 * ```ts
 * import { thresholdBytes } from "./switchover.ts";
 * import assert from "node:assert/strict";
 * assert.equal(thresholdBytes({ bandwidth: 1e9, downtimeLimitNs: 300e6 }), 3e8);
 * ```
 */
export function thresholdBytes(
  cfg: Pick<MigrationConfig, "bandwidth" | "downtimeLimitNs">,
): number {
  return cfg.bandwidth * cfg.downtimeLimitNs / 1e9;
}

/**
 * The switchover rule of a configuration.
 *
 * @param cfg the configuration
 * @returns the rule
 *
 * @example Usage
 * ```ts
 * import { switchoverRule } from "./switchover.ts";
 * import { resolveConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const rule = switchoverRule(resolveConfig({ iteration: "qemu" }));
 * assert.equal(rule.qemu, true);
 * assert.equal(rule.maxRounds, 30);
 * ```
 */
export function switchoverRule(cfg: MigrationConfig): SwitchoverRule {
  return {
    qemu: cfg.iteration === "qemu",
    thresholdBytes: thresholdBytes(cfg),
    minPending: cfg.minPending,
    maxRounds: cfg.maxRounds,
    maxTransferFactor: cfg.maxTransferFactor,
    pages: cfg.pages,
    pageSize: cfg.pageSize,
  };
}

/**
 * Whether to pause the guest after a round, and why. The tests, in order: Xen's
 * `min-pending`; the downtime limit (QEMU compares the dirty bytes and pauses strictly
 * below the threshold; a draining round compares the wire bytes, at or below); the round
 * limit; the transfer factor.
 *
 * @param rule the run's rule
 * @param at where the migration stands
 * @returns the reason to pause, or null to run another round
 *
 * @example Usage
 * ```ts
 * import { decideSwitchover, switchoverRule } from "./switchover.ts";
 * import { resolveConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * const rule = switchoverRule(resolveConfig({ maxRounds: 3 }));
 * const at = { round: 3, pending: 1e6, pendingWireBytes: 4104e6, pagesSent: 0 };
 * assert.equal(decideSwitchover(rule, at), "max-rounds");
 * assert.equal(decideSwitchover(rule, { ...at, round: 2 }), null);
 * ```
 */
export function decideSwitchover(rule: SwitchoverRule, at: RoundEnd): SwitchoverReason | null {
  if (rule.minPending > 0 && at.pending < rule.minPending) return "min-pending";
  if (
    rule.qemu
      ? at.pending * rule.pageSize < rule.thresholdBytes
      : at.pendingWireBytes <= rule.thresholdBytes
  ) return "downtime-limit";
  if (at.round >= rule.maxRounds) return "max-rounds";
  if (rule.maxTransferFactor > 0 && at.pagesSent >= rule.maxTransferFactor * rule.pages) {
    return "max-transfer-factor";
  }
  return null;
}

/** QEMU's auto-converge between rounds: the current period and the throttle so far. */
export interface AutoConverge {
  /** When the current period began, ns. */
  periodStartNs: number;
  /** Bytes dirtied (frames logged × page size) in the current period. */
  dirtiedBytes: number;
  /** Wire bytes sent in the current period. */
  sentBytes: number;
  /** Periods that dirtied more than half of what they sent, since the last step. */
  highPeriods: number;
  /** The throttle: % of vCPU time taken from the guest (0 = none). */
  throttlePct: number;
  /** Times the throttle was raised. */
  steps: number;
}

/**
 * Auto-converge before the first round.
 *
 * @param nowNs when the first period begins
 * @returns the starting state (no throttle)
 *
 * @example Usage
 * ```ts
 * import { startAutoConverge } from "./switchover.ts";
 * import assert from "node:assert/strict";
 * assert.equal(startAutoConverge(5).throttlePct, 0);
 * ```
 */
export function startAutoConverge(nowNs: number): AutoConverge {
  return {
    periodStartNs: nowNs,
    dirtiedBytes: 0,
    sentBytes: 0,
    highPeriods: 0,
    throttlePct: 0,
    steps: 0,
  };
}

/**
 * Auto-converge after a round: the round's bytes join the current period; once a period
 * has lasted 1 s it is judged. Every second period that dirtied more than half of what it
 * sent raises the throttle — to 20 %, then 10 % more per step, up to 99 % (QEMU's
 * defaults; like QEMU, a calm period in between does not reset the count).
 *
 * @param s the state before the round
 * @param dirtiedBytes bytes the round's closing sync found dirty
 * @param sentBytes wire bytes the round sent
 * @param nowNs the round's end
 * @returns the state after it (a new object; `s` is not changed)
 *
 * @example Usage
 * ```ts
 * import { startAutoConverge, stepAutoConverge } from "./switchover.ts";
 * import assert from "node:assert/strict";
 * let s = startAutoConverge(0);
 * s = stepAutoConverge(s, 900, 1000, 1e9); // one high period: not yet
 * assert.equal(s.throttlePct, 0);
 * s = stepAutoConverge(s, 900, 1000, 2e9); // the second high period: throttle
 * assert.equal(s.throttlePct, 20);
 * ```
 */
export function stepAutoConverge(
  s: AutoConverge,
  dirtiedBytes: number,
  sentBytes: number,
  nowNs: number,
): AutoConverge {
  const n = {
    ...s,
    dirtiedBytes: s.dirtiedBytes + dirtiedBytes,
    sentBytes: s.sentBytes + sentBytes,
  };
  if (nowNs - n.periodStartNs < 1e9) return n;
  if (n.dirtiedBytes > 0.5 * n.sentBytes && ++n.highPeriods >= 2) {
    n.highPeriods = 0;
    n.throttlePct = n.throttlePct === 0 ? 20 : Math.min(99, n.throttlePct + 10);
    n.steps++;
  }
  n.periodStartNs = nowNs;
  n.dirtiedBytes = n.sentBytes = 0;
  return n;
}
