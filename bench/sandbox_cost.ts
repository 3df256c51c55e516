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
import { simulate } from "../harness/engine/engine.ts";
import { loadPolicy } from "../harness/policy/loader.ts";
import { parseWorkload } from "../harness/workloads/spec.ts";
import { configFromFlags } from "../harness/cli/sim.ts";

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

function timed(policy: Awaited<ReturnType<typeof loadPolicy>>): [number, string] {
  const t0 = performance.now();
  const r = simulate({ workload: parseWorkload(v.workload!), policy, config });
  return [performance.now() - t0, JSON.stringify(r)];
}

for (const name of v.policy ?? ["sequential", "staged-history"]) {
  const inProcess = await loadPolicy(name, { sandbox: false });
  const sandboxed = await loadPolicy(name);
  const ratios: number[] = [];
  timed(inProcess), timed(sandboxed); // warm-up: compile both paths before measuring
  for (let i = 0; i < pairs; i++) {
    const first = i % 2 === 0 ? inProcess : sandboxed;
    const second = first === inProcess ? sandboxed : inProcess;
    const [ta, ra] = timed(first), [tb, rb] = timed(second);
    if (ra !== rb) throw new Error(`${name}: sandboxed and in-process reports differ`);
    const [tIn, tBox] = first === inProcess ? [ta, tb] : [tb, ta];
    ratios.push(tBox / tIn);
    console.log(
      `${name} pair ${i + 1}: in-process ${(tIn / 1000).toFixed(2)} s, sandboxed ${
        (tBox / 1000).toFixed(2)
      } s (${((tBox / tIn - 1) * 100).toFixed(1)} %)`,
    );
  }
  ratios.sort((a, b) => a - b);
  const med = ratios[Math.floor(ratios.length / 2)];
  console.log(`${name}: median sandbox cost ${((med - 1) * 100).toFixed(1)} % over ${pairs} pairs`);
  sandboxed.sandbox?.close();
}
