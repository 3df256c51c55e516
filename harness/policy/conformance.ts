/**
 * The policy conformance suite: what every policy must satisfy, checked without a line
 * of test written for the policy. `policies/conformance_test.ts` runs it for every file in
 * `policies/`; authors can run it on a policy kept anywhere else.
 *
 * @module
 */

import { type ConfigInput, type RunReport, simulate } from "../engine/engine.ts";
import { createFuture, writeRates } from "../workloads/future.ts";
import { UpdateHistory } from "../history.ts";
import {
  type BatchView,
  type LoadedPolicy,
  type Params,
  type ParamSpec,
  type ParamValue,
  type Policy,
  type PolicyEnv,
  type RoundView,
} from "./contract.ts";
import { type LoadOptions, paramSpecs, resolveParams, scanPolicies } from "./loader.ts";
import { createRng, type Rng } from "../rng.ts";
import { DEFAULT_TRACKER, TRACKER_KINDS } from "../trackers/tracker.ts";
import { parseWorkload } from "../workloads/spec.ts";

/** One check of the suite. */
export interface ConformanceCheck {
  /** What is checked. */
  name: string;
  /** Throws an `Error` naming the policy and the violation when it fails. */
  run(): void;
}

const FRAMES = 512;

function fail(policy: LoadedPolicy, msg: string): never {
  throw new Error(`policy '${policy.definition.meta.name}' (${policy.file}): ${msg}`);
}

function makeEnv(seed: number, policy: LoadedPolicy): PolicyEnv {
  const rng = createRng(seed ^ 0xc0ffee);
  const history = new UpdateHistory(FRAMES, 16, 100e6);
  for (let k = 0; k < 24; k++) {
    // a skewed history: low frames hot, the rest occasionally written
    const w: number[] = [], a: number[] = [];
    for (let p = 0; p < FRAMES; p++) {
      const r = rng.float();
      if (r < (p < 64 ? 0.8 : 0.05)) w.push(p);
      if (r < (p < 64 ? 0.9 : 0.2)) a.push(p);
    }
    history.record(Uint32Array.from(w), Uint32Array.from(a));
  }
  const env: PolicyEnv = { frames: FRAMES, pageSize: 4096, bandwidth: 1e9, seed, history };
  if (policy.definition.meta.oracle) {
    const w = parseWorkload("hotcold:rate=20k,hot=10%");
    return {
      ...env,
      future: createFuture(w, FRAMES, seed),
      rates: writeRates(w, FRAMES, seed, 5e9),
    };
  }
  return env;
}

function randomOffered(rng: Rng): Uint32Array {
  const share = rng.float();
  const out: number[] = [];
  for (let p = 0; p < FRAMES; p++) if (rng.float() < share) out.push(p);
  return Uint32Array.from(out);
}

function checkOrder(policy: LoadedPolicy, view: RoundView, res: ArrayLike<number>): Uint32Array {
  if (res === null || typeof res !== "object" || typeof res.length !== "number") {
    fail(policy, `round ${view.index}: order() did not return an array`);
  }
  const offered = new Set(view.offered);
  const seen = new Set<number>();
  for (let i = 0; i < res.length; i++) {
    const v = res[i];
    if (!offered.has(v)) fail(policy, `round ${view.index}: order() returned ${v}, not offered`);
    if (seen.has(v)) fail(policy, `round ${view.index}: order() returned ${v} twice`);
    seen.add(v);
  }
  return Uint32Array.from(res);
}

