import assert from "node:assert/strict";
import { resolveConfig } from "../config.ts";
import {
  type AutoConverge,
  decideSwitchover,
  type RoundEnd,
  startAutoConverge,
  stepAutoConverge,
  switchoverRule,
  thresholdBytes,
} from "./switchover.ts";

const at = (o: Partial<RoundEnd>): RoundEnd => ({
  round: 1,
  pending: 1000,
  pendingWireBytes: 1000 * 4104,
  pagesSent: 0,
  ...o,
});

Deno.test("thresholdBytes() is what the link moves within the downtime limit", () => {
  assert.equal(thresholdBytes({ bandwidth: 128 * 1024 * 1024, downtimeLimitNs: 1e9 }), 2 ** 27);
  assert.equal(thresholdBytes({ bandwidth: 1e9, downtimeLimitNs: 0 }), 0);
});

Deno.test("draining rounds pause at or below the threshold, in wire bytes", () => {
  // 1e6 B/s × 1 s = 1e6 bytes
  const rule = switchoverRule(resolveConfig({ bandwidth: 1e6, downtimeLimitNs: 1e9 }));
  assert.equal(decideSwitchover(rule, at({ pendingWireBytes: 1e6 })), "downtime-limit");
  assert.equal(decideSwitchover(rule, at({ pendingWireBytes: 1e6 + 1 })), null);
  // zero pages count as markers: the pending count alone does not decide
  assert.equal(
    decideSwitchover(rule, at({ pending: 1e6, pendingWireBytes: 9e5 })),
    "downtime-limit",
  );
});

Deno.test("QEMU's rounds pause strictly below the threshold, in dirty bytes", () => {
  const rule = switchoverRule(
    resolveConfig({ iteration: "qemu", bandwidth: 4096e3, downtimeLimitNs: 1e9 }),
  );
  // threshold 4 096 000 bytes = 1 000 frames of 4 KiB
  assert.equal(decideSwitchover(rule, at({ pending: 1000, pendingWireBytes: 0 })), null);
  assert.equal(
    decideSwitchover(rule, at({ pending: 999, pendingWireBytes: 1e12 })),
    "downtime-limit",
  );
});

Deno.test("the rules apply in order: min-pending, downtime limit, rounds, transfer factor", () => {
  const rule = switchoverRule(resolveConfig({
    pages: 1000,
    downtimeLimitNs: 0,
    minPending: 50,
    maxRounds: 5,
    maxTransferFactor: 2,
  }));
  // nothing pending meets both min-pending and the limit: min-pending is named
  assert.equal(decideSwitchover(rule, at({ pending: 0, pendingWireBytes: 0 })), "min-pending");
  assert.equal(decideSwitchover(rule, at({ pending: 49, round: 9 })), "min-pending");
  assert.equal(decideSwitchover(rule, at({ pending: 50, round: 4 })), null);
  assert.equal(decideSwitchover(rule, at({ round: 5, pagesSent: 5000 })), "max-rounds");
  assert.equal(decideSwitchover(rule, at({ round: 4, pagesSent: 2000 })), "max-transfer-factor");
  assert.equal(decideSwitchover(rule, at({ round: 4, pagesSent: 1999 })), null);
  // off when 0
  const off = switchoverRule(resolveConfig({ pages: 1000, downtimeLimitNs: 0 }));
  assert.equal(decideSwitchover(off, at({ pending: 1, round: 29, pagesSent: 1e9 })), null);
  assert.equal(decideSwitchover(off, at({ pending: 0, pendingWireBytes: 0 })), "downtime-limit");
});

Deno.test("auto-converge judges a period once it lasted 1 s, and throttles on the second high one", () => {
  let s: AutoConverge = startAutoConverge(1e9);
  s = stepAutoConverge(s, 600, 1000, 1.5e9); // within the period: only summed
  assert.deepEqual([s.dirtiedBytes, s.sentBytes, s.highPeriods], [600, 1000, 0]);
  s = stepAutoConverge(s, 0, 0, 2e9); // period over: 600 > 500, high
  assert.deepEqual([s.periodStartNs, s.dirtiedBytes, s.sentBytes, s.highPeriods], [2e9, 0, 0, 1]);
  assert.equal(s.throttlePct, 0);
  s = stepAutoConverge(s, 500, 1000, 3e9); // exactly half: not high
  assert.deepEqual([s.highPeriods, s.throttlePct], [1, 0]);
  s = stepAutoConverge(s, 501, 1000, 4e9); // the second high period (a calm one between)
  assert.deepEqual([s.highPeriods, s.throttlePct, s.steps], [0, 20, 1]);
});

Deno.test("auto-converge raises the throttle by 10 % a step up to 99 %, without changing its input", () => {
  let s = startAutoConverge(0);
  const seen: number[] = [];
  for (let t = 1; t <= 24; t++) {
    const before = { ...s };
    const next = stepAutoConverge(s, 2, 1, t * 1e9);
    assert.deepEqual(s, before);
    s = next;
    if (t % 2 === 0) seen.push(s.throttlePct);
  }
  assert.deepEqual(seen, [20, 30, 40, 50, 60, 70, 80, 90, 99, 99, 99, 99]);
  assert.equal(s.steps, 12);
});
