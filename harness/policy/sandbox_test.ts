// The sandbox against hostile policy files (testdata/hostile/): each hostile action
// fails, the other policies' results are byte-identical, and nothing hangs.
import assert from "node:assert/strict";
import { simulate } from "../engine/engine.ts";
import { PrecopyError } from "../errors.ts";
import { parseWorkload } from "../workloads/spec.ts";
import { definePolicy, type LoadedPolicy } from "./contract.ts";
import { loadPolicy, scanPolicies } from "./loader.ts";

const HOSTILE = new URL("./testdata/hostile/", import.meta.url);
const hostile = (name: string) => new URL(`${name}.ts`, HOSTILE).pathname;

function run(policy: LoadedPolicy, workload = "hotcold:rate=20k,hot=10%"): string {
  return JSON.stringify(simulate({
    workload: parseWorkload(workload),
    policy,
    config: { pages: 4096, bandwidth: 64e6, startNs: 500e6, maxRounds: 6 },
  }));
}

async function fails(path: string, re: RegExp, timeoutMs?: number): Promise<void> {
  const p = await loadPolicy(path, { timeoutMs });
  try {
    assert.throws(() => run(p), (e: unknown) => {
      assert.ok(e instanceof PrecopyError, String(e));
      assert.match(e.message, re);
      return true;
    });
  } finally {
    p.sandbox?.close();
  }
}

Deno.test("sandbox: files, env, subprocesses, FFI, system info and network fail at import and in every hook", async () => {
  const p = await loadPolicy(hostile("probe-hooks"));
  try {
    const r = JSON.parse(run(p));
    assert.equal(r.verified, true);
  } finally {
    p.sandbox?.close();
  }
  await assert.rejects(
    loadPolicy(hostile("read-at-import")),
    /policy file .*read-at-import\.ts: cannot be loaded: .*(env|read) access/,
  );
});

Deno.test("sandbox: patching built-ins does not change another policy's results", async () => {
  const names = ["sequential", "staged-history", "lru-write", "random"];
  const before: string[] = [];
  for (const n of names) {
    const p = await loadPolicy(n);
    before.push(run(p));
    p.sandbox?.close();
  }
  const bad = await loadPolicy(hostile("patch-builtins"));
  run(bad);
  const after: string[] = [];
  for (const n of names) {
    const p = await loadPolicy(n);
    after.push(run(p));
    p.sandbox?.close();
  }
  bad.sandbox?.close();
  assert.deepEqual(after, before);
  // In-process, as a check that the comparison can fail: sort patched in this realm.
  assert.notEqual(Float64Array.prototype.sort.toString(), "function () { return this; }");
});

Deno.test("sandbox: Deno.exit in a hook ends the run with an error naming the policy", async () => {
  await fails(
    hostile("exit-in-hook"),
    /^policy 'exit-in-hook' \(.*exit-in-hook\.ts\): order\(\) in round 1 threw: called Deno\.exit\(0\)/,
  );
});

Deno.test("sandbox: process.exit in a hook fails with an error naming the policy", async () => {
  await fails(
    hostile("node-exit"),
    /^policy 'node-exit' .*order\(\) in round 1 threw: TypeError: Cannot assign to read only property .*realm is locked/,
  );
});

Deno.test("sandbox: an endless order() ends in a timeout naming the policy, hook and round", async () => {
  const t0 = performance.now();
  await fails(
    hostile("loop-in-order"),
    /^policy 'loop-in-order' .*order\(\) .*timed out: order\(\) gave no answer within 500\.00 ms in round 1/,
    500,
  );
  assert.ok(performance.now() - t0 < 20_000);
});

Deno.test("sandbox: an unhandled rejection is reported against the policy", async () => {
  await fails(
    hostile("reject-in-hook"),
    /^policy 'reject-in-hook' .*unhandled promise rejection: nobody listens/,
  );
});

Deno.test("sandbox: inputs are copies; scribbling on them changes nothing on the engine's side", async () => {
  const bad = await loadPolicy(hostile("mutate-inputs"));
  const reverse: LoadedPolicy = {
    file: "reverse.ts",
    definition: definePolicy({
      meta: { name: "mutate-inputs", description: "d", defaults: {} },
      create: () => ({ order: (r) => r.offered.slice().sort((a, b) => b - a), onScan() {} }),
    }),
  };
  try {
    const a = JSON.parse(run(bad)), b = JSON.parse(run(reverse));
    delete a.policy;
    delete b.policy;
    assert.deepEqual(a, b);
  } finally {
    bad.sandbox?.close();
  }
});

