import assert from "node:assert/strict";
import { main } from "./matrix.ts";

Deno.test("deno task bench writes tables, results.json and results.csv for the chosen cells", async () => {
  const out = Deno.makeTempDirSync();
  const code = await main([
    "--policy",
    "sequential",
    "--policy",
    "oracle",
    "--workload",
    "hotcold",
    "--memory",
    "16MiB",
    "--out",
    out,
  ]);
  assert.equal(code, 0);
  const json = JSON.parse(Deno.readTextFileSync(`${out}/results.json`));
  // 2 policies × 1 workload × 2 clear modes × 2 regimes
  assert.equal(json.length, 8);
  assert.deepEqual(
    new Set(json.map((r: { regime: string }) => r.regime)),
    new Set(["qemu", "xen"]),
  );
  const csv = Deno.readTextFileSync(`${out}/results.csv`).trim().split("\n");
  assert.equal(csv.length, 9);
  assert.match(csv[0], /^fixture,regime,policy,oracle,role,workload,/);
  assert.match(
    csv[1],
    /^hotcold,qemu,oracle,true,future-informed heuristic,"hotcold:rate=40k,hot=15%,hotShare=95%",1,send,/,
  );
  // the floor: one per cell, never beaten by a run of the cell, and above the fixed costs
  const floors = JSON.parse(Deno.readTextFileSync(`${out}/floors.json`));
  assert.equal(floors.length, 4);
  for (const f of floors) {
    const cell = json.filter((r: { regime: string; config: { clear: string } }) =>
      r.regime === f.regime && r.config.clear === f.clear
    );
    assert.equal(cell.length, 2);
    for (const r of cell) {
      assert.ok(r.stopCopyPages >= f.stopCopyPages);
      assert.ok(r.downtimeNs >= f.downtimeNs);
      assert.ok(r.config.pauseResumeNs > 0 && r.config.deviceState > 0);
    }
    assert.ok(f.downtimeNs >= 10e6);
  }
  assert.ok(floors.some((f: { stopCopyPages: number }) => f.stopCopyPages > 0));
  Deno.removeSync(out, { recursive: true });
});

Deno.test("deno task bench rejects an unknown fixture or policy", async () => {
  assert.equal(await main(["--workload", "nope"]), 2);
  assert.equal(await main(["--policy", "nope"]), 2);
});
