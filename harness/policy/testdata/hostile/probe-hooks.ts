// Hostile: tries every permission in every hook, and counts how many succeeded. Each
// attempt must fail; the counts come back to the test as the order's length.
import { definePolicy } from "../../../../policy.ts";

function attempts(): number {
  const tries: (() => unknown)[] = [
    () => Deno.readTextFileSync("/etc/passwd"),
    () => Deno.writeTextFileSync("/tmp/precopy-lab-hostile", "x"),
    () => Deno.env.get("HOME"),
    () => new Deno.Command("sh", { args: ["-c", "true"] }).outputSync(),
    () => Deno.dlopen("libc.so.6", {}),
    () => Deno.hostname(),
    () => Deno.osRelease(),
    () => Deno.systemMemoryInfo(),
    () => Deno.listen({ port: 0 }),
  ];
  let ok = 0;
  for (const t of tries) {
    try {
      t();
      ok++;
    } catch { /* denied, as it should be */ }
  }
  return ok;
}

const atImport = attempts();

export default definePolicy({
  meta: { name: "probe-hooks", description: "Tries every permission.", defaults: {} },
  create() {
    let seen = atImport + attempts();
    return {
      order(round) {
        seen += attempts();
        if (seen > 0) throw new Error(`${seen} forbidden operations succeeded`);
        return round.offered;
      },
      filter() {
        seen += attempts();
      },
      onScan() {
        seen += attempts();
      },
      onRoundEnd() {
        seen += attempts();
        if (seen > 0) throw new Error(`${seen} forbidden operations succeeded`);
      },
    };
  },
});
