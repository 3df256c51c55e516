/**
 * The command lines under random input: `sim`, `analyze` and `trace` get random flags from
 * their tables with random values (numbers huge, negative, NaN, hex, empty; units right
 * and wrong; words that name object properties), random workload specs and policies, and
 * random paths. Each run must end in exit 0 with a report, or exit 2 with exactly one line
 * `error: …` that names a flag or an input — never exit 1, a stack trace or a hang. A
 * small guest and a small event budget keep every case short; docs/robustness.md says
 * what is tried.
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { configOptions } from "../config.ts";
import { GENERATOR_NAMES } from "../workloads/workload.ts";
import { runAnalyze } from "./analyze.ts";
import { runSim } from "./sim.ts";
import { runTrace } from "./trace.ts";

/** Runs a task with captured output; returns status, output, error text and wall time. */
async function run(task: (args: string[], io: never) => Promise<number>, args: string[]) {
  let out = "", err = "";
  const io = {
    out: (t: string) => void (out += t),
    err: (t: string) => void (err += t),
    interactive: false,
  };
  const t0 = performance.now();
  const status = await task(args, io as never);
  return { status, out, err, ms: performance.now() - t0 };
}

/** The flags given (`--x`) and their values, for "the error names a flag or an input". */
function namesInput(line: string, args: string[]): boolean {
  const flags = args.filter((a) => a.startsWith("--")).map((a) => a.split("=")[0]);
  if (flags.some((f) => f.length > 2 && line.includes(f))) return true;
  if (args.some((a) => a.length > 0 && line.includes(`'${a}'`))) return true;
  if (args.some((a) => a.includes("/") && line.includes(a))) return true; // a path
  // a workload spec, trace, policy or parameter named by its kind, or the run's budget
  return /workload|trace|policy|param|--max-events|generator|fixture|frames|input file|output file|[Oo]ption '/
    .test(line);
}

/** The outcome every case must have. */
function checkOutcome(
  r: { status: number; out: string; err: string; ms: number },
  args: string[],
  json: boolean,
): void {
  const where = `args: ${JSON.stringify(args)}\nstderr: ${r.err}`;
  assert.ok(r.status === 0 || r.status === 2, `exit ${r.status}; ${where}`);
  assert.doesNotMatch(r.err, /internal error|a bug in precopy-lab|^\s+at /m, where);
  assert.ok(r.ms < 5000, `took ${r.ms.toFixed(0)} ms; ${where}`);
  if (r.status === 0) {
    assert.ok(r.out.length > 0, where);
    if (json) JSON.parse(r.out);
    for (const line of r.err.split("\n").filter(Boolean)) assert.match(line, /^warning: /, where);
  } else {
    const lines = r.err.split("\n").filter(Boolean);
    assert.equal(lines.length, 1, where);
    assert.match(lines[0], /^error: /, where);
    assert.ok(namesInput(lines[0], args), `the error names no flag or input; ${where}`);
  }
}

const WORDS = [
  "",
  "0",
  "-0",
  "-1",
  "1",
  "2",
  "64",
  "4096",
  "1e6",
  "1e400",
  "-1e400",
  "1e-400",
  "NaN",
  "Infinity",
  "-Infinity",
  "0x10",
  "0b1",
  "1_000",
  " 1",
  "9007199254740993",
  "1.5",
  "5%",
  "150%",
  "1bit/s",
  "1Gbit/s",
  "1B/s",
  "1ns",
  "5ms",
  "1s",
  "1000s",
  "2MiB",
  "256KiB",
  "1TiB",
  "round",
  "send",
  "chunk",
  "chunk:0",
  "chunk:16",
  "drain",
  "qemu",
  "ept-ad",
  "wp",
  "pml",
  "dirty-ring",
  "constructor",
  "__proto__",
  "toString",
  "x=1",
];

/** A value as a user might type it, right or wrong. */
const value = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...WORDS) },
  fc.integer({ min: -1000, max: 1e9 }).map(String),
  fc.double().map(String),
  fc.string({ maxLength: 6 }),
  fc.tuple(
    fc.double({ min: 0, max: 1e4, noNaN: true }),
    fc.constantFrom("", "k", "M", "G", "ns", "us", "ms", "s", "KiB", "MiB", "GiB", "MB/s", "%"),
  ).map(([n, u]) => `${n}${u}`),
);

const PARAM_KEYS = [
  "rate",
  "reads",
  "hot",
  "hotShare",
  "period",
  "footprint",
  "zero",
  "constructor",
];