/** Drives one instance through random rounds; returns everything it decided. */
function drive(
  policy: LoadedPolicy,
  seed: number,
  rounds: number,
  given: Params = {},
): number[][] {
  const env = makeEnv(seed, policy);
  const params = resolveParams(policy, given);
  const inst: Policy = policy.definition.create(params, env);
  const rng = createRng(seed);
  const decisions: number[][] = [];
  const dirtied = new Uint8Array(FRAMES);
  for (let r = 1; r <= rounds; r++) {
    const offered = r === 1
      ? new Uint32Array(0)
      : r === 2
      ? Uint32Array.of(rng.below(FRAMES))
      : randomOffered(rng);
    const before = offered.slice();
    const written = env.history.written().slice();
    const nowNs = r * 50e6;
    const carried = r === 1 ? offered : offered.filter(() => rng.float() < 0.3);
    const view: RoundView = { index: r, nowNs, offered, carried, endEstimateNs: nowNs + 40e6 };
    const order = checkOrder(policy, view, inst.order(view));
    if (offered.some((v, i) => v !== before[i])) {
      fail(policy, `round ${r}: order() modified round.offered`);
    }
    if (env.history.written().some((v, i) => v !== written[i])) {
      fail(policy, `round ${r}: order() modified the history`);
    }
    decisions.push([...order]);
    if (inst.filter) {
      for (let p = 0; p < FRAMES; p++) dirtied[p] = rng.float() < 0.3 ? 1 : 0;
      const dirtiedBefore = dirtied.slice();
      const frames = order.subarray(0, 1024);
      const keep = new Uint8Array(frames.length).fill(1);
      const batch: BatchView = { round: r, nowNs, frames, keep, dirtied };
      inst.filter(batch);
      if (keep.some((k) => k !== 0 && k !== 1)) {
        fail(policy, `round ${r}: filter() wrote a keep value other than 0 or 1`);
      }
      if (dirtied.some((v, i) => v !== dirtiedBefore[i])) {
        fail(policy, `round ${r}: filter() modified batch.dirtied`);
      }
      decisions.push([...keep]);
    }
    inst.onRoundEnd?.({
      index: r,
      startNs: nowNs,
      endNs: nowNs + 40e6,
      offered: offered.length,
      sent: order.length,
      deferred: offered.length - order.length,
      dirtyAtSync: 0,
      lastSent: order.length ? order[order.length - 1] : -1,
    });
    if (inst.onScan) {
      const w = randomOffered(rng);
      inst.onScan({ index: 24 + r, nowNs: nowNs + 45e6, written: w, accessed: w });
    }
  }
  return decisions;
}

function checkReport(policy: LoadedPolicy, r: RunReport, what: string): void {
  const bad = (m: string) => fail(policy, `${what}: ${m}`);
  if (r.verified !== true) bad("not verified");
  if (r.uniquePagesSent !== r.config.pages) {
    bad(`${r.uniquePagesSent} frames sent of ${r.config.pages}`);
  }
  if (r.pagesSent !== r.uniquePagesSent + r.resends) bad("pagesSent ≠ unique + resends");
  if (r.resends !== r.necessaryResends + r.redundantResends) bad("resends ≠ necessary + redundant");
  if (r.wastedSends !== r.necessaryResends) bad("wastedSends ≠ necessaryResends");
  const perRound = r.perRound.reduce((s, x) => s + x.sent, 0);
  if (perRound + r.stopCopyPages !== r.pagesSent) bad("round sends + stop-copy ≠ pagesSent");
  if (r.downtimeNs <= 0 && r.stopCopyPages > 0) bad("pages sent while paused but no downtime");
}

/** Values to try for a parameter: its bounds, a value between, every choice. */
function schemaValues(spec: ParamSpec): ParamValue[] {
  if (spec.type === "boolean") return [false, true];
  if (spec.type === "choice") return [...spec.choices];
  const mid = (spec.min + spec.max) / 2;
  return [...new Set([spec.min, spec.type === "integer" ? Math.floor(mid) : mid, spec.max])];
}

/**
 * The checks for one policy.
 *
 * @param policy the policy under test
 * @returns the checks, each throwing on a violation
 *
 * @example Usage
 * ```ts
 * import { conformanceChecks } from "./conformance.ts";
 * import { loadPolicy } from "./loader.ts";
 * for (const check of conformanceChecks(await loadPolicy("sequential"))) check.run();
 * ```
 */
