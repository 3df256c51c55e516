// The conformance suite, run for every policy file in this folder: a new file is covered
// without editing any test.
import { loadPolicies } from "../harness/policy/loader.ts";
import { conformanceChecks } from "../harness/policy/conformance.ts";

for (const policy of await loadPolicies()) {
  Deno.test(`policy conformance: ${policy.definition.meta.name} (${policy.file})`, async (t) => {
    for (const check of conformanceChecks(policy)) {
      await t.step(check.name, () => check.run());
    }
  });
}
