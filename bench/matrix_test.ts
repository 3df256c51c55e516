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
  assert.match(csv[0], /^fixture,regime,policy,oracle,workload,/);
  assert.match(csv[1], /^hotcold,qemu,oracle,true,"hotcold:rate=40k,hot=15%,hotShare=95%",1,send,/);
  Deno.removeSync(out, { recursive: true });
});

Deno.test("deno task bench rejects an unknown fixture or policy", async () => {
  assert.equal(await main(["--workload", "nope"]), 2);
  assert.equal(await main(["--policy", "nope"]), 2);
});
