/**
 * How much `--jobs` buys: runs a study (default: the bench study) at `--jobs 1` and at
 * `--jobs N` (default 2) one after the other, checks that the outputs are byte-identical,
 * and prints both wall times, their ratio and the load average around them (the machine
 * may be shared; a load above the core count makes the ratio a floor).
 *
 * `deno run -A bench/study_jobs.ts [SPEC] [--jobs N]`
 *
 * @module
 */

import { parseArgs } from "node:util";

const { values: v, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: { jobs: { type: "string" } },
});
const spec = positionals[0] ??
  new URL("../fixtures/studies/bench.json", import.meta.url).pathname;
const jobs = Number(v.jobs ?? 2);
const cli = new URL("../harness/cli/study.ts", import.meta.url).pathname;
const load = () => {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
};

async function run(n: number, out: string): Promise<number> {
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, spec, "--out", out, "--jobs", String(n), "--quiet"],
    env: { GLIBC_TUNABLES: "glibc.malloc.hugetlb=1" },
    stdout: "null",
    stderr: "inherit",
  }).output();
  if (r.code !== 0) throw new Error(`study --jobs ${n} exited ${r.code}`);
  return (performance.now() - t0) / 1000;
}

const dir = Deno.makeTempDirSync();
const before = load();
const t1 = await run(1, `${dir}/j1`);
const mid = load();
const tn = await run(jobs, `${dir}/jn`);
const after = load();
const same = ["runs.jsonl", "runs.csv", "summary.json", "report.html"].every((f) =>
  Deno.readTextFileSync(`${dir}/j1/${f}`) === Deno.readTextFileSync(`${dir}/jn/${f}`)
);
console.log(
  `study ${spec.replace(/^.*\//, "")}: --jobs 1 ${t1.toFixed(1)} s, --jobs ${jobs} ${
    tn.toFixed(1)
  } s, ratio ${(t1 / tn).toFixed(2)}x on ${navigator.hardwareConcurrency} cores; outputs ${
    same ? "identical" : "DIFFER"
  }; load average before ${before}, between ${mid}, after ${after}`,
);
Deno.removeSync(dir, { recursive: true });
if (!same) Deno.exit(1);
