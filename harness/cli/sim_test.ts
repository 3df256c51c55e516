import assert from "node:assert/strict";
import type { CliIo } from "./kit.ts";
import { CONFIG_ITEMS, flagTable, libraryOnlyTable } from "../config.ts";
import { runSim, SIM_HELP, simFlagRows } from "./sim.ts";
import { alignTable, replaceSection } from "./docs.ts";

async function sim(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const io: CliIo = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    interactive: false,
  };
  const code = await runSim(args, io);
  return { code, out, err };
}

Deno.test("runSim() prints a table by default and one JSON object with --json", async () => {
  const t = await sim([
    "--memory",
    "16MiB",
    "--workload",
    "hotcold:rate=2k",
    "--policy",
    "staged-history",
  ]);
  assert.equal(t.code, 0, t.err);
  assert.match(t.out, /policy {5}staged-history \(stages=4,window=8,rule=count,tail=first\)/);
  assert.match(t.out, /downtime/);
  const j = await sim([
    "--memory",
    "16MiB",
    "--workload",
    "hotcold:rate=2k",
    "--json",
    "--param",
    "stages=2",
    "--policy",
    "staged-history",
  ]);
  assert.equal(j.code, 0, j.err);
  const r = JSON.parse(j.out);
  assert.equal(r.policy.params.stages, 2);
  assert.equal(r.config.pages, 4096);
  assert.equal(j.err, "");
});

Deno.test("runSim() names the flag and the accepted form for bad values", async () => {
  const cases: [string[], RegExp][] = [
    [["--bandwidth", "fast"], /^error: --bandwidth: 'fast' is not a rate such as/],
    [["--downtime-limit", "300"], /--downtime-limit: '300' is not a duration/],
    [["--max-rounds", "0"], /--max-rounds: '0' is not a whole number from 1/],
    [["--clear", "sometimes"], /--clear: 'sometimes' is not round, send, chunk or chunk:N/],
    [["--iteration", "xen"], /--iteration: 'xen' is not drain or qemu/],
    [
      ["--tracker", "tlb"],
      /--tracker: 'tlb' is not available; available: ept-ad, wp, pml, dirty-ring/,
    ],
    [["--vcpus", "0"], /--vcpus: '0' is not a whole number from 1/],
    [["--ept-leaf", "1MiB"], /--ept-leaf: '1MiB' is not 4KiB or 2MiB/],
    [["--no-flush", "--tracker", "wp"], /--no-flush is modelled for --tracker ept-ad only/],
    [["--count-missed"], /--count-missed has an effect only with --no-flush/],
    [
      ["--tracker", "dirty-ring", "--ring-entries", "1000"],
      /--ring-entries: '1000' is not a power of two from 256 to 65536/,
    ],
    [["--param", "window"], /--param: 'window' is not k=v/],
    [["--policy", "hot-defer", "--param", "windw=3"], /unknown parameter 'windw'/],
    [["--workload", "uniform:rate=-5"], /rate: '-5' is not a number/],
    [["--policy-timeout", "0"], /^error: --policy-timeout: '0' must be greater than 0\n$/],
    [["--workload", "phases:period=0"], /period: '0' must be greater than 0\n$/],
    [
      ["--policy-timeout", "1ns"],
      /create\(\) gave no answer within 1 ns \(the --policy-timeout budget\)/,
    ],
    [["--frobnicate"], /Unknown option '--frobnicate'/],
    [["extra"], /unexpected argument 'extra'/],
  ];
  for (const [args, re] of cases) {
    const r = await sim(["--pages", "64", ...args]);
    assert.equal(r.code, 2, args.join(" "));
    assert.match(r.err, re);
    assert.doesNotMatch(r.err, /\bat .*\.ts:\d+/); // no stack trace
    assert.equal(r.out, "");
  }
  const m = await sim(["--memory", "1000"]);
  assert.match(m.err, /--memory: '1000' is not a positive multiple of the 4096-byte page/);
  const gb = await sim(["--memory", "1GB"]);
  assert.match(
    gb.err,
    /--memory: '1GB' is not a positive multiple .* \(1GB = 10\^9 bytes; did you mean 1GiB\?\)\n$/,
  );
  const both = await sim(["--memory", "1GiB", "--pages", "8"]);
  assert.match(both.err, /--memory and --pages both given/);
});

Deno.test("runSim() --help and --list describe what there is", async () => {
  const h = await sim(["--help"]);
  assert.equal(h.code, 0);
  for (
    const flag of [
      "--policy",
      "--param",
      "--workload",
      "--memory",
      "--bandwidth",
      "--downtime-limit",
      "--max-rounds",
      "--min-pending",
      "--iteration",
      "--clear",
      "--tracker",
      "--page-header",
      "--device-state",
      "--seed",
      "--json",
    ]
  ) {
    assert.ok(h.out.includes(flag), flag);
  }
  const l = await sim(["--list"]);
  assert.match(l.out, /staged-history/);
  assert.match(l.out, /oracle +\[future-informed; bound on stopCopyPages in 1 regime\]/);
  assert.match(l.out, /rate-oracle +\[future-informed heuristic\]/);
  assert.match(l.out, /^ {2}mix {13}several at once/m);
  // Every description starts in one column, however long the names.
  const cols = l.out.split("\n").filter((x) => x.startsWith("  "))
    .map((x) => /^ {2}\S+ +/.exec(x)![0].length);
  assert.equal(new Set(cols).size, 1, l.out);
  // A policy file given with --policy is listed too, once; a broken one as [broken].
  const dir = Deno.makeTempDirSync();
  Deno.writeTextFileSync(`${dir}/bad.ts`, "export default {{\n");
  const b = await sim(["--list", "--policy", `${dir}/bad.ts`]);
  assert.match(b.out, /^ {2}\[broken\] +policy file .*bad\.ts: cannot be loaded: \S.*$/m);
  const seq = await sim(["--list", "--policy", "policies/sequential.ts"]);
  assert.equal(seq.out.match(/^ {2}sequential .*QEMU/gm)?.length, 1);
  Deno.removeSync(dir, { recursive: true });
});

