import assert from "node:assert/strict";
import { main } from "./matrix.ts";

const quiet = () => {
  let out = "";
  return {
    io: { out: (t: string) => void (out += t), err: () => {}, interactive: false },
    text: () => out,
  };
};

Deno.test("deno task bench runs the default study narrowed by its shortcut flags", async () => {
  const out = Deno.makeTempDirSync();
  const q = quiet();
  const code = await main([
    "--policy",
    "oracle",
    "--workload",
    "hotcold",
    "--workload",
    "uniform-light",
    "--memory",
    "8MiB",
    "--clear",
    "round",
    "--replicates",
    "2",
    "--jobs",
    "1",
    "--quiet",
    "--out",
    out,
  ], q.io);
  assert.equal(code, 0);
  const lines = Deno.readTextFileSync(`${out}/runs.jsonl`).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  // (sequential + oracle) × 2 workloads × 1 clear × 2 regimes × 2 replicates, and the
  // profiling part: 2 workloads × 4 trackers × 2 replicates
  assert.equal(lines.filter((l) => l.kind === "main").length, 16);
  assert.equal(lines.filter((l) => l.kind === "profile").length, 16);
  assert.deepEqual(
    new Set(lines.map((l) => l.setting.regime).filter(Boolean)),
    new Set(["qemu", "xen"]),
  );
  assert.ok(lines.every((l) => l.kind === "profile" || l.report.config.clear === "round"));
  const csv = Deno.readTextFileSync(`${out}/runs.csv`).trim().split("\n");
  assert.equal(csv.length, 33);
  assert.match(q.text(), /regime qemu/);
  // the oracle's bound holds in neither regime: it is listed as a future-informed heuristic
  assert.match(q.text(), /^oracle \(future-informed\) /m);
  assert.doesNotMatch(q.text(), /oracle \[bound\]/);
  assert.match(
    q.text(),
    /; stop-copy floor \[bound\] above 0 in \d of 4 cells; 16 runs checked, none below a bound$/m,
  );
  assert.match(q.text(), /profiling overhead/);
  for (const f of ["summary.json", "report.html", "tables.txt"]) Deno.statSync(`${out}/${f}`);
  Deno.removeSync(out, { recursive: true });
});

Deno.test("deno task bench rejects an unknown fixture or policy", async () => {
  const q = quiet();
  assert.equal(await main(["--workload", "nope", "--out", Deno.makeTempDirSync()], q.io), 2);
  assert.equal(await main(["--policy", "nope", "--out", Deno.makeTempDirSync()], q.io), 2);
});
