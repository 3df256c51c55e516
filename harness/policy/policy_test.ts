import assert from "node:assert/strict";
import { PrecopyError } from "../errors.ts";
import { orderByKey } from "./contract.ts";
import { loadPolicies, loadPolicy, resolveParams } from "./loader.ts";

Deno.test("loadPolicies() finds every policy file, skipping tests and _files", async () => {
  const names = (await loadPolicies()).map((p) => p.definition.meta.name);
  for (
    const n of [
      "sequential",
      "random",
      "skip-dirty",
      "hot-defer",
      "staged-history",
      "lru-write",
      "rate-oracle",
      "oracle",
    ]
  ) {
    assert.ok(names.includes(n), n);
  }
  assert.ok(!names.some((n) => n.includes("conformance")));
});

Deno.test("loadPolicies() picks up a new file in a folder without other edits", async () => {
  const dir = Deno.makeTempDirSync();
  const mod = new URL("../../mod.ts", import.meta.url).href;
  Deno.writeTextFileSync(
    `${dir}/reverse.ts`,
    `import { definePolicy } from "${mod}";\nexport default definePolicy({ meta: { name: "reverse", description: "High first.", defaults: {} }, create: () => ({ order: (r) => r.offered.slice().reverse() }) });\n`,
  );
  Deno.writeTextFileSync(`${dir}/_helper.ts`, "export const x = 1;\n");
  const all = await loadPolicies(new URL(`file://${dir}/`));
  assert.deepEqual(all.map((p) => p.definition.meta.name), ["reverse"]);
  const one = await loadPolicy(`${dir}/reverse.ts`);
  assert.equal(one.definition.meta.name, "reverse");
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("loadPolicy() explains what is wrong with a file that does not fit the contract", async () => {
  const dir = Deno.makeTempDirSync();
  const cases: [string, RegExp][] = [
    ["export const x = 1;", /no default export/],
    [
      "export default { meta: { name: 'Bad Name', description: 'd', defaults: {} }, create() {} };",
      /kebab-case/,
    ],
    [
      "export default { meta: { name: 'x', description: 'd', defaults: { a: [] } }, create() {} };",
      /defaults\.a must be/,
    ],
    [
      "export default { meta: { name: 'x', description: 'd', defaults: {} } };",
      /create\(params, env\) is missing/,
    ],
    ["this is not typescript(", /cannot be loaded/],
  ];
  for (const [i, [src, re]] of cases.entries()) {
    Deno.writeTextFileSync(`${dir}/p${i}.ts`, src);
    await assert.rejects(loadPolicy(`${dir}/p${i}.ts`), (e: unknown) => {
      assert.ok(e instanceof PrecopyError);
      assert.match(e.message, new RegExp(`policy file .*p${i}\\.ts: `));
      assert.match(e.message, re);
      return true;
    });
  }
  await assert.rejects(
    loadPolicy("no-such-policy"),
    /no policy named 'no-such-policy'; available: .*sequential/,
  );
  await assert.rejects(loadPolicy("./nope.ts"), /file '\.\/nope\.ts' not found/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("resolveParams() types overrides by the defaults and rejects unknown keys", async () => {
  const p = await loadPolicy("staged-history");
  assert.deepEqual(resolveParams(p, { stages: "8", rule: "recency" }), {
    stages: 8,
    window: 8,
    rule: "recency",
    tail: "first",
  });
  assert.throws(
    () => resolveParams(p, { stage: "8" }),
    /unknown parameter 'stage'; accepted: stages, window, rule, tail/,
  );
  assert.throws(
    () => resolveParams(p, { stages: "many" }),
    /--param stages: 'many' is not a number/,
  );
});

Deno.test("orderByKey() sorts by key then frame, for integer and real keys", () => {
  const frames = Uint32Array.of(0, 1, 2, 3, 4);
  assert.deepEqual([...orderByKey(frames, [3, 1, 3, 0, 1])], [3, 1, 4, 0, 2]);
  assert.deepEqual([...orderByKey(frames, [0.5, -1, 0.5, 2e9, -1])], [1, 4, 0, 2, 3]);
});