/** The rows of the Markdown table between `<!-- name:begin` and `<!-- name:end -->`. */
function tableIn(doc: string, name: string): string[][] {
  const from = doc.indexOf(`<!-- ${name}:begin`), to = doc.indexOf(`<!-- ${name}:end -->`);
  assert.ok(from >= 0 && to > from, `docs/cli.md has no ${name} section`);
  return tableRows(doc.slice(doc.indexOf("\n", from), to));
}

/** A Markdown table's cells, trimmed, without the rule under the header (layout aside). */
function tableRows(text: string): string[][] {
  return text.split("\n").filter((l) => l.startsWith("|"))
    .map((l) => l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()))
    .filter((cells) => !cells.every((c) => /^:?-+:?$/.test(c)))
    .map((cells) => cells.map((c) => c.replace(/^\*(.*)\*$/, "_$1_")));
}

Deno.test("docs/cli.md's flag tables are the ones the config table generates", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/cli.md", import.meta.url));
  assert.deepEqual(tableIn(doc, "sim-flags"), tableRows(flagTable(simFlagRows())));
  assert.deepEqual(tableIn(doc, "library-items"), tableRows(libraryOnlyTable()));
  // deno task docs writes them as deno fmt lays them out: regenerating changes nothing.
  assert.equal(
    replaceSection(
      replaceSection(doc, "sim-flags", alignTable(flagTable(simFlagRows()))),
      "library-items",
      alignTable(libraryOnlyTable()),
    ),
    doc,
  );
});

Deno.test("--help lists every flag sim accepts, each item's default beside it", async () => {
  const h = (await sim(["--help"])).out;
  assert.equal(h, SIM_HELP);
  for (const item of CONFIG_ITEMS) {
    for (const f of item.flags) {
      assert.ok(h.includes(`${f.flag}${f.arg ? ` ${f.arg}` : ""}`), f.flag);
      // and sim accepts it
      const args = f.syntax === "switch" ? [f.flag] : [f.flag, "x"];
      const r = await sim(["--pages", "64", ...args]);
      assert.doesNotMatch(r.err, /Unknown option/, f.flag);
    }
  }
  assert.match(h, /--max-rounds N +forced switchover after N rounds +\[30\]\n/);
  assert.match(h, /--memory SIZE +guest memory: 512MiB, 4GiB, 64GiB \.\.\. +\[1GiB\]\n/);
  assert.match(h, /--bandwidth RATE .* +\[128MiB\/s\]\n/);
  assert.match(h, /--downtime-limit T [^[]* \[300ms\]\n/); // on a line of its own
  assert.match(h, /--min-pending N .* +\[off\]\n/);
  assert.match(h, /--tracker KIND +dirty tracking: ept-ad, wp, pml, dirty-ring +\[ept-ad\]\n/);
  assert.match(h, /--ept-leaf SIZE .* +\[4KiB\]\n/);
  assert.match(h, /--policy-timeout T [^[]* \[300s\]\n/);
  assert.match(h, /--start T, --warmup T .* +\[1s\]\n/);
  for (const line of h.split("\n")) assert.ok(line.length <= 93, line);
});

Deno.test("runSim() prints the report's warnings on stderr and in the table", async () => {
  const args = ["--pages", "4096", "--workload", "idle", "--profile-interval", "1ms"];
  const slow = await sim([...args, "--cost-scan-entry", "500ns"]);
  assert.equal(slow.code, 0, slow.err);
  assert.match(slow.err, /^warning: profiling: \d+ of \d+ ept-ad scans took more host time/m);
  assert.match(slow.out, /^WARNING {4}profiling: /m);
  const j = await sim([...args, "--cost-scan-entry", "0.5ns", "--json"]);
  assert.deepEqual(JSON.parse(j.out).warnings, []);
  assert.equal(JSON.parse(j.out).config.trackerCosts.scanEntryNs, 0.5);
  assert.doesNotMatch(j.err, /warning/);
});

Deno.test("--max-events takes Infinity, as its error offers", async () => {
  const r = await sim([
    "--pages",
    "64",
    "--workload",
    "idle",
    "--max-events",
    "Infinity",
    "--json",
  ]);
  assert.equal(r.code, 0, r.err);
  const bad = await sim(["--pages", "64", "--max-events", "0"]);
  assert.match(bad.err, /--max-events: '0' is not a whole number of at least 1 \(or Infinity/);
});
