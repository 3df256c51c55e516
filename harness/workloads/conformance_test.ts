import { workloadCases, workloadChecks } from "./conformance.ts";

const RECORDED = new URL("../../fixtures/traces/", import.meta.url).pathname;
const recorded = [...Deno.readDirSync(RECORDED)]
  .filter((e) => e.name.endsWith(".pctrace"))
  .map((e) => `${RECORDED}${e.name}`)
  .sort();
const dir = Deno.makeTempDirSync();

// One test per workload, one step per promise: a new generator or trace kind is covered
// here with no line of test written for it.
for (const c of workloadCases(dir, recorded)) {
  Deno.test(`workload conformance: ${c.spec.replace(dir, "<tmp>").replace(RECORDED, "")}`, async (t) => {
    for (const check of workloadChecks(c)) await t.step(check.name, () => check.run());
  });
}

Deno.test("workload conformance: clean up the fixtures", () => {
  Deno.removeSync(dir, { recursive: true });
});
