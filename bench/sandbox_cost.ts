/**
 * What the policy sandbox costs: the same migration with a policy imported in-process
 * and with it sandboxed (a worker, calls through shared memory), in pairs whose order
 * alternates so drift on a shared machine falls on both alike. Reports each pair and the
 * median ratio.
 *
 *   deno run --no-prompt --unstable-worker-options -R bench/sandbox_cost.ts \
 *     [--memory 64GiB] [--bandwidth 10Gbit/s] [--workload uniform:rate=200k] \
 *     [--policy sequential --policy staged-history] [--pairs 3]
 *
 * @module
 */

import { parseArgs } from "node:util";
import process from "node:process";
import { simulate } from "../harness/engine/engine.ts";
import { loadPolicy } from "../harness/policy/loader.ts";
import { parseWorkload } from "../harness/workloads/spec.ts";
import { configFromFlags } from "../harness/config.ts";

const { values: v } = parseArgs({
  args: Deno.args,
  options: {
    memory: { type: "string", default: "64GiB" },
    bandwidth: { type: "string", default: "10Gbit/s" },
    workload: { type: "string", default: "uniform:rate=200k" },
    policy: { type: "string", multiple: true },
    pairs: { type: "string", default: "3" },
  },
});
const config = configFromFlags({ memory: v.memory, bandwidth: v.bandwidth });
const pairs = Number(v.pairs);

/** Wall time and CPU time (every thread of the process: the worker's included), ms. */
function timed(policy: Awaited<ReturnType<typeof loadPolicy>>): [number, number, string] {
  const t0 = performance.now(), c0 = process.cpuUsage();
  const r = simulate({ workload: parseWorkload(v.workload!), policy, config });
  const c = process.cpuUsage(c0);
  return [performance.now() - t0, (c.user + c.system) / 1000, JSON.stringify(r)];
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (r: number) => `${((r - 1) * 100).toFixed(1)} %`;

for (const name of v.policy ?? ["sequential", "staged-history"]) {
  const inProcess = await loadPolicy(name, { sandbox: false });
  const sandboxed = await loadPolicy(name);
  const wall: number[] = [], cpu: number[] = [];
  timed(inProcess), timed(sandboxed); // warm-up: compile both paths before measuring
  for (let i = 0; i < pairs; i++) {
    const first = i % 2 === 0 ? inProcess : sandboxed;
    const second = first === inProcess ? sandboxed : inProcess;
    const a = timed(first), b = timed(second);
    if (a[2] !== b[2]) throw new Error(`${name}: sandboxed and in-process reports differ`);
    const [tIn, tBox] = first === inProcess ? [a, b] : [b, a];
    wall.push(tBox[0] / tIn[0]);
    cpu.push(tBox[1] / tIn[1]);
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    console.log(
      `${name} pair ${i + 1}: wall ${s(tIn[0])} → ${s(tBox[0])} (${pct(wall[i])}), cpu ${
        s(tIn[1])
      } → ${s(tBox[1])} (${pct(cpu[i])})`,
    );
  }
  console.log(
    `${name}: median sandbox cost over ${pairs} pairs: wall ${pct(median(wall))}, cpu ${
      pct(median(cpu))
    }`,
  );
  sandboxed.sandbox?.close();
}
