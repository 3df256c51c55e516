// Engine throughput: whole migrations of a 1 GiB guest (262 144 frames). Divide the pages
// sent (printed once below) by the time per run for pages/s. Run: deno task microbench
import { type ConfigInput, loadPolicy, parseWorkload, simulate } from "../mod.ts";

const sequential = await loadPolicy("sequential");
const staged = await loadPolicy("staged-history");
const cases: [string, string, ConfigInput, typeof sequential][] = [
  ["idle, sends only", "idle", {}, sequential],
  ["uniform 20k writes/s, clear=send", "uniform:rate=20k", { clear: "send" }, sequential],
  ["uniform 20k writes/s, clear=round", "uniform:rate=20k", { clear: "round" }, sequential],
  ["hotcold 40k writes/s, staged-history", "hotcold:rate=40k", {}, staged],
];
for (const [name, spec, config, policy] of cases) {
  const run = () =>
    simulate({ workload: parseWorkload(spec), policy, config: { bandwidth: 1.25e9, ...config } });
  const r = run();
  console.log(`${name}: ${r.pagesSent} sends, ${r.guestWrites} writes per run`);
  Deno.bench({ name, group: "1 GiB migration", baseline: spec === "idle", fn: () => void run() });
}

// The same run stepped one slot at a time (no batches), to show what batching saves.
Deno.bench({
  name: "uniform 20k writes/s, clear=send, exact stepping",
  group: "1 GiB migration",
  fn: () =>
    void simulate({
      workload: parseWorkload("uniform:rate=20k"),
      policy: sequential,
      config: { bandwidth: 1.25e9, clear: "send" },
      exact: true,
    }),
});

// The speed target (docs/speed.md): a 64 GiB guest, 27 M sends and 18 M writes (a few
// seconds per run, so only two runs; `deno task sim` adds Deno's start-up, about 0.1 s).
Deno.bench({
  name: "64 GiB, uniform 200k writes/s, 10 Gbit/s, sequential",
  group: "64 GiB target",
  n: 2,
  warmup: 0,
  fn: () =>
    void simulate({
      workload: parseWorkload("uniform:rate=200k"),
      policy: sequential,
      config: { pages: 16_777_216, bandwidth: 1.25e9 },
    }),
});
