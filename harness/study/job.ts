/**
 * One run of a study as a pure function of its job: the same code runs in the study's own
 * process (`--jobs 1`) and in each pool worker. Kept apart from the runner, which spawns the
 * workers, so that a worker loads only what a run needs.
 *
 * @module
 */

import { simulate } from "../engine/engine.ts";
import type { RunReport } from "../engine/run_report.ts";
import type { ConfigInput } from "../config.ts";
import type { LoadedPolicy, Params } from "../policy/contract.ts";
import { loadPolicy } from "../policy/loader.ts";
import { parseWorkload } from "../workloads/spec.ts";

/** What a worker needs to do one run (plain data, sent to workers). */
export interface Job {
  /** Run index. */
  index: number;
  /** Workload spec (trace paths absolute). */
  spec: string;
  /** Policy name or absolute path, for `loadPolicy`. */
  ref: string;
  /** Policy parameters. */
  params: Params;
  /** Configuration overrides. */
  config: ConfigInput;
}

/** Loads policies once per process, through the loader (so its sandbox applies). */
export class PolicyCache {
  readonly #cache = new Map<string, Promise<LoadedPolicy>>();
  /**
   * The policy for a reference.
   * @param ref name or path
   * @returns the loaded policy
   */
  get(ref: string): Promise<LoadedPolicy> {
    let p = this.#cache.get(ref);
    if (!p) {
      p = loadPolicy(ref);
      this.#cache.set(ref, p);
    }
    return p;
  }
}

/**
 * Does one run.
 *
 * @param job the job
 * @param policies where loaded policies are kept
 * @returns its report
 * @throws {PrecopyError} when the policy, the workload or the configuration fails
 *
 * @example Usage
 * ```ts
 * import { PolicyCache, runJob } from "./job.ts";
 * import assert from "node:assert/strict";
 * const r = await runJob(
 *   { index: 0, spec: "idle", ref: "sequential", params: {}, config: { pages: 16 } },
 *   new PolicyCache(),
 * );
 * assert.equal(r.pagesSent, 16);
 * ```
 */
export async function runJob(job: Job, policies: PolicyCache): Promise<RunReport> {
  const policy = await policies.get(job.ref);
  return simulate({
    workload: parseWorkload(job.spec),
    policy,
    params: job.params,
    config: job.config,
  });
}

/** A message from a pool worker. */
export type WorkerReply =
  | { type: "done"; index: number; report: string }
  | { type: "fail"; index: number; message: string; user: boolean };
