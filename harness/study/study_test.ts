import assert from "node:assert/strict";
import { resolveShard, runStudy } from "../cli/study.ts";
import { DEFAULT_CONFIG } from "../../mod.ts";
import { DOWNTIME_FLOORS, loadStudy, NAMED_REGIMES } from "./spec.ts";
import { describe, geomeanRatio, isTie, paired, tCritical } from "./stats.ts";

const POLICY = new URL("../../policies/staged-history.ts", import.meta.url).pathname;

function capture() {
  let out = "", err = "";
  return {
    io: {
      out: (t: string) => void (out += t),
      err: (t: string) => void (err += t),
      interactive: false,
    },
    out: () => out,
    err: () => err,
  };
}

/** A hand-written study: two policies (one a file with a grid), two workloads, 3 seeds. */
function writeStudy(dir: string, extra: Record<string, unknown> = {}): string {
  // a small trace: 200 frames, one write every 2 ms to a hot 20 and a cold 180
  const lines = ["t_ns,frame,op"];
  for (let i = 0; i < 1500; i++) {
    lines.push(`${i * 2_000_000},${i % 3 ? i % 20 : 20 + (i % 180)},w`);
  }
  Deno.writeTextFileSync(`${dir}/small.csv`, lines.join("\n") + "\n");
  const spec = {
    name: "hand",
    policies: ["sequential", { file: POLICY, params: { stages: [2, 8] } }],
    workloads: [
      { name: "hot", spec: "hotcold:rate=8k,hot=10%,hotShare=90%" },
      { name: "trace", spec: "small.csv", start: "200ms" },
    ],
    regimes: ["xen"],
    settings: { memory: "1MiB", bandwidth: ["8MiB/s", "16MiB/s"], clear: "send" },
    replicates: { seeds: 3, startStep: "20ms" },
    ...extra,
  };
  Deno.writeTextFileSync(`${dir}/study.json`, JSON.stringify(spec));
  return `${dir}/study.json`;
}

const FILES = ["runs.jsonl", "runs.csv", "summary.json", "report.html"];
const read = (dir: string, f: string) => Deno.readTextFileSync(`${dir}/${f}`);

