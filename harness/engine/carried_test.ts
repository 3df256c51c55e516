// RoundView.carried: the offered frames the previous round left unsent.
import assert from "node:assert/strict";
import {
  definePolicy,
  type LoadedPolicy,
  loadPolicy,
  parseWorkload,
  type RoundView,
  simulate,
} from "../../mod.ts";

/** A policy that records every round's offer and carried list and sends what `pick` says. */
function recorder(pick: (r: RoundView) => Uint32Array) {
  const rounds: { offered: number[]; carried: number[]; order: number[]; sent: number }[] = [];
  const policy: LoadedPolicy = {
    file: "inline",
    definition: definePolicy({
      meta: { name: "recorder", description: "test", defaults: {} },
      create: () => ({
        order(r) {
          const order = pick(r);
          rounds.push({
            offered: [...r.offered],
            carried: [...r.carried],
            order: [...order],
            sent: -1,
          });
          return order;
        },
        onRoundEnd(s) {
          rounds[rounds.length - 1].sent = s.sent;
        },
      }),
    }),
  };
  return { policy, rounds };
}

/** What the previous round left unsent, ascending. */
function expectedCarried(prev: { offered: number[]; order: number[]; sent: number }): number[] {
  const sent = new Set(prev.order.slice(0, prev.sent));
  return prev.offered.filter((p) => !sent.has(p));
}

Deno.test("RoundView.carried lists what a deferring policy left unsent (drain)", () => {
  // every round sends only the even-indexed half of its offer
  const { policy, rounds } = recorder((r) => r.offered.filter((_, i) => i % 2 === 0));
  simulate({
    workload: parseWorkload("uniform:rate=20k"),
    policy,
    config: { pages: 2048, startNs: 100e6, maxRounds: 5, bandwidth: 64e6, downtimeLimitNs: 0 },
  });
  assert.equal(rounds.length, 5);
  assert.deepEqual(rounds[0].carried, []);
  for (let k = 1; k < rounds.length; k++) {
    const want = expectedCarried(rounds[k - 1]);
    assert.ok(want.length > 0);
    assert.deepEqual(rounds[k].carried, want, `round ${k + 1}`);
    for (const p of rounds[k].carried) assert.ok(rounds[k].offered.includes(p));
  }
});

Deno.test("RoundView.carried lists QEMU's unsent tail (iteration=qemu)", () => {
  const { policy, rounds } = recorder((r) => r.offered);
  simulate({
    workload: parseWorkload("hotcold:rate=40k,hot=30%,hotShare=95%"),
    policy,
    config: {
      pages: 16384,
      bandwidth: 32 * 2 ** 20,
      iteration: "qemu",
      maxRounds: 6,
      startNs: 200e6,
    },
  });
  let tails = 0;
  for (let k = 1; k < rounds.length; k++) {
    const want = expectedCarried(rounds[k - 1]);
    tails += want.length;
    assert.deepEqual(rounds[k].carried, want, `round ${k + 1}`);
  }
  assert.ok(tails > 0, "the case must carry a tail");
});

Deno.test("staged-history tail=first sends the carried tail before every stage; keep does not", async () => {
  const staged = await loadPolicy("staged-history");
  const config = {
    pages: 16384,
    bandwidth: 32 * 2 ** 20,
    iteration: "qemu" as const,
    maxRounds: 8,
    startNs: 1e9,
  };
  const workload = "hotcold:rate=40k,hot=30%,hotShare=95%";
  const orders: Record<string, { carried: number[]; order: number[] }[]> = {};
  for (const tail of ["first", "keep"]) {
    const seen: { carried: number[]; order: number[] }[] = [];
    const wrapped: LoadedPolicy = {
      file: staged.file,
      definition: {
        meta: staged.definition.meta,
        create(params, env) {
          const inner = staged.definition.create(params, env);
          return {
            order(r) {
              const o = inner.order(r);
              seen.push({ carried: [...r.carried], order: Array.from(o) });
              return o;
            },
          };
        },
      },
    };
    simulate({ workload: parseWorkload(workload), policy: wrapped, params: { tail }, config });
    orders[tail] = seen;
  }
  const withTail = orders.first.filter((r) => r.carried.length > 0);
  assert.ok(withTail.length > 0);
  for (const r of withTail) {
    assert.deepEqual(r.order.slice(0, r.carried.length), r.carried); // ascending, first
  }
  // keep: the carried tail is not the head of the order (it is the hottest stage)
  const kept = orders.keep.filter((r) => r.carried.length > 0);
  assert.ok(kept.some((r) => r.order[0] !== r.carried[0]));
});
