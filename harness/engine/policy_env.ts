/**
 * What the engine hands a policy before its first round: its parameters, typed, and its
 * environment — with, for oracles, views of the workload's future mapped onto simulated
 * time.
 *
 * @module
 */

import type { MigrationConfig } from "../config.ts";
import type { UpdateHistory } from "../history.ts";
import type { LoadedPolicy, Params, ParamValue, PolicyEnv } from "../policy/contract.ts";
import { policyError, resolveParams } from "../policy/loader.ts";
import { createFuture, writeRates } from "../workloads/future.ts";
import type { Workload } from "../workloads/workload.ts";

/**
 * Resolves parameter overrides given as texts (`"16"`, from the command line) or as typed
 * values (from library callers) against a policy's defaults.
 *
 * @param policy the policy
 * @param given the overrides
 * @returns every parameter, defaults filled in
 * @throws {PrecopyError} for an unknown parameter, a bad text or a value of the wrong type
 *
 * @example Usage
 * ```ts
 * import { typedParams } from "./policy_env.ts";
 * import { loadPolicy } from "../policy/loader.ts";
 * import assert from "node:assert/strict";
 * const p = await loadPolicy("staged-history");
 * assert.equal(typedParams(p, { stages: "2" }).stages, 2);
 * assert.equal(typedParams(p, { stages: 3 }).stages, 3);
 * ```
 */
export function typedParams(
  policy: LoadedPolicy,
  given: Record<string, string | ParamValue>,
): Params {
  const defaults = policy.definition.meta.defaults;
  const texts: Record<string, string> = {};
  const typed: Params = {};
  for (const [k, v] of Object.entries(given)) {
    if (typeof v === "string" && typeof defaults[k] !== "string") texts[k] = v;
    else if (k in defaults && typeof v !== typeof defaults[k]) {
      throw policyError(policy, `parameter '${k}' must be a ${typeof defaults[k]}`);
    } else if (k in defaults) typed[k] = v;
    else texts[k] = String(v);
  }
  return { ...resolveParams(policy, texts), ...typed };
}

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
