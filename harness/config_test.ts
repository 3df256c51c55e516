import assert from "node:assert/strict";
import {
  CONFIG_ITEMS,
  configFromFlags,
  type ConfigItem,
  configOptions,
  type ConfigValue,
  DEFAULT_CONFIG,
  parseClear,
  resolveConfig,
} from "./config.ts";
import { PrecopyError } from "./errors.ts";
import { DEFAULT_TRACKER_COSTS, TRACKER_KINDS } from "./trackers/tracker.ts";

/** A library override setting one item (tracker costs nested). */
function input(field: string, v: unknown): Record<string, unknown> {
  const [outer, inner] = field.split(".");
  if (inner !== undefined) return { [outer]: { [inner]: v } };
  // a zero marker may not outgrow a page: give it room to reach its own bound
  return outer === "zeroMarker" ? { zeroMarker: v, pageSize: 1 << 30 } : { [outer]: v };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PrecopyError, String(e));
    assert.equal(e.kind, "config");
    return e.message;
  }
  return assert.fail("no error");
}

const rejects = (item: ConfigItem, v: unknown) =>
  errorOf(() => resolveConfig(input(item.field, v)));

Deno.test("DEFAULT_CONFIG is the table's defaults, field by field, in the table's order", () => {
  const top = [...new Set(CONFIG_ITEMS.map((i) => i.field.split(".")[0]))];
  assert.deepEqual(Object.keys(DEFAULT_CONFIG), top);
  assert.equal(DEFAULT_CONFIG.trackerCosts, DEFAULT_TRACKER_COSTS);
  assert.deepEqual(
    CONFIG_ITEMS.filter((i) => i.field.startsWith("trackerCosts.")).map((i) => i.field.slice(13)),
    Object.keys(DEFAULT_TRACKER_COSTS),
  );
  for (const item of CONFIG_ITEMS) {
    assert.ok(item.accepts(item.default), `${item.field}: its default is accepted`);
  }
  assert.deepEqual(resolveConfig(), { ...DEFAULT_CONFIG, trackerCosts: DEFAULT_TRACKER_COSTS });
  assert.equal(DEFAULT_CONFIG.pages * DEFAULT_CONFIG.pageSize, 2 ** 30);
});

Deno.test("every numeric item accepts its bounds and rejects just outside them", () => {
  let checked = 0;
  for (const item of CONFIG_ITEMS) {
    if (item.min === undefined) continue;
    checked++;
    const name = (item.flags.find((f) => f.scale === undefined) ?? item.flags[0])?.flag ??
      item.field;
    resolveConfig(input(item.field, item.min)); // at the bound: accepted
    const below = item.whole ? item.min - 1 : item.min > 0 ? item.min / 2 : -1e-9;
    assert.match(rejects(item, below), new RegExp(`^${name}: '${below}' is not `), item.field);
    if (item.max !== undefined) {
      resolveConfig(input(item.field, item.max));
      const above = item.max + 1;
      assert.match(rejects(item, above), new RegExp(`^${name}: '${above}' is not `), item.field);
    } else assert.match(rejects(item, Infinity), /'Infinity' is not/, item.field);
    if (item.whole) assert.match(rejects(item, item.min + 0.5), /is not a/, item.field);
    assert.match(rejects(item, NaN), /'NaN' is not/, item.field);
    assert.match(rejects(item, String(item.default)), /is not/, `${item.field}: a string`);
  }
  assert.ok(checked >= 20);
});

Deno.test("items with a fixed set of values accept those and nothing else", () => {
  for (const item of CONFIG_ITEMS) {
    if (item.values === undefined) continue;
    for (const v of item.values) resolveConfig(input(item.field, v));
    const other: ConfigValue = typeof item.values[0] === "number" ? 2 : "other";
    assert.match(
      rejects(item, other),
      new RegExp(`'${other}' is not ${escape(item.form)}$`),
      item.field,
    );
  }
  const tracker = CONFIG_ITEMS.find((i) => i.field === "tracker")!;
  assert.deepEqual(tracker.values, TRACKER_KINDS);
});

Deno.test("dirty rings: a power of two from 256 to 65536, KVM's limits", () => {
  const ring = CONFIG_ITEMS.find((i) => i.field === "trackerCosts.ringEntries")!;
  for (const n of [256, 512, 4096, 65536]) resolveConfig({ trackerCosts: { ringEntries: n } });
  for (const n of [128, 255, 257, 1000, 131072]) {
    assert.match(
      rejects(ring, n),
      /^--ring-entries: '\d+' is not a power of two from 256 to 65536$/,
    );
  }
});

Deno.test("clear modes: round, send, chunk, chunk:N with N ≥ 1", () => {
  assert.deepEqual(parseClear("chunk"), { mode: "chunk", chunk: 1 << 18 });
  assert.deepEqual(parseClear("send"), { mode: "send", chunk: 0 });
  for (const bad of ["chunk:0", "chunk:", "chunk:-1", "Round", "chunk:1.5"]) {
    assert.throws(() => parseClear(bad), /--clear: '.*' is not round, send, chunk or chunk:N/);
    assert.throws(() => resolveConfig({ clear: bad as "round" }), /--clear:/);
  }
});

