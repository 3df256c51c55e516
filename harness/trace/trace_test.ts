import assert from "node:assert/strict";
import fc from "fast-check";
import { loadPolicy, PrecopyError, simulate } from "../../mod.ts";
import { exportTrace, importTrace, openTrace, TraceWriter } from "./trace.ts";
import { runTrace } from "../cli/trace.ts";
import type { AccessStream } from "../workloads/workload.ts";

function drain(s: AccessStream) {
  const out: [number, number, number, number][] = [];
  for (let c = s.next(); c; c = s.next()) {
    for (let i = 0; i < c.length; i++) out.push([c.t[i], c.pfn[i], c.op[i], c.vcpu?.[i] ?? 0]);
  }
  s.close?.();
  return out;
}

const eventsArb = fc.array(
  fc.tuple(
    fc.integer({ min: 0, max: 2 ** 40 }),
    fc.integer({ min: 0, max: 999 }),
    fc.boolean(),
    fc.integer({ min: 0, max: 300 }),
  ),
  { maxLength: 400 },
).map((xs) => {
  xs.sort((a, b) => a[0] - b[0]);
  return xs.map(([t, p, w, v]) => [t, p, w ? 1 : 0, v] as [number, number, number, number]);
});

Deno.test("TraceWriter and openTrace() round-trip any events, compressed or not", () => {
  const dir = Deno.makeTempDirSync();
  fc.assert(
    fc.property(eventsArb, fc.boolean(), fc.boolean(), (events, compress, small) => {
      const path = `${dir}/t.pctrace`;
      const zero = new Uint8Array(1000).map((_, i) => (i % 7 === 0 ? 1 : 0));
      const w = new TraceWriter(path, { frames: 1000, reads: true, vcpu: true, compress, zero });
      for (const [t, p, o, v] of events) w.append(t, p, o, v);
      w.close();
      const trace = openTrace(path);
      assert.equal(trace.events, events.length);
      assert.equal(trace.endNs, events.length ? events[events.length - 1][0] : 0);
      assert.deepEqual(drain(trace.open(1000, 1)), events);
      assert.deepEqual([...trace.zeroMap(1000, 1)!], [...zero]);
      if (small) {
        // and through CSV and JSONL, back to binary
        for (const ext of ["csv", "jsonl"]) {
          exportTrace(path, `${dir}/t.${ext}`);
          assert.deepEqual(drain(openTrace(`${dir}/t.${ext}`).open(1000, 1)), events);
          importTrace(`${dir}/t.${ext}`, `${dir}/u.pctrace`);
          assert.deepEqual(drain(openTrace(`${dir}/u.pctrace`).open(1000, 1)), events);
        }
      }
    }),
    { numRuns: 60 },
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a trace spanning many blocks replays block by block", () => {
  const dir = Deno.makeTempDirSync();
  const w = new TraceWriter(`${dir}/big.pctrace`, { frames: 1 << 16, compress: true });
  const n = 200_000;
  for (let i = 0; i < n; i++) w.append(i * 10, (i * 7919) % (1 << 16), 1);
  w.close();
  const s = openTrace(`${dir}/big.pctrace`).open(1 << 16, 1);
  let count = 0, chunks = 0, ok = true;
  for (let c = s.next(); c; c = s.next(), chunks++) {
    for (let i = 0; i < c.length; i++, count++) {
      ok &&= c.t[i] === count * 10 && c.pfn[i] === (count * 7919) % (1 << 16);
    }
  }
  assert.ok(ok);
  assert.equal(count, n);
  assert.equal(chunks, 4); // 65 536 events per block
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("damaged traces are errors that name the byte offset, never a partial replay", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/a.pctrace`;
  const w = new TraceWriter(path, { frames: 64 });
  for (let i = 0; i < 100; i++) w.append(i, i % 64, 1);
  w.close();
  const good = Deno.readFileSync(path);
  const bad = (mutate: (b: Uint8Array) => Uint8Array, re: RegExp) => {
    Deno.writeFileSync(`${dir}/b.pctrace`, mutate(good.slice()));
    assert.throws(() => drain(openTrace(`${dir}/b.pctrace`).open(64, 1)), (e: unknown) => {
      assert.ok(e instanceof PrecopyError && e.kind === "workload", String(e));
      assert.match(e.message, re);
      return true;
    });
  };
  bad((b) => b.subarray(0, 20), /byte 20: truncated header/);
  bad((b) => b.subarray(0, b.length - 10), /truncated or corrupted: the end block is missing/);
  bad((b) => ((b[0] = 88), b), /byte 0: not a precopy-lab trace/);
  bad(
    (b) => ((b[8] = 3), b),
    /byte 8: format version 3 is not supported \(this reader knows 1 and 2\)/,
  );
  bad((b) => ((b[13] ^= 1), b), /byte 28: header checksum mismatch/);
  bad((b) => ((b[40 + 32 + 5] ^= 0x40), b), /byte 40: corrupted: block checksum mismatch/);
  // a block removed from the middle: the end block's count gives it away
  const w2 = new TraceWriter(`${dir}/c.pctrace`, { frames: 64 });
  for (let i = 0; i < 70_000; i++) w2.append(i, i % 64, 1);
  w2.close();
  const c = Deno.readFileSync(`${dir}/c.pctrace`);
  const firstBlockLen = 32 + new DataView(c.buffer).getUint32(40 + 8, true);
  Deno.writeFileSync(
    `${dir}/d.pctrace`,
    new Uint8Array([...c.subarray(0, 40), ...c.subarray(40 + firstBlockLen)]),
  );
  assert.throws(
    () => drain(openTrace(`${dir}/d.pctrace`).open(64, 1)),
    /counts 70000 events but the blocks hold 4464/,
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("text traces report bad lines by number and accept a header after comments", () => {
  const dir = Deno.makeTempDirSync();
  const cases: [string, string, RegExp][] = [
    ["a.csv", "0,1,w\n5,2,x\n", /line 2: op 'x' is not r or w/],
    ["b.csv", "5,1,w\n4,2,w\n", /line 2: time 4 is earlier than the previous access \(5\)/],
    ["c.jsonl", '{"t_ns":0,"frame":1,"op":"w"}\nnot json\n', /line 2: not a JSON object/],
    ["d.csv", "0,1,w,99999\n", /line 1: vcpu '99999' is not 0…65535/],
  ];
  for (const [name, text, re] of cases) {
    Deno.writeTextFileSync(`${dir}/${name}`, text);
    assert.throws(() => openTrace(`${dir}/${name}`), re);
  }
  Deno.writeTextFileSync(`${dir}/ok.csv`, "# frames=8\n# zero=5-6\nt_ns,frame,op\n0,1,w\n");
  assert.equal(openTrace(`${dir}/ok.csv`).minPages, 8);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a trace placed at an offset drives a larger guest; the rest is idle", async () => {
  const dir = Deno.makeTempDirSync();
  const w = new TraceWriter(`${dir}/a.pctrace`, {
    frames: 16,
    zero: new Uint8Array(16).fill(1, 8),
  });
  for (let i = 0; i < 50; i++) w.append(i * 1000, i % 4, 1);
  w.close();
  const trace = openTrace(`${dir}/a.pctrace:offset=64KiB`); // 16 frames in
  assert.equal(trace.minPages, 32);
  const r = simulate({
    workload: trace,
    policy: await loadPolicy("sequential"),
    config: {
      pages: 64,
      bandwidth: 4104e6,
      startNs: 0,
      downtimeLimitNs: 0,
      profileIntervalNs: 1e12,
    },
  });
  assert.equal(r.zeroPagesSent, 8); // frames 24…31 of the guest
  assert.equal(r.guestWrites, 50);
  assert.throws(
    () => openTrace(`${dir}/a.pctrace:offset=100B`),
    /not a multiple of the 4096-byte page/,
  );
  assert.throws(
    () => openTrace(`${dir}/a.pctrace`).open(8, 1),
    /needs 16 frames but the guest has 8/,
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("deno task trace imports, exports and describes traces", async () => {
  const dir = Deno.makeTempDirSync();
  let out = "", err = "";
  const io = {
    out: (t: string) => void (out += t),
    err: (t: string) => void (err += t),
    interactive: false,
  };
  Deno.writeTextFileSync(`${dir}/a.csv`, "t_ns,frame,op\n0,1,w\n10,2,r\n20,1,w\n");
  assert.equal(await runTrace(["import", `${dir}/a.csv`, `${dir}/a.pctrace`], io), 0);
  assert.equal(await runTrace(["info", `${dir}/a.pctrace`], io), 0);
  assert.match(out, /accesses {3}3 \(2 writes\) over 20 ns/);
  assert.match(out, /written {4}1 distinct frames/);
  assert.equal(await runTrace(["export", `${dir}/a.pctrace`, `${dir}/b.txt`], io), 2);
  assert.match(err, /must end in \.csv or \.jsonl/);
  assert.equal(await runTrace(["frobnicate"], io), 2);
  // Trace options after the input's path, as --help says; :loop is refused by name.
  out = err = "";
  assert.equal(await runTrace(["info", `${dir}/a.pctrace:offset=4`], io), 0, err);
  assert.match(out, /frames {5}7 /);
  assert.equal(await runTrace(["export", `${dir}/a.pctrace:spread`, `${dir}/c.csv`], io), 0, err);
  assert.match(Deno.readTextFileSync(`${dir}/c.csv`), /^# frames=3\nt_ns,frame,op/);
  for (const cmd of [["info"], ["export", `${dir}/d.csv`]]) {
    err = "";
    const loop = [cmd[0], `${dir}/a.pctrace:loop`, ...cmd.slice(1)];
    assert.equal(await runTrace(loop, io), 2);
    assert.match(err, /never ends \(a looped trace\); (info|export) it without :loop/);
  }
  err = "";
  assert.equal(await runTrace(["info", `${dir}/none.pctrace:spread`], io), 2);
  assert.match(err, /none\.pctrace'?: no such file/);
  assert.doesNotMatch(err, /:spread/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a block compressed by CompressionStream('deflate-raw') reads back: the formats agree", async () => {
  const dir = Deno.makeTempDirSync();
  // An uncompressed trace's block payload, recompressed by the Streams API and spliced in.
  const raw = `${dir}/raw.pctrace`;
  const w = new TraceWriter(raw, { frames: 32, version: 1 });
  for (let i = 0; i < 1000; i++) w.append(i * 7, (i * 5) % 32, 1);
  w.close();
  const b = Deno.readFileSync(raw);
  const dv = new DataView(b.buffer);
  const head = 32 + 8 * dv.getUint32(24, true);
  const len = dv.getUint32(head + 8, true);
  const payload = b.subarray(head + 32, head + 32 + len);
  const stream = new Blob([payload]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  const packed = new Uint8Array(await new Response(stream).arrayBuffer());
  const { crc32 } = await import("node:zlib");
  const out = new Uint8Array(b.length - len + packed.length);
  out.set(b.subarray(0, head + 32));
  out.set(packed, head + 32);
  out.set(b.subarray(head + 32 + len), head + 32 + packed.length);
  const odv = new DataView(out.buffer);
  odv.setUint16(10, odv.getUint16(10, true) | 4, true); // compressed flag
  odv.setUint32(28, 0, true);
  odv.setUint32(head + 8, packed.length, true);
  odv.setUint32(head + 12, crc32(packed) >>> 0, true);
  // the header checksum covers bytes 0–27 and the range table
  const table = out.subarray(32, head);
  odv.setUint32(28, crc32(table, crc32(out.subarray(0, 28))) >>> 0, true);
  Deno.writeFileSync(`${dir}/cs.pctrace`, out);
  assert.deepEqual(
    drain(openTrace(`${dir}/cs.pctrace`).open(32, 1)),
    drain(openTrace(raw).open(32, 1)),
  );
  Deno.removeSync(dir, { recursive: true });
});
