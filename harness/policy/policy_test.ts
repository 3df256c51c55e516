import assert from "node:assert/strict";
import { PrecopyError } from "../errors.ts";
import { orderByKey } from "./contract.ts";
import { checkPolicyModule, loadPolicies, loadPolicy, resolveParams } from "./loader.ts";

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

Deno.test("resolveParams() holds values to the schema: ranges, choices, whole numbers, finite", async () => {
  const p = await loadPolicy("staged-history");
  p.sandbox?.close();
  const bad: [Record<string, string | number>, RegExp][] = [
    [{ stages: "0" }, /--param stages: 0 is out of range 1–255/],
    [{ stages: "256" }, /--param stages: 256 is out of range 1–255/],
    [{ stages: "2.5" }, /--param stages: 2\.5 is not a whole number/],
    [{ stages: "1e400" }, /--param stages: '1e400' is not a number/],
    [{ stages: NaN }, /--param stages: NaN is not a finite number/],
    [{ window: Infinity }, /--param window: Infinity is not a finite number/],
    [{ rule: "fifo" }, /--param rule: "fifo" is not one of count, recency/],
  ];
  for (const [given, re] of bad) {
    assert.throws(() => resolveParams(p, given), (e: unknown) => {
      assert.ok(e instanceof PrecopyError);
      assert.match(e.message, /^policy 'staged-history' \(policies\/staged-history\.ts\): /);
      assert.match(e.message, re);
      return true;
    });
  }
  assert.deepEqual(resolveParams(p, { stages: 255, window: "1" }), {
    stages: 255,
    window: 1,
    rule: "count",
    tail: "first",
  });
});

Deno.test("resolveParams() and the units are safe against words such as constructor and __proto__", async () => {
  const p = await loadPolicy("staged-history");
  p.sandbox?.close();
  const flags: Record<string, string> = Object.create(null);
  for (const k of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
    flags[k] = "1";
    assert.throws(() => resolveParams(p, flags), new RegExp(`unknown parameter '${k}'`));
    delete flags[k];
  }
  for (const v of ["1constructor", "2toString", "3__proto__"]) {
    assert.throws(() => resolveParams(p, { stages: v }), /is not a number/);
  }
});

Deno.test("checkPolicyModule() rejects a schema that does not fit the defaults", () => {
  const mod = (meta: Record<string, unknown>) => ({
    default: { meta: { name: "x", description: "d", ...meta }, create() {} },
  });
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ defaults: { a: NaN } }, /meta\.defaults\.a must be a finite number/],
    [{ defaults: { a: 1 }, params: {} }, /meta\.params\.a is missing/],
    [{ defaults: {}, params: { a: { type: "boolean" } } }, /meta\.params\.a has no default/],
    [
      { defaults: { a: 300 }, params: { a: { type: "integer", min: 1, max: 255 } } },
      /meta\.params\.a: the default 300 is out of range 1–255/,
    ],
    [
      { defaults: { a: "x" }, params: { a: { type: "choice", choices: ["y"] } } },
      /meta\.params\.a: the default "x" is not one of y/,
    ],
    [{ defaults: { a: 1 }, params: { a: { type: "int" } } }, /type must be one of/],
  ];
  for (const [meta, re] of cases) {
    assert.throws(() => checkPolicyModule(mod(meta), "x.ts"), re);
  }
});