export function conformanceChecks(policy: LoadedPolicy): ConformanceCheck[] {
  const runs: [string, ConfigInput][] = [
    ["clear=send, drain", { clear: "send" }],
    ["clear=round, drain", { clear: "round" }],
    ["clear=chunk:64, qemu", { clear: "chunk:64", iteration: "qemu" }],
    ["Xen regime", { downtimeLimitNs: 0, maxRounds: 5, minPending: 50 }],
    ...TRACKER_KINDS.filter((k) => k !== DEFAULT_TRACKER).flatMap((tracker) =>
      (["send", "round", "chunk:64"] as const).map((clear): [string, ConfigInput] => [
        `tracker=${tracker}, clear=${clear}, 2 vCPUs`,
        { tracker, clear, trackerCosts: { vcpus: 2, ringEntries: 256 } },
      ])
    ),
  ];
  return [
    {
      name: "meta is complete and defaults resolve",
      run() {
        const m = policy.definition.meta;
        if (!m.name || !m.description) fail(policy, "meta.name and meta.description are required");
        for (const k of Object.keys(m.defaults)) {
          if (!m.params || !Object.hasOwn(m.params, k)) {
            fail(policy, `meta.params.${k} is missing: declare its type and range or choices`);
          }
        }
        resolveParams(policy, {});
      },
    },
    {
      name: "runs on values drawn from its parameter schema, bounds included",
      run() {
        for (const [k, spec] of paramSpecs(policy)) {
          for (const v of schemaValues(spec)) {
            const given = { [k]: v };
            try {
              drive(policy, 5, 6, given);
              checkReport(
                policy,
                simulate({
                  workload: parseWorkload("hotcold:rate=4k,hot=10%,zero=20%"),
                  policy,
                  params: given,
                  config: { pages: 1024, bandwidth: 16e6, startNs: 500e6, profileIntervalNs: 50e6 },
                }),
                `${k}=${v}`,
              );
            } catch (e) {
              fail(policy, `with ${k}=${v}: ${(e as Error).message}`);
            }
          }
        }
      },
    },
    {
      name:
        "orders are duplicate-free subsets of the offered frames, empty and one-frame rounds included; inputs are not modified",
      run() {
        drive(policy, 7, 12);
      },
    },
    {
      name: "decisions are deterministic under a seed",
      run() {
        const a = JSON.stringify(drive(policy, 11, 8));
        const b = JSON.stringify(drive(policy, 11, 8));
        if (a !== b) {
          fail(policy, "two instances with the same seed and inputs decided differently");
        }
      },
    },
    ...runs.map(([what, config]) => ({
      name: `a full migration verifies (${what})`,
      run() {
        const r = simulate({
          workload: parseWorkload("hotcold:rate=4k,hot=10%,zero=20%"),
          policy,
          config: {
            pages: 1024,
            bandwidth: 16e6,
            startNs: 500e6,
            profileIntervalNs: 50e6,
            ...config,
          },
        });
        checkReport(policy, r, what);
      },
    })),
  ];
}

/**
 * Registers one `Deno.test` per policy file in a folder, each running
 * {@link conformanceChecks} as steps; a file that does not load is one failing test named
 * after the file, and the others run as usual. Each policy's worker is closed after its
 * test.
 *
 * @param dir the folder of policy files
 * @param options how the files are loaded (sandboxed by default)
 *
 * @example Usage
 * ```ts ignore
 * import { registerConformanceTests } from "./conformance.ts";
 * await registerConformanceTests(new URL("./my-policies/", import.meta.url));
 * ```
 */
export async function registerConformanceTests(dir: URL, options: LoadOptions = {}): Promise<void> {
  const { policies, broken } = await scanPolicies(dir, options);
  for (const b of broken) {
    Deno.test(`policy conformance: ${b.file}`, () => {
      throw new Error(b.reason);
    });
  }
  for (const policy of policies) {
    Deno.test(`policy conformance: ${policy.definition.meta.name} (${policy.file})`, async (t) => {
      try {
        for (const check of conformanceChecks(policy)) {
          await t.step(check.name, () => check.run());
        }
      } finally {
        policy.sandbox?.close();
      }
    });
  }
}