Deno.test("a hand-written study runs end to end and writes the four outputs", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir);
  const c = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/out`, "--jobs", "1"], c.io), 0);
  const runs = read(`${dir}/out`, "runs.jsonl").trim().split("\n").map((l) => JSON.parse(l));
  // 3 policy variants × 2 workloads × 2 bandwidths × 3 seeds
  assert.equal(runs.length, 36);
  assert.deepEqual(runs.map((r) => r.index), [...runs.keys()]);
  assert.ok(runs.every((r) => r.study === runs[0].study && r.report.verified));
  const labels = new Set(runs.map((r) => r.policy));
  assert.deepEqual(
    labels,
    new Set(["sequential", "staged-history(stages=2)", "staged-history(stages=8)"]),
  );
  // trace replicates start 20 ms apart; generators differ by seed only
  const traceStarts = new Set(
    runs.filter((r) => r.workload === "trace").map((r) => r.report.config.startNs),
  );
  assert.deepEqual(traceStarts, new Set([200e6, 220e6, 240e6]));
  const csv = read(`${dir}/out`, "runs.csv").trim().split("\n");
  assert.equal(csv.length, 37);
  const header = csv[0].split(",");
  for (
    const col of [
      "memory",
      "bandwidth",
      "clear",
      "tracker",
      "profileIntervalNs",
      "seed",
      "startNs",
      "regime",
      "param.stages",
    ]
  ) {
    assert.ok(header.includes(col), col);
  }
  const summary = JSON.parse(read(`${dir}/out`, "summary.json"));
  assert.equal(summary.cells.length, 3 * 2 * 2);
  const cell = summary.cells.find((x: { policy: string }) =>
    x.policy === "staged-history(stages=8)"
  );
  assert.equal(cell.n, 3);
  assert.ok(
    cell.vsBaseline.downtimeNs.wins + cell.vsBaseline.downtimeNs.ties +
        cell.vsBaseline.downtimeNs.losses === 3,
  );
  const html = read(`${dir}/out`, "report.html");
  assert.ok(!/<script(?![^>]*application\/json)/.test(html), "no executable script");
  assert.ok(!/https?:\/\/(?!www\.w3\.org)/.test(html), "no network reference");
  for (
    const name of [
      "pareto",
      "dirty-at-sync",
      "metric-vs-bandwidth-downtimeNs",
      "distribution-downtimeNs",
    ]
  ) {
    assert.match(html, new RegExp(`class="plot" data-plot="${name}"><svg`));
  }
  assert.match(html, /data-plot-missing="profiling"/);
  assert.match(c.out(), /regime xen/);
  assert.match(c.out(), /Staged order cuts downtime/);
  assert.ok(c.out().split("\n").length <= 50);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("--jobs 2 gives the same bytes as --jobs 1", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir);
  assert.equal(
    await runStudy([spec, "--out", `${dir}/a`, "--jobs", "1", "--quiet"], capture().io),
    0,
  );
  assert.equal(
    await runStudy([spec, "--out", `${dir}/b`, "--jobs", "2", "--quiet"], capture().io),
    0,
  );
  for (const f of FILES) assert.equal(read(`${dir}/b`, f), read(`${dir}/a`, f), f);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("two shards merged equal the unsharded run byte for byte; --resume finishes a partial run", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir);
  const q = () => capture().io;
  assert.equal(await runStudy([spec, "--out", `${dir}/all`, "--jobs", "1", "--quiet"], q()), 0);
  assert.equal(
    await runStudy([spec, "--out", `${dir}/s1`, "--shard", "1/2", "--jobs", "2", "--quiet"], q()),
    0,
  );
  assert.equal(
    await runStudy([spec, "--out", `${dir}/s2`, "--shard", "2/2", "--jobs", "1", "--quiet"], q()),
    0,
  );
  assert.throws(() => Deno.statSync(`${dir}/s1/summary.json`));
  // one shard alone is not the study
  assert.equal(await runStudy(["merge", "--out", `${dir}/m0`, `${dir}/s1`], q()), 2);
  assert.equal(
    await runStudy(["merge", "--out", `${dir}/m`, `${dir}/s1`, `${dir}/s2`, "--quiet"], q()),
    0,
  );
  for (const f of FILES) assert.equal(read(`${dir}/m`, f), read(`${dir}/all`, f), f);
  // resume: shard 1's runs are already there, the rest are run
  Deno.mkdirSync(`${dir}/r`);
  Deno.copyFileSync(`${dir}/s1/runs.jsonl`, `${dir}/r/runs.jsonl`);
  const c = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/r`, "--resume", "--jobs", "1"], c.io), 0);
  assert.match(c.err(), /18 already in .*; 18 to run/);
  for (const f of FILES) assert.equal(read(`${dir}/r`, f), read(`${dir}/all`, f), f);
  const timing = () => JSON.parse(read(`${dir}/r`, "timing.json"));
  assert.equal(timing().ran, 18);
  assert.equal(timing().resumed, 18);
  // a resume with nothing left runs nothing, and says so
  const c2 = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/r`, "--resume", "--jobs", "1"], c2.io), 0);
  assert.equal(timing().ran, 0);
  assert.equal(timing().resumed, 36);
  assert.match(c2.err(), /^0 runs in .* \(36 kept from before\)/m);
  for (const f of FILES) assert.equal(read(`${dir}/r`, f), read(`${dir}/all`, f), f);
  // resume refuses runs of another study
  const other = writeStudy(dir, { replicates: 2 });
  assert.equal(await runStudy([other, "--out", `${dir}/r`, "--resume"], q()), 2);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("Ctrl-C stops a study cleanly and --resume completes it", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir, { replicates: 30 });
  const cli = new URL("../cli/study.ts", import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", cli, spec, "--out", `${dir}/out`, "--jobs", "2"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // wait until some runs are journaled, then interrupt
  for (let i = 0; i < 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      if (Deno.readTextFileSync(`${dir}/out/runs.journal`).split("\n").length > 20) break;
    } catch { /* not yet */ }
  }
  child.kill("SIGINT");
  const res = await child.output();
  const err = new TextDecoder().decode(res.stderr);
  assert.equal(res.code, 130, err);
  assert.match(err, /interrupted: \d+ of 360 runs kept/);
  const lines = read(`${dir}/out`, "runs.jsonl").trim().split("\n");
  const idx = lines.map((l) => JSON.parse(l).index);
  assert.deepEqual(idx, [...idx].sort((a, b) => a - b));
  assert.ok(idx.length > 0 && idx.length < 360);
  assert.throws(() => Deno.statSync(`${dir}/out/summary.json`));
  const c = capture();
  assert.equal(
    await runStudy([spec, "--out", `${dir}/out`, "--resume", "--jobs", "1", "--quiet"], c.io),
    0,
  );
  assert.equal(read(`${dir}/out`, "runs.jsonl").trim().split("\n").length, 360);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a policy that fails is reported in one line, the rest completes, the exit is non-zero", async () => {
  const dir = Deno.makeTempDirSync();
  const policy = new URL("../../policy.ts", import.meta.url).href;
  Deno.writeTextFileSync(
    `${dir}/broken.ts`,
    `import { definePolicy } from "${policy}";
