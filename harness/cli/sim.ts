/**
 * `deno task sim`: one migration from the command line. A table by default, the report
 * object with `--json` (on stdout; progress and errors go to stderr).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type ConfigInput,
  DEFAULT_CONFIG,
  type MigrationConfig,
  simulate,
} from "../engine/engine.ts";
import { PrecopyError } from "../errors.ts";
import { type CliIo, reportError, runMain, stdio } from "./kit.ts";
import { loadPolicy, scanPolicies } from "../policy/loader.ts";
import type { LoadedPolicy } from "../policy/contract.ts";
import { formatReport } from "../report/report.ts";
import { TRACKER_KINDS } from "../trackers/tracker.ts";
import {
  formatDuration,
  parseBandwidth,
  parseCount,
  parseDuration,
  parseInteger,
  parseSize,
} from "../units.ts";
import { describeGenerators } from "../workloads/workload.ts";
import { parseWorkload } from "../workloads/spec.ts";

/** The `--help` text of `deno task sim`. */
export const SIM_HELP: string =
  `precopy-lab sim — run one pre-copy live migration and report its cost

usage: deno task sim [options]

  --policy NAME|PATH      a policy from policies/ by name, or any policy file   [sequential]
  --param k=v             a policy parameter (repeatable)              [the policy's defaults]
  --policy-timeout T      time budget of each policy call (sandboxed policies)         [5min]
  --workload SPEC|PATH    generator spec name[:k=v,...] or a .csv trace             [uniform]
  --memory SIZE           guest memory: 512MiB, 4GiB, 64GiB ...                        [1GiB]
  --pages N               guest memory as a frame count (instead of --memory)
  --bandwidth RATE        link rate: 125MB/s, 1Gbit/s, 10Gbit/s ...                [128MiB/s]
  --downtime-limit T      switchover target: 300ms, 1s ... (0 = only when nothing is pending)
                                                                                      [300ms]
  --max-rounds N          forced switchover after N rounds                               [30]
  --min-pending N         Xen's rule: pause once fewer than N frames are pending         [off]
  --max-transfer-factor F forced switchover once sends reach F x guest frames          [off]
  --iteration RULE        drain (a round sends all it offers) or qemu (re-sync at threshold)
                                                                                      [drain]
  --qemu-max-wait T       iteration=qemu: sending between two checks of pending bytes  [50ms]
  --clear MODE            when dirty state resets: round, chunk:N, send                  [send]
  --tracker KIND          dirty tracking: ${TRACKER_KINDS.join(", ")}                    [ept-ad]
  --vcpus N               guest vCPUs (PML buffers and dirty rings are per vCPU)          [1]
  --ept-leaf SIZE         EPT leaf size: 4KiB, or 2MiB (one A/D bit for 512 frames)    [4KiB]
  --no-flush              ept-ad: clear A/D bits without INVEPT; writes through cached
                          translations then go missing, and the verification fails
  --count-missed          with --no-flush: report missed writes and mismatched frames
                          instead of failing
  --auto-converge         QEMU's auto-converge: throttle the vCPUs from 20%, +10% a step,
                          while dirtying exceeds half the transfer for two 1s periods
  --ring-entries N        dirty-ring: entries per vCPU ring, a power of two           [4096]
  --page-header N         wire bytes per page beside its content                          [8]
  --device-state SIZE     bytes sent during downtime besides pages                        [0]
  --pause-resume T        pause/resume overhead added to downtime                         [0s]
  --start T, --warmup T   how long the guest runs with the profiler on before migration   [1s]
  --profile-interval T    profiling scan interval                                     [100ms]
  --history N             profiling intervals kept per frame (1-32)                      [16]
  --seed N                seed for generators and randomized policies                     [1]
  --json                  print the report object instead of the table
  --quiet                 no progress on stderr
  --list                  list policies and workload generators
  -h, --help              this text

Sizes take KiB MiB GiB (and KB MB GB), times ns us ms s, rates k M G suffixes.
Generators (every one also takes footprint=SIZE|P%, zero=P%, reads=RATE):
${
    describeGenerators().map(([n, d, p]) =>
      `  ${n.padEnd(11)} ${d}${p ? `\n              defaults: ${p}` : ""}`
    )
      .join("\n")
  }
  mix         several at once: mix:uniform(rate=2k)+hotcold(rate=20k)

Examples:
  deno task sim --workload hotcold:rate=20k,hot=5% --policy staged-history
  deno task sim --memory 4GiB --bandwidth 1Gbit/s --clear round --json > run.json
`;

