// The cost of each policy's order() on a round of 1 M offered frames with a realistic
// history (16 profiling intervals of a hot/cold guest). Every file in policies/ is found
// automatically, like the conformance suite. Run: deno task microbench
import {
  createFuture,
  loadPolicies,
  parseWorkload,
  type PolicyEnv,
  resolveParams,
  type RoundView,
  UpdateHistory,
  writeRates,
} from "../mod.ts";

const FRAMES = 1 << 20; // 4 GiB guest
const workload = parseWorkload("hotcold:rate=400k,hot=5%,hotShare=90%");

// History: 16 intervals of 100 ms taken from the workload itself.
const history = new UpdateHistory(FRAMES, 16, 100e6);
{
  const s = workload.open(FRAMES, 1);
  const seen = new Uint8Array(FRAMES);
  let list: number[] = [], boundary = 100e6;
  for (let c = s.next(); c && history.intervals < 16; c = s.next()) {
    for (let i = 0; i < c.length; i++) {
      if (c.t[i] >= boundary) {
        const l = Uint32Array.from(list);
        history.record(l, l);
        for (const p of list) seen[p] = 0;
        list = [];
        boundary += 100e6;
      }
      const p = c.pfn[i];
      if (!seen[p]) {
        seen[p] = 1;
        list.push(p);
      }
    }
  }
}
const offered = new Uint32Array(FRAMES).map((_, i) => i);
const round: RoundView = {
  index: 2,
  nowNs: 1.6e9,
  offered,
  carried: new Uint32Array(0),
  endEstimateNs: 1.6e9 + 3.4e9,
};

// The policy's own cost (imported in process), and the same calls through the sandbox's
// worker: the difference is what the sandbox adds per round (docs/sandbox.md).
const MODES = [
  { group: "order() on 1 M offered frames, in process", sandbox: false },
  { group: "order() on 1 M offered frames, through the sandbox", sandbox: true },
];
for (const { group, sandbox } of MODES) {
  for (const policy of await loadPolicies(undefined, { sandbox })) {
    const m = policy.definition.meta;
    Deno.bench({
      name: m.name,
      group,
      baseline: m.name === "sequential",
      fn(b) {
        const env: PolicyEnv = m.oracle
          ? {
            frames: FRAMES,
            pageSize: 4096,
            bandwidth: 1.25e9,
            seed: 1,
            history,
            future: createFuture(workload, FRAMES, 1),
            rates: writeRates(workload, FRAMES, 1, 5e9),
          }
          : { frames: FRAMES, pageSize: 4096, bandwidth: 1.25e9, seed: 1, history };
        const inst = policy.definition.create(resolveParams(policy, {}), env);
        // Round 1 stopped half-way (QEMU's rule re-synced mid-memory), so orders that resume
        // from a cursor do real work too.
        inst.onRoundEnd?.({
          index: 1,
          startNs: 1e9,
          endNs: 1.6e9,
          offered: FRAMES,
          sent: FRAMES / 2,
          deferred: FRAMES / 2,
          dirtyAtSync: FRAMES / 8,
          lastSent: FRAMES / 2 - 1,
        });
        b.start();
        inst.order(round);
        b.end();
      },
    });
  }
}