/** A workload spec: a generator with random parameters, a fixture trace, or nonsense. */
const workload = fc.oneof(
  fc.tuple(
    fc.constantFrom(...GENERATOR_NAMES, "nope", "constructor"),
    fc.array(fc.tuple(fc.constantFrom(...PARAM_KEYS), value), { maxLength: 3 }),
  ).map(([g, ps]) => ps.length ? `${g}:${ps.map(([k, v]) => `${k}=${v}`).join(",")}` : g),
  fc.constantFrom(
    "mix:uniform(rate=2k)+hotcold(rate=1k)",
    "mix:uniform(rate=1e400)",
    "fixtures/traces/gcc.pctrace",
    "fixtures/traces/none.pctrace",
    "fixtures/traces",
    "fixtures/traces/gcc.pctrace:offset=1GiB",
  ),
  fc.string({ maxLength: 10 }),
);

const policy = fc.constantFrom(
  "sequential",
  "staged-history",
  "random",
  "hot-defer",
  "skip-dirty",
  "lru-write",
  "oracle",
  "nope",
  "",
  "constructor",
  "fixtures",
  "./no/such/policy.ts",
);

const SIM_FLAGS = Object.keys(configOptions()).filter((f) => f !== "pages" && f !== "memory");

/** One flag with its value (a switch alone), as arguments. */
const simFlag = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom(...SIM_FLAGS), value) },
  fc.tuple(fc.constantFrom("memory", "pages"), value),
  fc.tuple(fc.constant("workload"), workload),
  fc.tuple(fc.constant("policy"), policy),
  fc.tuple(
    fc.constant("param"),
    fc.tuple(fc.constantFrom(...PARAM_KEYS, "stages"), value)
      .map(([k, v]) => `${k}=${v}`),
  ),
  fc.tuple(fc.constant("max-events"), value),
  fc.tuple(fc.constantFrom("nope", "json", "quiet", "x"), value),
  // well-formed values too, so combinations of valid flags are run, not only rejected
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      ["clear", "round"],
      ["clear", "chunk:16"],
      ["tracker", "wp"],
      ["tracker", "pml"],
      ["iteration", "qemu"],
      ["bandwidth", "1Gbit/s"],
      ["downtime-limit", "30ms"],
      ["seed", "7"],
      ["vcpus", "2"],
      ["history", "8"],
      ["profile-interval", "50ms"],
      ["cost-exit", "1us"],
      ["policy-timeout", "1min"],
    ),
  },
).map(([f, v]) =>
  configOptions()[f]?.type === "boolean" || f === "json" || f === "quiet"
    ? [`--${f}`]
    : [`--${f}`, v]
);

/** Keeps a case small: a 64-frame guest unless it gives its own memory, a small budget. */
function small(args: string[], budget: string): string[] {
  const memory = args.includes("--memory");
  return [
    ...args,
    ...(memory ? ["--memory", "256KiB"] : ["--pages", "64"]),
    "--max-events",
    budget,
  ];
}

Deno.test("sim: random flags and values end in a report or one error line naming the input", async () => {
  const RUNS = 400;
  const seen = [0, 0, 0];
  await fc.assert(
    fc.asyncProperty(fc.array(simFlag, { minLength: 1, maxLength: 4 }), async (flags) => {
      const args = small(flags.flat(), "2e5");
      const r = await run(runSim, [...args, "--json"]);
      checkOutcome(r, args, true);
      seen[r.status]++;
    }),
    { numRuns: RUNS, seed: 20261204 },
  );
  // both outcomes are exercised, not only the errors: at least a tenth of the cases each
  // (runs grow with the config table, whose random values mostly fail)
  assert.ok(seen[0] >= RUNS / 10 && seen[2] >= RUNS / 10, `exit 0: ${seen[0]}, exit 2: ${seen[2]}`);
});