export default definePolicy({
  meta: { name: "broken", description: "Throws in order().", defaults: {} },
  create: () => ({ order() { throw new Error("boom"); } }),
});\n`,
  );
  Deno.writeTextFileSync(`${dir}/unloadable.ts`, "export default 42;\n");
  const spec = writeStudy(dir, { policies: ["sequential", "broken.ts", "unloadable.ts"] });
  const c = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/out`, "--jobs", "2", "--quiet"], c.io), 2);
  assert.match(c.err(), /unloadable\.ts.*default export/);
  assert.match(c.err(), /policy 'broken' .*boom/);
  const runs = read(`${dir}/out`, "runs.jsonl").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(runs.length > 0 && runs.every((r) => r.policy === "sequential"));
  assert.equal(JSON.parse(read(`${dir}/out`, "summary.json")).runs.failed, runs.length);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("spec mistakes are each reported with their key path", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir, {
    colour: "red",
    regimes: ["xen", "kvm"],
    settings: { memory: "1MiB", bandwith: "1G", clear: ["send", "sometimes"], tracker: "ept" },
    policies: ["sequential", { name: "staged-history", params: { stagez: [2] } }],
    replicates: { seeds: 0 },
    metrics: ["downtime", "speed"],
  });
  await assert.rejects(loadStudy(spec), (e: Error) => {
    for (
      const path of [
        "colour: unknown key",
        "regimes\\[1\\]: no regime named 'kvm'",
        "settings.bandwith: unknown setting",
        "settings.clear\\[1\\]: --clear: 'sometimes'",
        "policies\\[1\\].params: .*unknown parameter 'stagez'",
        "replicates.seeds: expected a count",
        "metrics\\[1\\]: unknown metric",
        "settings.tracker: 'ept' is not one of ept-ad",
      ]
    ) assert.match(e.message, new RegExp(path));
    assert.match(e.message, /^8 problems in the study spec/);
    return true;
  });
  const c = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/out`], c.io), 2);
  assert.match(c.err(), /^error: 8 problems/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("shards come from --shard, Slurm's array variables or Kubernetes' completion index", () => {
  const none = () => undefined;
  assert.equal(resolveShard(undefined, none), null);
  assert.deepEqual(resolveShard("3/4", none), { k: 3, n: 4, from: "--shard" });
  assert.throws(() => resolveShard("0/4", none), /1 ≤ K ≤ N/);
  assert.throws(() => resolveShard("2", none), /K\/N/);
  const env = (o: Record<string, string>) => (k: string) => o[k];
  // --array=1-4: ids 1..4
  assert.equal(
    resolveShard(
      undefined,
      env({ SLURM_ARRAY_TASK_ID: "4", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_COUNT: "4" }),
    )!.k,
    4,
  );
  assert.deepEqual(
    resolveShard(undefined, env({ JOB_COMPLETION_INDEX: "0", STUDY_SHARDS: "3" })),
    { k: 1, n: 3, from: "JOB_COMPLETION_INDEX" },
  );
  assert.throws(() => resolveShard(undefined, env({ JOB_COMPLETION_INDEX: "0" })), /STUDY_SHARDS/);
});

Deno.test("statistics match textbook values", () => {
  // t quantiles (any table): t(0.975, 4) = 2.776, t(0.975, 9) = 2.262
  assert.equal(tCritical(0.95, 4).toFixed(4), "2.7764");
  assert.equal(tCritical(0.95, 9).toFixed(4), "2.2622");
  const s = describe([2, 4, 4, 4, 5, 5, 7, 9]);
  assert.equal(s.mean, 5);
  assert.equal(s.sd.toFixed(5), "2.13809");
  // mean ± 2.3646 × 2.13809 / √8
  assert.equal(s.ci![0].toFixed(4), "3.2125");
  // Hollander & Wolfe's depression data (R's wilcox.test example): V = 40, exact
  // two-sided p = 0.03906
  const x = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
  const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
  const hw = paired(x, y, 0, 0.05);
  assert.equal(hw.p!.toFixed(5), "0.03906");
  assert.equal(hw.significant, "worse"); // x is higher, and lower is better
  assert.equal(hw.wins, 2);
  // with ties: the normal approximation with tie and continuity correction, p = 0.03351
  const tied = paired([1, 2, 3, 4, 5, 6], [2, 4, 5, 7, 8, 9], 0, 0.05);
  assert.equal(tied.p!.toFixed(4), "0.0335");
  assert.equal(tied.significant, "better");
  assert.equal(tied.pct!.mean.toFixed(3), String((100 * -14 / 35).toFixed(3)));
  // all equal: p = 1, every pair a tie
  const same = paired([3, 3, 3], [3, 3, 3], 0, 0.05);
  assert.deepEqual([same.p, same.ties, same.significant], [1, 3, null]);
  // tolerance
  assert.ok(isTie(10_000, 10_009, 0.001) && !isTie(10_000, 10_011, 0.001));
  // geometric mean of ratios: √(0.5 × 2) = 1; cells with a zero are left out
  assert.equal(geomeanRatio([[1, 2], [4, 2], [0, 3]])!.ratio, 1);
  assert.equal(geomeanRatio([[1, 2], [4, 2], [0, 3]])!.cells, 2);
});

Deno.test("custom regimes, axes and single settings combine with the documented precedence", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir, {
    regimes: ["xen", {
      name: "tight",
      description: "QEMU at 10 ms",
      settings: { iteration: "qemu", downtimeLimit: "10ms" },
    }],
    settings: { memory: "1MiB", maxRounds: 3, profileInterval: ["50ms", "100ms"] },
    replicates: 2,
  });
  const plan = await loadStudy(spec);
  assert.deepEqual(plan.axes.map((a) => a.key), ["regime", "profileInterval"]);
  assert.equal(plan.settings.length, 4);
  assert.equal(plan.settings[2].label, "regime=tight profileInterval=50ms");
  assert.ok(plan.settings[2].qemu && !plan.settings[0].qemu);
  // the study's maxRounds wins over xen's 5; the regime's limit and the axis apply
  assert.ok(plan.runs.every((r) => r.config.maxRounds === 3));
  assert.equal(plan.runs.find((r) => r.setting === 3)!.config.downtimeLimitNs, 10e6);
  assert.equal(plan.runs.find((r) => r.setting === 3)!.config.profileIntervalNs, 100e6);
  // a trace's own start, moved by nothing (replicates without offsets)
  assert.ok(plan.runs.filter((r) => r.workload === 1).every((r) => r.config.startNs === 200e6));
  Deno.removeSync(dir, { recursive: true });
});

/** Every tracker cost that is a time set to 0: the condition of the oracle's bound. */
const FREE_TRACKING = Object.fromEntries(
  Object.keys(DEFAULT_CONFIG.trackerCosts).filter((k) => k.endsWith("Ns")).map((k) => [k, 0]),
);

/** A study where the oracle is a bound in one regime (one round) and not in the other. */
function writeBoundStudy(dir: string): string {
  const spec = {
    name: "bounds",
    policies: ["sequential", "skip-dirty", "oracle"],
    workloads: [{ name: "hot", spec: "hotcold:rate=20k,hot=10%,hotShare=95%" }],
    regimes: [
      "xen",
      {
        name: "one-round",
        description: "one pre-copy round, free tracking: where the oracle's bound holds",
        settings: { iteration: "drain", maxRounds: 1, trackerCosts: FREE_TRACKING },
      },
    ],
    settings: { memory: "1MiB", bandwidth: "8MiB/s", clear: "send" },
    replicates: 2,
  };
  Deno.writeTextFileSync(`${dir}/bounds.json`, JSON.stringify(spec));
  return `${dir}/bounds.json`;
}

Deno.test("roles label policies per run; each cell's stop-copy floor is computed and checked", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeBoundStudy(dir);
  const c = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/out`, "--jobs", "1", "--quiet"], c.io), 0);
  const s = JSON.parse(read(`${dir}/out`, "summary.json"));
  const role = (policy: string, regime: string) =>
    s.cells.find((x: { policy: string; setting: { regime: string } }) =>
      x.policy === policy && x.setting.regime === regime
    ).role;
  assert.equal(role("oracle", "one-round"), "bound");
  assert.equal(role("oracle", "xen"), "future-informed heuristic");
  assert.equal(role("skip-dirty", "xen"), "contender");
  // only contenders are on the Pareto front
  for (const x of [...s.cells, ...s.aggregates]) {
    if (x.role !== "contender") assert.equal(x.pareto, false);
  }
  assert.match(c.out(), /^oracle \[bound\] /m);
  assert.match(c.out(), /^oracle \(future-informed\) /m);
  assert.match(
    c.out(),
    /stop-copy floor \[bound\] above 0 in 2 of 2 cells; 12 runs and \d+ bound pairs checked, none below a bound$/m,
  );
  // a floor per cell, above 0 on this hot workload, below every run; the bound was checked
  assert.equal(s.bounds.floors.length, 2);
  assert.ok(
    s.bounds.floors.every((f: { stopCopyPages: { mean: number } }) => f.stopCopyPages.mean > 0),
  );
  assert.equal(s.bounds.floorRuns, 12);
  assert.ok(s.bounds.boundPairs > 0);
  assert.deepEqual(s.bounds.violations, []);
  // the named regime's downtime floors apply
  const runs = read(`${dir}/out`, "runs.jsonl").trim().split("\n").map((l) => JSON.parse(l));
  const xen = runs.find((r) => r.setting.regime === "xen").report.config;
  assert.equal(xen.deviceState, DOWNTIME_FLOORS.xen.deviceState);
  assert.equal(xen.pauseResumeNs, DOWNTIME_FLOORS.xen.pauseResumeNs);
  // role: one column of runs.csv, agreeing with the reports
  const csv = read(`${dir}/out`, "runs.csv").trim().split("\n").map((l) =>
    [...l.matchAll(/("(?:[^"]|"")*"|[^,]*)(?:,|$)/g)].map((m) => m[1]).slice(0, -1)
  );
  const col = csv[0].indexOf("role");
  assert.equal(csv[0].filter((h) => h === "role").length, 1);
  assert.deepEqual(csv.slice(1).map((r) => r[col]), runs.map((r) => r.report.policy.role));
  assert.match(read(`${dir}/out`, "tables.txt"), /^stop-copy floor \[bound\] +≥ /m);
  // the note bounds each replicate's runs by that replicate's floor, never by the mean
  const notes = read(`${dir}/out`, "tables.txt").split("\n").filter((l) =>
    l.startsWith("stop-copy floor [bound]:")
  );
  assert.equal(notes.length, s.bounds.floors.length);
  for (const [i, f] of s.bounds.floors.entries()) {
    const pages = f.replicates.map((r: { stopCopyPages: number }) => r.stopCopyPages);
    const lo = Math.min(...pages), hi = Math.max(...pages);
    assert.doesNotMatch(notes[i], /every run sends/);
    assert.match(notes[i], /each replicate's runs send at least its floor/);
    assert.ok(
      notes[i].includes(
        lo === hi
          ? `floors ${lo} pages in every replicate`
          : `floors ${lo} to ${hi} pages by replicate (mean `,
      ),
      notes[i],
    );
    assert.match(notes[i], /downtime floors .* (in every replicate|by replicate \(mean )/);
  }
  const html = read(`${dir}/out`, "report.html");
  assert.match(html, /oracle \[bound\]/);
  assert.match(html, /stop-copy floor \[bound\]: ≥ /);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a run that beats a bound is reported loudly: screen, stderr, summary.json, exit 1", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeBoundStudy(dir);
  const q = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/out`, "--jobs", "1", "--quiet"], q.io), 0);
  const s = JSON.parse(read(`${dir}/out`, "summary.json"));
  const lines = read(`${dir}/out`, "runs.jsonl").trim().split("\n").map((l) => JSON.parse(l));
  const find = (policy: string, regime: string) =>
    lines.find((r) => r.policy === policy && r.setting.regime === regime && r.replicate === 0);
  // forge: sequential below the xen cell's floor; in the one-round cell, below the oracle
  const floor =
    s.bounds.floors.find((f: { setting: { regime: string } }) => f.setting.regime === "xen")
      .replicates[0].stopCopyPages;
  assert.ok(floor > 0);
  find("sequential", "xen").report.stopCopyPages = floor - 1;
  const oracle = find("oracle", "one-round").report.stopCopyPages;
  assert.ok(oracle > 0);
  find("sequential", "one-round").report.stopCopyPages = oracle - 1;
  Deno.mkdirSync(`${dir}/forged`);
  Deno.copyFileSync(`${dir}/out/study.json`, `${dir}/forged/study.json`);
  Deno.writeTextFileSync(
    `${dir}/forged/runs.jsonl`,
    lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
  );
  const c = capture();
  assert.equal(await runStudy(["merge", "--out", `${dir}/m`, `${dir}/forged`, "--quiet"], c.io), 1);
  assert.match(c.out(), /^ERROR: \d+ run\(s\) beat a bound/m);
  assert.match(
    c.out(),
    /^ERROR: +hot \[regime=xen\] #1: sequential: \d+ pages in stop-and-copy, below the stop-copy floor of \d+$/m,
  );
  assert.match(
    c.out(),
    /^ERROR: +hot \[regime=one-round\] #1: sequential: \d+ pages in stop-and-copy, below oracle's bound \(its run\) of \d+$/m,
  );
  assert.match(c.err(), /error: \d+ run\(s\) beat a bound/);
  const v = JSON.parse(read(`${dir}/m`, "summary.json")).bounds.violations;
  assert.ok(v.some((x: { by: string }) => x.by === "stop-copy floor"));
  assert.ok(
    v.some((x: { by: string; quantity: string }) =>
      x.by === "oracle" && x.quantity === "stopCopyPages"
    ),
  );
  assert.match(read(`${dir}/m`, "report.html"), /class="error"/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("named regimes carry the downtime floors; a spec's settings override them", async () => {
  const dir = Deno.makeTempDirSync();
  const plain = await loadStudy(writeStudy(dir, { regimes: ["qemu", "qemu-30ms", "xen"] }));
  for (const r of plain.runs) {
    assert.equal(r.config.deviceState, DOWNTIME_FLOORS.qemu.deviceState);
    assert.equal(r.config.pauseResumeNs, DOWNTIME_FLOORS.qemu.pauseResumeNs);
  }
  assert.ok(NAMED_REGIMES.every((n) => (n.config.pauseResumeNs ?? 0) > 0));
  const spec = writeStudy(dir, {
    regimes: ["xen"],
    settings: { memory: "1MiB", pauseResume: "0", deviceState: ["0", "1MiB"] },
  });
  const over = await loadStudy(spec);
  assert.ok(over.runs.every((r) => r.config.pauseResumeNs === 0));
  assert.deepEqual(new Set(over.runs.map((r) => r.config.deviceState)), new Set([0, 1 << 20]));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("one broken file in the policies folder costs only itself: 'all' keeps the rest, exit 2", async () => {
  const dir = Deno.makeTempDirSync();
  const pols = `${dir}/policies`;
  Deno.mkdirSync(pols);
  const src = Deno.readTextFileSync(new URL("../../policies/sequential.ts", import.meta.url))
    .replace(`"../policy.ts"`, JSON.stringify(new URL("../../policy.ts", import.meta.url).href));
  Deno.writeTextFileSync(`${pols}/sequential.ts`, src);
  Deno.writeTextFileSync(`${pols}/other.ts`, src.replace(`name: "sequential"`, `name: "other"`));
  Deno.writeTextFileSync(`${pols}/bad.ts`, "export default 42;\n");
  const policiesDir = new URL(`file://${pols}/`);
  const spec = writeStudy(dir, { policies: "all", replicates: 2 });
  const plan = await loadStudy(spec, {}, policiesDir);
  assert.deepEqual(plan.policies.map((x) => x.label), ["other", "sequential"]);
  assert.equal(plan.loadFailures.length, 1);
  assert.match(plan.loadFailures[0], /bad\.ts: .*default export/);
  const c = capture();
  assert.equal(
    await runStudy([spec, "--out", `${dir}/out`, "--jobs", "1", "--quiet"], c.io, { policiesDir }),
    2,
  );
  assert.match(c.err(), /^failed: policies\[0\]: all: .*bad\.ts: .*default export/m);
  const runs = read(`${dir}/out`, "runs.jsonl").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(new Set(runs.map((r) => r.policy)), new Set(["other", "sequential"]));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a misspelled policy name or a missing policy file is a spec error, before any run", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir, {
    policies: ["sequential", "nosuch", { name: "nosuch2" }, "missing.ts", { file: "gone.ts" }],
  });
  await assert.rejects(loadStudy(spec), (e: Error) => {
    assert.match(e.message, /^4 problems in the study spec/);
    assert.match(
      e.message,
      /policies\[1\]: no policy 'nosuch' in policies\/ \(known: .*sequential/,
    );
    assert.match(e.message, /policies\[2\]\.name: no policy 'nosuch2' in policies\//);
    assert.match(e.message, /policies\[3\]: policy file 'missing\.ts' not found/);
    assert.match(e.message, /policies\[4\]\.file: policy file 'gone\.ts' not found/);
    return true;
  });
  const c = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/out`], c.io), 2);
  assert.throws(() => Deno.statSync(`${dir}/out/runs.jsonl`));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("settings: no seed, no two keys for one item, duration texts in nested items, a span of at least one interval", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir, {
    settings: {
      memory: "1MiB",
      pages: 64,
      seed: 7,
      trackerCosts: { exitNs: "1us", wpFaultNs: "fast" },
    },
    regimes: [{ name: "mine", settings: { downtimeLimit: "30ms", downtimeLimitNs: 1 } }],
    profiling: { workloads: ["hot"], span: "0s" },
  });
  await assert.rejects(loadStudy(spec), (e: Error) => {
    for (
      const line of [
        "settings.pages: memory and pages both given \\(both set pages\\); use one",
        "settings.seed: seed is not a setting; use replicates.seeds",
        "settings.trackerCosts.wpFaultNs: 'fast'",
        "regimes\\[0\\].settings.downtimeLimitNs: downtimeLimit and downtimeLimitNs both given",
        "profiling.span: 0 ns is shorter than one profiling interval \\(profileInterval 100(\\.0+)? ms\\)",
      ]
    ) assert.match(e.message, new RegExp(line));
    assert.match(e.message, /^5 problems in the study spec/);
    assert.doesNotMatch(e.message, /exitNs/);
    return true;
  });
  // a nested duration text is read in ns, fractions allowed as on the command line
  const ok = writeStudy(dir, {
    settings: { memory: "1MiB", trackerCosts: { exitNs: "1.5us", scanEntryNs: "0.5ns" } },
  });
  const plan = await loadStudy(ok);
  assert.deepEqual(plan.runs[0].config.trackerCosts, { exitNs: 1500, scanEntryNs: 0.5 });
  const bad = writeStudy(dir, { settings: { trackerCosts: { exitNz: 5 } } });
  await assert.rejects(
    loadStudy(bad),
    /settings.trackerCosts: 'trackerCosts.exitNz' is not a config item \(known: exitNs, /,
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("the screen says what 'nearly free' means beside the profiling claim", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir, {
    policies: ["sequential"],
    workloads: [{ name: "hot", spec: "hotcold:rate=8k,hot=10%,hotShare=90%" }],
    settings: { memory: "1MiB" },
    replicates: 1,
    profiling: { workloads: ["hot"], trackers: ["ept-ad"], span: "100ms" },
  });
  const c = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/out`, "--jobs", "1", "--quiet"], c.io), 0);
  assert.match(c.out(), /^3\. EPT profiling is nearly free \(below 0\.1 % guest slowdown\) — /m);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("the screen counts in words that agree with the numbers and heads every column", async () => {
  const dir = Deno.makeTempDirSync();
  const spec = writeStudy(dir, {
    policies: [{ name: "staged-history", params: { stages: [2, 8] } }],
    workloads: [{ name: "hot", spec: "hotcold:rate=8k,hot=10%,hotShare=90%" }],
    regimes: ["xen"],
    settings: { memory: "1MiB" },
    replicates: 1,
  });
  const c = capture();
  assert.equal(await runStudy([spec, "--out", `${dir}/out`, "--jobs", "1", "--quiet"], c.io), 0);
  const out = c.out();
  // sequential (the baseline, added) and staged-history in two variants
  assert.match(
    out,
    /: 2 policies \(3 variants\) × 1 workload × 1 setting × 1 replicate; 3\/3 runs/,
  );
  assert.match(out, /above 0 in \d+ of 1 cell; 3 runs checked/);
  assert.match(out, /note: with 1 replicate no Wilcoxon/);
  assert.match(out, /\(1 cell\)/);
  assert.doesNotMatch(out, /\b1 (policies|runs|replicates|cells|workloads|settings)\b/);
  // every column of a rule has a header above it
  const lines = out.split("\n");
  for (const [i, l] of lines.entries()) {
    if (!/^-+( +-+)*$/.test(l)) continue;
    for (const m of l.matchAll(/-+/g)) {
      const head = lines[i - 1].slice(m.index, m.index + m[0].length);
      assert.ok(head.trim() !== "", `a column without a header above ${JSON.stringify(l)}`);
    }
  }
  assert.match(out, /Pareto\n/);
  Deno.removeSync(dir, { recursive: true });
});
