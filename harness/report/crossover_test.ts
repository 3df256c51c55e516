import assert from "node:assert/strict";
import { loadPolicy, parseWorkload } from "../../mod.ts";
import type { ConfigInput } from "../config.ts";
import { findCrossover, profilingCost, type ScalableCost } from "./crossover.ts";

const policy = await loadPolicy("sequential");
const workload = parseWorkload("hotcold:rate=20k,hot=10%,hotShare=95%");
const BASE: ConfigInput = { pages: 8192, startNs: 1e9, profileIntervalNs: 50e6 };
const find = (config: ConfigInput, cost: ScalableCost = "scanEntryNs") =>
  findCrossover({ workload, policy, config: { ...BASE, ...config }, cost });

Deno.test("findCrossover(): at the factor found, ept-ad's profiling costs as much as wp's", () => {
  const x = find({});
  assert.ok(x.holds && x.factor !== null && x.factor > 1, JSON.stringify(x));
  assert.ok(x.eptAd.totalNs < x.wp.totalNs);
  const at = (f: number) => {
    const c = { ...BASE, trackerCosts: { scanEntryNs: 2 * f } };
    return profilingCost(workload, policy, c, "ept-ad").totalNs -
      profilingCost(workload, policy, c, "wp").totalNs;
  };
  assert.ok(at(x.factor) >= 0, "flipped at the factor");
  assert.ok(at(x.factor / 1.02) < 0, "not flipped 2 % below it");
  assert.equal(x.atNs, 2 * x.factor);
});

Deno.test("findCrossover() moves the right way when a cost changes", () => {
  const base = find({});
  // write-protection faults cost more: ept-ad's scans may cost more before it loses
  const dearFaults = find({ trackerCosts: { wpFaultNs: 1600 } });
  assert.ok(dearFaults.factor! > base.factor! * 1.5, `${dearFaults.factor} vs ${base.factor}`);
  // scans already cost twice as much: half the factor, the same cost at the flip
  const dearScans = find({ trackerCosts: { scanEntryNs: 4 } });
  assert.ok(Math.abs(dearScans.atNs! / base.atNs! - 1) < 0.03, `${dearScans.atNs} vs ${base.atNs}`);
  assert.ok(dearScans.factor! < base.factor!);
  // a larger guest: more leaves per scan for the same writes, so ept-ad loses sooner
  const larger = find({ pages: 32768 });
  assert.ok(larger.factor! < base.factor!, `${larger.factor} vs ${base.factor}`);
  // cheaper faults: the flip of wpFaultNs lies below 1
  const faults = find({}, "wpFaultNs");
  assert.ok(faults.holds && faults.factor! < 1, JSON.stringify(faults));
});

Deno.test("findCrossover() reports where the claim already fails, and a cost that never flips it", () => {
  // scans at 1 µs an entry: ept-ad is the dearer profiler; cheaper scans make it win again
  const fails = find({ trackerCosts: { scanEntryNs: 1000 } });
  assert.equal(fails.holds, false);
  assert.ok(fails.factor! < 1 && fails.eptAd.totalNs >= fails.wp.totalNs);
  // a zero cost cannot be scaled
  assert.equal(find({ trackerCosts: { exitNs: 0 } }, "exitNs").factor, null);
});