Deno.test("sandbox: a file that does not parse is one failing load naming the file; the rest load", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    Deno.writeTextFileSync(`${dir}/bad.ts`, "export default {{ meta:\n");
    Deno.copyFileSync(new URL("../../policies/sequential.ts", import.meta.url), `${dir}/seq.ts`);
    Deno.writeTextFileSync(
      `${dir}/seq.ts`,
      Deno.readTextFileSync(`${dir}/seq.ts`).replace(
        '"../policy.ts"',
        JSON.stringify(new URL("../../policy.ts", import.meta.url).href),
      ),
    );
    const { policies, broken } = await scanPolicies(new URL(`file://${dir}/`));
    assert.deepEqual(policies.map((p) => p.definition.meta.name), ["sequential"]);
    assert.equal(broken.length, 1);
    assert.match(broken[0].file, /bad\.ts$/);
    assert.match(broken[0].reason, /policy file .*bad\.ts: cannot be loaded: SyntaxError: /);
    assert.match(broken[0].reason, /\(at file:.*bad\.ts:\d+:\d+\)$/); // where, on one line
    assert.doesNotMatch(broken[0].reason, /\n/);
    for (const p of policies) p.sandbox?.close();
    await assert.rejects(loadPolicy(`${dir}/bad.ts`), /bad\.ts: cannot be loaded/);
    await assert.rejects(loadPolicy(dir), /policy file .*: is a directory/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sim: --policy-timeout ends an endless policy with one line and status 2; --param is checked", async () => {
  const { runSim } = await import("../cli/sim.ts");
  const sim = async (...args: string[]) => {
    let err = "";
    const io = { out: () => {}, err: (t: string) => void (err += t), interactive: false };
    return [await runSim(["--pages", "1024", ...args], io), err] as const;
  };
  const [code, err] = await sim("--policy", hostile("loop-in-order"), "--policy-timeout", "300ms");
  assert.equal(code, 2);
  assert.match(
    err,
    /^error: policy 'loop-in-order' .*timed out: order\(\) .*300\.00 ms in round 1/,
  );
  assert.equal(err.trim().split("\n").length, 1);
  for (
    const [args, re] of [
      [["--policy-timeout", "soon"], /^error: --policy-timeout: /],
      [["--policy", "staged-history", "--param", "stages=999"], /out of range 1–255/],
      [["--policy", "staged-history", "--param", "__proto__=1"], /unknown parameter '__proto__'/],
      [
        ["--policy", "staged-history", "--param", "constructor=1"],
        /unknown parameter 'constructor'/,
      ],
    ] as [string[], RegExp][]
  ) {
    const [c, e] = await sim(...args);
    assert.equal(c, 2, e);
    assert.match(e, re);
  }
});

Deno.test("study: a policy that fails a run is one line (file and reason); the rest completes", async () => {
  const { runStudy } = await import("../cli/study.ts");
  const dir = Deno.makeTempDirSync();
  try {
    const spec = {
      name: "hostile",
      policies: ["sequential", hostile("exit-in-hook")],
      workloads: [{ name: "light", spec: "uniform:rate=2k" }],
      regimes: ["xen"],
      settings: { memory: "1MiB", bandwidth: "16MiB/s" },
      replicates: { seeds: 2 },
    };
    Deno.writeTextFileSync(`${dir}/study.json`, JSON.stringify(spec));
    let err = "";
    const io = { out: () => {}, err: (t: string) => void (err += t), interactive: false };
    const code = await runStudy([`${dir}/study.json`, "--out", `${dir}/out`, "--jobs", "1"], io);
    assert.equal(code, 2, err);
    // the closing list: one line for both of its runs, naming the file and the reason
    const lines = err.split("\n").filter((l) => /^failed: policy 'exit-in-hook'/.test(l));
    assert.equal(lines.length, 1, err);
    assert.match(lines[0], /exit-in-hook\.ts\): .*called Deno\.exit\(0\) \(2 runs/);
    const runs = Deno.readTextFileSync(`${dir}/out/runs.jsonl`).trim().split("\n")
      .map((l) => JSON.parse(l));
    const done = runs.filter((r) => r.report);
    assert.equal(done.length, 2);
    assert.ok(done.every((r) => r.report.policy.name === "sequential"));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sandbox: an order the worker's checks refuse is reported as the engine's checks are", async () => {
  const dir = Deno.makeTempDirSync();
  const cases: [string, RegExp][] = [
    [
      "() => new Uint32Array(r.offered.length + 1)",
      /^policy 'x' \(.*x0\.js\): round 1: order\(\) returned 4097 entries, more than the 4096 frames offered$/,
    ],
    [
      "() => [undefined]",
      /^policy 'x' \(.*x1\.js\): round 1: order\(\) returned undefined at position 0, which is not a frame number$/,
    ],
  ];
  try {
    for (const [i, [order, re]] of cases.entries()) {
      const file = `${dir}/x${i}.js`; // JavaScript: a test run type-checks .ts policies
      Deno.writeTextFileSync(
        file,
        `export default { meta: { name: "x", description: "d", defaults: {} },\n` +
          `  create: () => ({ order: (r) => (${order})() }) };\n`,
      );
      await fails(file, re);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