const OPTIONS = {
  policy: { type: "string" },
  param: { type: "string", multiple: true },
  "policy-timeout": { type: "string" },
  workload: { type: "string" },
  memory: { type: "string" },
  pages: { type: "string" },
  bandwidth: { type: "string" },
  "downtime-limit": { type: "string" },
  "max-rounds": { type: "string" },
  "min-pending": { type: "string" },
  "max-transfer-factor": { type: "string" },
  iteration: { type: "string" },
  "qemu-max-wait": { type: "string" },
  clear: { type: "string" },
  tracker: { type: "string" },
  "page-header": { type: "string" },
  "device-state": { type: "string" },
  "pause-resume": { type: "string" },
  start: { type: "string" },
  warmup: { type: "string" },
  vcpus: { type: "string" },
  "ept-leaf": { type: "string" },
  "no-flush": { type: "boolean" },
  "count-missed": { type: "boolean" },
  "auto-converge": { type: "boolean" },
  "ring-entries": { type: "string" },
  "profile-interval": { type: "string" },
  history: { type: "string" },
  seed: { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean" },
  list: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parsed `--param k=v` flags. */
function parseParamFlags(list: string[] | undefined): Record<string, string> {
  // No prototype: a key such as __proto__ or constructor is just an unknown parameter.
  const out: Record<string, string> = Object.create(null);
  for (const kv of list ?? []) {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new PrecopyError("config", `--param: '${kv}' is not k=v`);
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return out;
}

/**
 * Turns the shared migration flags into configuration overrides (used by `sim` and the
 * bench).
 *
 * @param v parsed flag values (strings)
 * @returns the overrides
 * @throws {PrecopyError} naming the flag and the accepted form
 *
 * @example Usage
 * ```ts
 * import { configFromFlags } from "./sim.ts";
 * import assert from "node:assert/strict";
 * const c = configFromFlags({ memory: "64MiB", bandwidth: "1Gbit/s" });
 * assert.equal(c.pages, 16384);
 * assert.equal(c.bandwidth, 125_000_000);
 * ```
 */
export function configFromFlags(
  v: Record<string, string | boolean | string[] | undefined>,
): ConfigInput {
  const s = (k: string) => (typeof v[k] === "string" ? v[k] as string : undefined);
  const c: ConfigInput = {};
  const pageSize = DEFAULT_CONFIG.pageSize;
  if (s("memory") !== undefined && s("pages") !== undefined) {
    throw new PrecopyError("config", "--memory and --pages both given; use one");
  }
  if (s("memory") !== undefined) {
    const bytes = parseSize(s("memory")!, "--memory");
    if (bytes % pageSize !== 0 || bytes === 0) {
      throw new PrecopyError(
        "config",
        `--memory: '${s("memory")}' is not a positive multiple of the ${pageSize}-byte page`,
      );
    }
    c.pages = bytes / pageSize;
  }
  if (s("pages") !== undefined) c.pages = parseInteger(s("pages")!, "--pages", 1, 1 << 28);
  if (s("bandwidth") !== undefined) c.bandwidth = parseBandwidth(s("bandwidth")!, "--bandwidth");
  if (s("downtime-limit") !== undefined) {
    c.downtimeLimitNs = s("downtime-limit") === "0"
      ? 0
      : parseDuration(s("downtime-limit")!, "--downtime-limit");
  }
  if (s("max-rounds") !== undefined) {
    c.maxRounds = parseInteger(s("max-rounds")!, "--max-rounds", 1, 1e6);
  }
  if (s("min-pending") !== undefined) {
    c.minPending = parseInteger(s("min-pending")!, "--min-pending", 0, 1 << 30);
  }
  if (s("max-transfer-factor") !== undefined) {
    c.maxTransferFactor = parseCount(s("max-transfer-factor")!, "--max-transfer-factor");
  }
  if (s("iteration") !== undefined) c.iteration = s("iteration") as MigrationConfig["iteration"];
  if (s("clear") !== undefined) c.clear = s("clear") as MigrationConfig["clear"];
  if (s("tracker") !== undefined) c.tracker = s("tracker")!;
  if (s("page-header") !== undefined) {
    c.pageHeader = parseInteger(s("page-header")!, "--page-header", 0, 1 << 20);
  }
  if (s("device-state") !== undefined) {
    c.deviceState = parseSize(s("device-state")!, "--device-state");
  }
  const dur = (flag: string) => {
    const x = s(flag)!;
    return x === "0" ? 0 : parseDuration(x, `--${flag}`);
  };
  if (s("qemu-max-wait") !== undefined) c.qemuMaxWaitNs = dur("qemu-max-wait");
  if (s("pause-resume") !== undefined) c.pauseResumeNs = dur("pause-resume");
  if (s("start") !== undefined && s("warmup") !== undefined) {
    throw new PrecopyError("config", "--start and --warmup both given; they are the same");
  }
  if (s("start") !== undefined) c.startNs = dur("start");
  if (s("warmup") !== undefined) c.startNs = dur("warmup");
  const costs: Record<string, number> = {};
  if (s("vcpus") !== undefined) costs.vcpus = parseInteger(s("vcpus")!, "--vcpus", 1, 4096);
  if (s("ring-entries") !== undefined) {
    costs.ringEntries = parseInteger(s("ring-entries")!, "--ring-entries", 1, 1 << 24);
  }
  if (Object.keys(costs).length) c.trackerCosts = costs;
  if (s("ept-leaf") !== undefined) {
    const bytes = parseSize(s("ept-leaf")!, "--ept-leaf");
    if (bytes !== 4096 && bytes !== 2 * 1024 * 1024) {
      throw new PrecopyError("config", `--ept-leaf: '${s("ept-leaf")}' is not 4KiB or 2MiB`);
    }
    c.eptLeafFrames = bytes / 4096;
  }
  if (v["no-flush"] === true) c.flush = false;
  if (v["count-missed"] === true) c.verify = "count";
  if (v["auto-converge"] === true) c.autoConverge = true;
  if (s("profile-interval") !== undefined) c.profileIntervalNs = dur("profile-interval");
  if (s("history") !== undefined) c.historyLength = parseInteger(s("history")!, "--history", 1, 32);
  if (s("seed") !== undefined) c.seed = parseInteger(s("seed")!, "--seed", 0, 0xffffffff);
  return c;
}

/**
 * Runs `sim` with the given arguments.
 *
 * @param args command-line arguments (without the program name)
 * @param io output sinks (default: the process's stdout and stderr)
 * @returns the exit status (0 ok, 2 bad input, 1 internal error)
 *
 * @example Usage
 * ```ts
 * import { runSim } from "./sim.ts";
 * import assert from "node:assert/strict";
 * let out = "";
 * const io = { out: (t: string) => { out += t; }, err: () => {}, interactive: false };
 * assert.equal(await runSim(["--pages", "64", "--workload", "idle", "--json"], io), 0);
 * assert.equal(JSON.parse(out).pagesSent, 64);
 * ```
 */
export async function runSim(args: string[], io: CliIo = stdio): Promise<number> {
  let policy: LoadedPolicy | undefined;
  try {
    const { values: v, positionals } = parseArgs({
      args,
      options: OPTIONS,
      allowPositionals: true,
    });
    if (positionals.length > 0) {
      throw new PrecopyError("config", `unexpected argument '${positionals[0]}' (see --help)`);
    }
    if (v.help) {
      io.out(SIM_HELP);
      return 0;
    }
    if (v.list) {
      const { policies: all, broken } = await scanPolicies();
      io.out("policies:\n");
      for (const p of all) {
        const m = p.definition.meta;
        const d = Object.entries(m.defaults).map(([k, x]) => `${k}=${x}`).join(",");
        io.out(
          `  ${m.name.padEnd(15)} ${m.oracle ? "[bound] " : ""}${m.description}${
            d ? ` (${d})` : ""
          }\n`,
        );
      }
      for (const b of broken) io.out(`  ${"[broken]".padEnd(15)} ${b.reason}\n`);
      for (const p of all) p.sandbox?.close();
      io.out("generators:\n");
      for (const [n, d, p] of describeGenerators()) {
        io.out(`  ${n.padEnd(15)} ${d}${p ? ` (${p})` : ""}\n`);
      }
      return 0;
    }
    const config = configFromFlags(v);
    const timeout = v["policy-timeout"];
    policy = await loadPolicy(v.policy ?? "sequential", {
      timeoutMs: timeout === undefined
        ? undefined
        : parseDuration(timeout, "--policy-timeout") / 1e6,
    });
    const workload = parseWorkload(v.workload ?? "uniform");
    const progress = io.interactive && !v.quiet;
    const report = simulate({
      workload,
      policy,
      params: parseParamFlags(v.param),
      config,
      onProgress: progress
        ? (p) =>
          io.err(
            `\r  round ${p.round}: ${p.pending.toLocaleString("en-US")} pending, ${
              p.pagesSent.toLocaleString("en-US")
            } sent, ${formatDuration(p.elapsedNs)} simulated   `,
          )
        : undefined,
    });
    if (progress) io.err("\r\x1b[K");
    io.out(v.json ? JSON.stringify(report) + "\n" : formatReport(report) + "\n");
    return 0;
  } catch (e) {
    return reportError(e, io);
  } finally {
    policy?.sandbox?.close(); // its worker would outlive a library caller's run
  }
}

if (import.meta.main) await runMain(runSim);