Deno.test("sim: flags given twice, empty or as a switch, and stray arguments", async () => {
  for (const args of [["--max-events", "0"], ["--max-events", "1e400"], ["--max-events", "-1"]]) {
    const r = await run(runSim, ["--pages", "64", ...args]);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.err}`);
    checkOutcome(r, args, false);
  }
  for (
    const args of [
      ["--seed"],
      ["--seed", ""],
      ["--json=1"],
      ["--no-flush=yes"],
      ["stray"],
      ["--", "--seed", "1"],
      ["--memory", "1MiB", "--pages", "64"],
      ["--start", "1s", "--warmup", "2s"],
      ["--workload", "uniform", "--max-events", "10"],
      ["--bandwidth", "1bit/s"],
      ["--profile-interval", "1ns"],
      ["--start", "100000s"],
      ["--workload", "uniform:reads=1e400"],
      ["--workload", "uniform:rate=1e400"],
      ["--workload", "hotcold:hot=NaN"],
      ["--workload", "phases:period=0"],
      ["--workload", "uniform:constructor=1"],
      ["--workload", "hotcold:rate=5k,rate=6k"],
      ["--policy", "random", "--policy", "sequential"],
      ["--memory", "8MiB", "--memory=16MiB"],
      ["--seed", "1", "--seed", "1"],
    ]
  ) {
    const r = await run(runSim, ["--pages", "64", "--json", "--max-events", "2e5", ...args]);
    assert.equal(r.status, 2, `${args.join(" ")}: ${r.err}`);
    checkOutcome(r, args, true);
  }
});

const analyzeFlag = fc.oneof(
  fc.tuple(
    fc.constantFrom("duration", "bandwidth", "downtime-limit", "seed", "max-events", "memory"),
    value,
  ).map(([f, v]) => [`--${f}`, v]),
  fc.constantFrom(["--fit"], ["--json"], ["--nope", "1"]),
);

Deno.test("analyze: random specs, flags and values end in an analysis or one error line", async () => {
  const seen = [0, 0, 0];
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        workload,
        fc.constantFrom("uniform", "hotcold:rate=2k", "idle", "sequential", "phases:period=1s"),
      ),
      fc.array(analyzeFlag, { maxLength: 3 }),
      async (spec, flags) => {
        const args = small([spec, ...flags.flat()], "1e6");
        const r = await run(runAnalyze, [...args, "--json"]);
        checkOutcome(r, args, true);
        seen[r.status]++;
      },
    ),
    { numRuns: 150, seed: 20261205 },
  );
  assert.ok(seen[0] >= 15 && seen[2] >= 15, `exit 0: ${seen[0]}, exit 2: ${seen[2]}`);
});

Deno.test("trace: random commands, paths and flags end in a result or one error line", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const CSV = "t_ns,frame,op\n0,1,w\n5,2,w\n9,1,r\n";
    Deno.mkdirSync(`${dir}/sub.csv`);
    // a copy: any path the test names may be written to
    Deno.copyFileSync(
      new URL("../../fixtures/traces/sort.pctrace", import.meta.url),
      `${dir}/sort.pctrace`,
    );
    const input = fc.constantFrom(
      `${dir}/in.csv`,
      `${dir}/./in.csv`,
      `${dir}/none.csv`,
      `${dir}/sub.csv`,
      `${dir}/sort.pctrace`,
      "",
    );
    const output = fc.oneof(
      fc.constantFrom(`${dir}/in.csv`, `${dir}/sub.csv`, `${dir}/missing/o.csv`, "", dir),
      fc.tuple(
        fc.constantFrom("o", "p", ".hidden"),
        fc.constantFrom(".csv", ".jsonl", ".pctrace", ".txt", ""),
      )
        .map(([n, e]) => `${dir}/${n}${e}`),
    );
    const cmd = fc.oneof(
      fc.tuple(fc.constantFrom("import", "export"), input, output).map(([c, i, o]) => [c, i, o]),
      input.map((i) => ["info", i]),
      fc.tuple(
        fc.constantFrom("info", "import", "export", "nope", ""),
        fc.array(input, { maxLength: 3 }),
      )
        .map(([c, xs]) => [c, ...xs]),
    );
    const flag = fc.constantFrom([], ["--no-compress"], ["--nope"], ["--no-compress=1"]);
    await fc.assert(
      fc.asyncProperty(cmd, flag, async (c, f) => {
        const args = [...c, ...f];
        Deno.writeTextFileSync(`${dir}/in.csv`, CSV);
        const r = await run(runTrace, args);
        if (args[0] === "" && args.length === 1) return; // no command: the help, exit 2
        checkOutcome(r, args, false);
        // a failed run changes no file (the input is never its own output; outputs are
        // written whole or not at all)
        if (r.status !== 0) assert.equal(Deno.readTextFileSync(`${dir}/in.csv`), CSV);
      }),
      { numRuns: 120, seed: 20261206 },
    );
    // and nothing half-written is left behind
    assert.deepEqual([...Deno.readDirSync(dir)].filter((e) => e.name.startsWith(".tmp-")), []);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
