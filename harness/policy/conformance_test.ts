import assert from "node:assert/strict";
import { definePolicy, type LoadedPolicy, type Policy } from "../../mod.ts";
import { conformanceChecks } from "./conformance.ts";

function policy(create: () => Policy): LoadedPolicy {
  return {
    file: "broken.ts",
    definition: definePolicy({ meta: { name: "broken", description: "d", defaults: {} }, create }),
  };
}

function failures(p: LoadedPolicy): string[] {
  const out: string[] = [];
  for (const c of conformanceChecks(p)) {
    try {
      c.run();
    } catch (e) {
      out.push((e as Error).message);
    }
  }
  return out;
}

Deno.test("conformanceChecks() passes a well-behaved policy", () => {
  assert.deepEqual(failures(policy(() => ({ order: (r) => r.offered.slice().reverse() }))), []);
});

Deno.test("conformanceChecks() catches a policy that sorts round.offered in place", () => {
  const f = failures(policy(() => ({ order: (r) => r.offered.sort((a, b) => b - a) })));
  assert.ok(f.some((m) => /modified round\.offered/.test(m)), f.join("\n"));
});

Deno.test("conformanceChecks() catches duplicates and frames that were not offered", () => {
  const dup = failures(policy(() => ({ order: (r) => [...r.offered, ...r.offered] })));
  assert.ok(dup.some((m) => /twice/.test(m)), dup.join("\n"));
  const extra = failures(policy(() => ({ order: (r) => [...r.offered, 100000] })));
  assert.ok(extra.some((m) => /not offered/.test(m)), extra.join("\n"));
});

Deno.test("conformanceChecks() catches a policy that is not deterministic under a seed", () => {
  const f = failures(policy(() => ({
    order: (r) => r.offered.slice().sort(() => Math.random() - 0.5),
  })));
  assert.ok(f.some((m) => /decided differently/.test(m)), f.join("\n"));
});

Deno.test("conformanceChecks() catches a filter that writes keep values other than 0 or 1", () => {
  const f = failures(policy(() => ({
    order: (r) => r.offered.slice(),
    filter: (b) => b.keep.fill(2),
  })));
  assert.ok(f.some((m) => /keep value/.test(m)), f.join("\n"));
});

Deno.test("conformanceChecks() names the policy and file in every failure", () => {
  const f = failures(policy(() => ({ order: () => [1, 1] })));
  assert.ok(f.length > 0);
  for (const m of f) assert.match(m, /^policy 'broken' \(broken\.ts\): /);
});

Deno.test("registerConformanceTests(): a broken file is one failing test named after it; the rest pass", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const api = JSON.stringify(new URL("../../policy.ts", import.meta.url).href);
    Deno.writeTextFileSync(
      `${dir}/reverse.ts`,
      `import { definePolicy } from ${api};\nexport default definePolicy({ meta: { name: "reverse", description: "High first.", defaults: {} }, create: () => ({ order: (r) => r.offered.slice().reverse() }) });\n`,
    );
    Deno.writeTextFileSync(`${dir}/broken.ts`, "export default {{ meta:\n");
    Deno.writeTextFileSync(
      `${dir}/conformance_test.ts`,
      `import { registerConformanceTests } from ${
        JSON.stringify(new URL("./conformance.ts", import.meta.url).href)
      };\nawait registerConformanceTests(new URL("./", import.meta.url));\n`,
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "test",
        "--no-prompt",
        "--no-check",
        "--no-config",
        "--unstable-worker-options",
        "--allow-read",
        `${dir}/conformance_test.ts`,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, text);
    assert.match(text, /policy conformance: reverse \(.*reverse\.ts\) \.\.\. ok/);
    assert.match(text, /policy conformance: .*broken\.ts \.\.\. FAILED/);
    assert.match(text, /FAILED \| 1 passed .*\| 1 failed/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
