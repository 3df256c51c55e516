/**
 * What the engine hands a policy before its first round: its environment — with, for
 * oracles, views of the workload's future mapped onto simulated time. (Its parameters are
 * resolved against the policy's schema by `resolveParams` in `../policy/loader.ts`.)
 *
 * @module
 */

import type { MigrationConfig } from "../config.ts";
import type { UpdateHistory } from "../history.ts";
import type { PolicyEnv } from "../policy/contract.ts";
import { createFuture, writeRates } from "../workloads/future.ts";
import type { Workload } from "../workloads/workload.ts";

/** A policy's environment, and what must be closed with the run. */
export interface PolicySetup {
  /** The environment passed to the policy's create(). */
  env: PolicyEnv;
  /** The oracle's second opening of the workload (null for other policies). */
  future: { close(): void } | null;
}

/**
 * Builds a policy's environment. An oracle also gets `future` (the last write of each
 * frame in a span, asked in simulated time) and `rates` (the generators' mean write rates,
 * computed on first use).
 *
 * @param oracle whether the policy is an oracle
 * @param workload the run's workload
 * @param cfg the run's configuration
 * @param history the profiling history
 * @param workloadTime the workload's clock at a simulated time (it lags behind by the
 * guest's stalls and throttling)
 * @returns the environment, and the future to close with the run
 *
 * @example Usage
 * ```ts
 * import { policyEnv } from "./policy_env.ts";
 * import { resolveConfig } from "../config.ts";
 * import { UpdateHistory } from "../history.ts";
 * import { parseWorkload } from "../workloads/spec.ts";
 * import assert from "node:assert/strict";
 * const cfg = resolveConfig({ pages: 64 });
 * const history = new UpdateHistory(64, 16, cfg.profileIntervalNs);
 * const s = policyEnv(true, parseWorkload("uniform:rate=1k"), cfg, history, (t) => t);
 * assert.equal(s.env.frames, 64);
 * assert.ok(s.env.future !== undefined);
 * s.future?.close();
 * ```
 */
export function policyEnv(
  oracle: boolean,
  workload: Workload,
  cfg: MigrationConfig,
  history: UpdateHistory,
  workloadTime: (simNs: number) => number,
): PolicySetup {
  const pages = cfg.pages;
  const env: PolicyEnv = {
    frames: pages,
    pageSize: cfg.pageSize,
    bandwidth: cfg.bandwidth,
    seed: cfg.seed,
    history,
  };
  if (!oracle) return { env, future: null };
  let rates: Float64Array | null = null;
  const future = createFuture(workload, pages, cfg.seed);
  // Oracles ask in simulated time; the workload's clock lags it by the guest's stalls and
  // throttling, so spans are mapped onto the workload's clock here. That clock never runs
  // back: while stalls charged since the last question outlast the time gone by, it stands
  // where it stood.
  let stood = -Infinity;
  const view = {
    lastWrites: (from: number, to: number) => {
      const start = stood = Math.max(stood, workloadTime(from));
      return future.lastWrites(start, Math.max(start, workloadTime(to)));
    },
  };
  Object.defineProperties(env, {
    future: { value: view, enumerable: true },
    rates: {
      get: () => rates ??= writeRates(workload, pages, cfg.seed, cfg.startNs + cfg.oracleHorizonNs),
      enumerable: true,
    },
  });
  return { env, future };
}