Deno.test("the command line and library callers get the same checks in the same words", () => {
  const flagged = CONFIG_ITEMS.flatMap((item) =>
    item.flags.filter((f) => !f.alias && f.scale === undefined).map((f) => ({ item, f }))
  );
  let compared = 0;
  for (const { item, f } of flagged) {
    // a value outside the item, as text for the flag and as a value for the library
    let text: string, value: ConfigValue;
    if (f.syntax === "switch") continue;
    if (f.syntax === "text") [text, value] = ["bogus", "bogus"];
    else if (f.syntax === "duration" && item.min === 1) [text, value] = ["0", 0];
    else if (item.max !== undefined && item.max < 2 ** 40) {
      [text, value] = [String(item.max + 1), item.max + 1];
    } else if (item.min! > 0 && f.syntax === "integer") {
      [text, value] = [String(item.min! - 1), item.min! - 1];
    } else continue; // the text cannot say a number outside (e.g. no negative durations)
    const cli = errorOf(() => configFromFlags({ [f.flag.slice(2)]: text }));
    const lib = errorOf(() => resolveConfig(input(item.field, value)));
    assert.equal(cli, lib, f.flag);
    assert.ok(cli.startsWith(`${f.flag}: '${text}' is not `), cli);
    compared++;
  }
  assert.ok(compared >= 10, `${compared} compared`);
});

Deno.test("flags that convert units check the converted value against the item", () => {
  assert.equal(configFromFlags({ memory: "1TiB" }).pages, 1 << 28);
  assert.throws(
    () => configFromFlags({ memory: "2TiB" }),
    /^PrecopyError: --memory: '2TiB' is not a positive multiple of the 4096-byte page up to 1TiB$/,
  );
  assert.throws(() => configFromFlags({ memory: "0" }), /--memory: '0' is not a positive/);
  assert.equal(configFromFlags({ "ept-leaf": "2MiB" }).eptLeafFrames, 512);
  assert.throws(() => configFromFlags({ "ept-leaf": "1MiB" }), /--ept-leaf: '1MiB' is not 4KiB/);
  assert.throws(() => resolveConfig({ eptLeafFrames: 256 }), /--ept-leaf: '256' is not 4KiB/);
});

Deno.test("configFromFlags() reads every flag of the table, and rejects two spellings at once", () => {
  const c = configFromFlags({
    pages: "64",
    bandwidth: "1Gbit/s",
    "downtime-limit": "0",
    "max-rounds": "5",
    "min-pending": "50",
    "max-transfer-factor": "2.5",
    iteration: "qemu",
    "qemu-max-wait": "10ms",
    clear: "chunk:8",
    tracker: "pml",
    "page-header": "16",
    "device-state": "1MiB",
    "pause-resume": "5ms",
    warmup: "2s",
    vcpus: "4",
    "ept-leaf": "4KiB",
    "no-flush": true,
    "count-missed": true,
    "auto-converge": true,
    "ring-entries": "1024",
    "profile-interval": "50ms",
    history: "8",
    seed: "7",
    json: true, // not a config flag: ignored
  });
  assert.deepEqual(c, {
    pages: 64,
    bandwidth: 125e6,
    pageHeader: 16,
    deviceState: 1 << 20,
    downtimeLimitNs: 0,
    maxRounds: 5,
    minPending: 50,
    maxTransferFactor: 2.5,
    clear: "chunk:8",
    iteration: "qemu",
    qemuMaxWaitNs: 10e6,
    startNs: 2e9,
    pauseResumeNs: 5e6,
    tracker: "pml",
    eptLeafFrames: 1,
    flush: false,
    verify: "count",
    autoConverge: true,
    vcpus: 4,
    trackerCosts: { ringEntries: 1024 },
    profileIntervalNs: 50e6,
    historyLength: 8,
    seed: 7,
  });
  const options = configOptions();
  for (const item of CONFIG_ITEMS) {
    for (const f of item.flags) assert.ok(f.flag.slice(2) in options, f.flag);
  }
  assert.throws(() => configFromFlags({ memory: "1GiB", pages: "8" }), /--memory and --pages both/);
  assert.throws(() => configFromFlags({ start: "1s", warmup: "2s" }), /--start and --warmup both/);
});

Deno.test("resolveConfig() rejects items it does not know and a zero marker above a page", () => {
  assert.throws(
    () => resolveConfig({ pageSise: 4096 } as never),
    /'pageSise' is not a config item \(known: .*pageSize/,
  );
  assert.throws(
    () => resolveConfig({ trackerCosts: { exitNS: 1 } as never }),
    /'trackerCosts.exitNS' is not a config item \(known: exitNs, /,
  );
  resolveConfig({ zeroMarker: 4104 });
  // vCPUs moved out of the costs; the old spelling is still read, and must agree
  assert.equal(resolveConfig({ trackerCosts: { vcpus: 3 } }).vcpus, 3);
  assert.ok(!("vcpus" in resolveConfig({ trackerCosts: { vcpus: 3 } }).trackerCosts));
  assert.equal(resolveConfig({ vcpus: 3, trackerCosts: { vcpus: 3 } }).vcpus, 3);
  assert.throws(
    () => resolveConfig({ vcpus: 2, trackerCosts: { vcpus: 3 } }),
    /--vcpus: .* differ/,
  );
  assert.throws(() => resolveConfig({ trackerCosts: { vcpus: 0 } }), /--vcpus: '0'/);
  assert.throws(() => resolveConfig({ zeroMarker: 4105 }), /zeroMarker: '4105' is not at most/);
});
