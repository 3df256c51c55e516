// Trace files never replay in part: structure, totals, checksums, bounds, and text input.
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { PrecopyError } from "../errors.ts";
import { openTrace, readTraceHeader, TraceWriter } from "./trace.ts";
import { runTrace } from "../cli/trace.ts";
import type { AccessStream } from "../workloads/workload.ts";

const FIXTURES = new URL("../../fixtures/traces/", import.meta.url).pathname;

function drainCount(s: AccessStream): number {
  let n = 0;
  for (let c = s.next(); c; c = s.next()) n += c.length;
  s.close?.();
  return n;
}

/** Reads the whole trace; throws what the reader throws. */
function replay(path: string): number {
  const w = openTrace(path);
  return drainCount(w.open(w.minPages, 1));
}

/** Asserts that replaying `bytes` fails with a workload error matching `re`, and returns it. */
function rejects(dir: string, name: string, bytes: Uint8Array | string, re: RegExp): string {
  const path = `${dir}/${name}`;
  if (typeof bytes === "string") Deno.writeTextFileSync(path, bytes);
  else Deno.writeFileSync(path, bytes);
  let msg = "";
  assert.throws(() => replay(path), (e: unknown) => {
    assert.ok(e instanceof PrecopyError && e.kind === "workload", String(e));
    assert.match(e.message, re);
    assert.ok(e.message.includes(path), `${e.message} names the file`);
    // nothing raw from the file reaches the terminal
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(e.message, /[\x00-\x1f\x7f-\x9f]/);
    msg = e.message;
    return true;
  });
  return msg;
}

/** Block offsets of a binary trace: `[at, events, stored]`. */
function blocks(b: Uint8Array): [number, number, number][] {
  const dv = new DataView(b.buffer, b.byteOffset);
  const out: [number, number, number][] = [];
  for (let at = 32 + 8 * dv.getUint32(24, true); at < b.length;) {
    const n = dv.getUint32(at + 4, true), stored = dv.getUint32(at + 8, true);
    out.push([at, n, stored]);
    at += 32 + stored;
  }
  return out;
}

/** Recomputes a version-2 block checksum after a field was changed. */
function resum(b: Uint8Array, at: number): Uint8Array {
  const dv = new DataView(b.buffer, b.byteOffset);
  const stored = dv.getUint32(at + 8, true);
  let c = crc32(b.subarray(at + 4, at + 12));
  c = crc32(b.subarray(at + 16, at + 32), c);
  c = crc32(b.subarray(at + 32, at + 32 + stored), c);
  dv.setUint32(at + 12, c >>> 0, true);
  return b;
}

function writeTrace(
  path: string,
  events: number,
  options: { compress?: boolean; version?: 1 | 2 } = {},
) {
  const w = new TraceWriter(path, { frames: 64, ...options });
  for (let i = 0; i < events; i++) w.append(i * 3, (i * 7) % 64, 1);
  w.close();
  return Deno.readFileSync(path);
}

const join = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let k = 0;
  for (const p of parts) out.set(p, k), k += p.length;
  return out;
};

Deno.test("binary traces: anything after, before or instead of the one last end block is an error", () => {
  const dir = Deno.makeTempDirSync();
  const good = writeTrace(`${dir}/good.pctrace`, 100);
  assert.equal(replay(`${dir}/good.pctrace`), 100);
  const [[first], [end]] = blocks(good);
  const endBlock = good.subarray(end);
  rejects(
    dir,
    "after.pctrace",
    join(good, new TextEncoder().encode("junk")),
    new RegExp(`byte ${good.length}: 4 bytes of data after the end block at byte ${end}`),
  );
  rejects(
    dir,
    "second.pctrace",
    join(good, endBlock),
    new RegExp(`byte ${good.length}: a second end block \\(the first is at byte ${end}\\)`),
  );
  rejects(
    dir,
    "early.pctrace",
    join(good.subarray(0, first), endBlock, good.subarray(first)),
    new RegExp(`byte ${first + 48}: the end block at byte ${first} is not the last block`),
  );
  rejects(dir, "cut.pctrace", good.subarray(0, end + 20), /truncated or corrupted: the end block/);
  rejects(dir, "noend.pctrace", good.subarray(0, end), /byte \d+: truncated or corrupted/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("binary traces: totals that disagree with the blocks are errors before any replay", () => {
  const dir = Deno.makeTempDirSync();
  const good = writeTrace(`${dir}/good.pctrace`, 100);
  const [, [end]] = blocks(good);
  const count = good.slice();
  new DataView(count.buffer).setFloat64(end + 32, 99, true);
  rejects(
    dir,
    "count.pctrace",
    resum(count, end),
    /the end block counts 99 events but the blocks hold 100/,
  );
  const last = good.slice();
  new DataView(last.buffer).setFloat64(end + 40, 5000, true);
  const msg = rejects(
    dir,
    "last.pctrace",
    resum(last, end),
    /the end block says the last access is at 5000 but the blocks end at 297/,
  );
  assert.match(msg, new RegExp(`byte ${end + 40}`));
  const early = good.slice();
  new DataView(early.buffer).setFloat64(end + 40, 200, true);
  rejects(
    dir,
    "early.pctrace",
    resum(early, end),
    /time 297 is after the last access the end block declares \(200\)/,
  );
  // an end block counting 2^40 events is refused at open, with nothing allocated for them
  const huge = good.slice();
  new DataView(huge.buffer).setFloat64(end + 32, 2 ** 40, true);
  Deno.writeFileSync(`${dir}/h.pctrace`, resum(huge, end));
  assert.throws(
    () => openTrace(`${dir}/h.pctrace`),
    /counts 1099511627776 events but the blocks hold 100/,
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("binary traces v2: the block checksum covers base time, base frame and counts", () => {
  const dir = Deno.makeTempDirSync();
  const good = writeTrace(`${dir}/v2.pctrace`, 100);
  assert.equal(readTraceHeader(`${dir}/v2.pctrace`).version, 2);
  const [[at]] = blocks(good);
  const changes: [string, (dv: DataView) => void][] = [
    ["base time", (dv) => dv.setFloat64(at + 16, 1, true)],
    ["base frame", (dv) => dv.setUint32(at + 24, 1, true)],
    ["raw length", (dv) => dv.setUint32(at + 28, dv.getUint32(at + 28, true) - 1, true)],
    ["event count", (dv) => dv.setUint32(at + 4, 99, true)],
  ];
  for (const [field, change] of changes) {
    const b = good.slice();
    change(new DataView(b.buffer));
    const msg = rejects(dir, "bad.pctrace", b, /byte \d+: /);
    assert.match(
      msg,
      /checksum mismatch|counts 100 events but the blocks hold 99|implausible/,
      field,
    );
  }
  // each field alone, with the count kept consistent, is caught by the checksum
  const b = good.slice();
  new DataView(b.buffer).setFloat64(at + 16, 1, true);
  rejects(dir, "t.pctrace", b, new RegExp(`byte ${at}: corrupted: block checksum mismatch`));
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("binary traces: the recorded fixtures read exactly as recorded, v1 and v2", () => {
  // format version, event count, FNV-1a of every (t, frame, op, vcpu), end time and frames;
  // the v1 ones taken with the reader before format version 2, the v2 ones when recorded
  const expected: Record<string, [number, number, string, number, number]> = {
    gcc: [1, 410681, "5426ab1a", 6801755556, 24716],
    python: [2, 2652874, "f23e1804", 14402231312, 33300],
    sort: [2, 1594177, "15d50ec4", 9160690684, 18756],
    sqlite: [2, 1689890, "a1c81e23", 7004837487, 37780],
    xz: [1, 773236, "c96f2b94", 7700817651, 6765],
  };
  for (const [name, [version, ...want]] of Object.entries(expected)) {
    const path = `${FIXTURES}${name}.pctrace`;
    assert.equal(readTraceHeader(path).version, version, name);
    const w = openTrace(path);
    const s = w.open(w.minPages, 0);
    let h = 0x811c9dc5, n = 0;
    const mix = (x: number) => {
      h = Math.imul(h ^ (x >>> 0), 16777619);
      h = Math.imul(h ^ Math.floor(x / 4294967296), 16777619);
    };
    for (let c = s.next(); c; c = s.next()) {
      for (let i = 0; i < c.length; i++) {
        mix(c.t[i]), mix(c.pfn[i]), mix(c.op[i]), mix(c.vcpu?.[i] ?? 0), n++;
      }
    }
    assert.deepEqual([n, (h >>> 0).toString(16), w.endNs, w.minPages], want, name);
  }
});

Deno.test("binary traces: sizes and counts that cannot be are refused before allocation", () => {
  const dir = Deno.makeTempDirSync();
  const good = writeTrace(`${dir}/good.pctrace`, 1000, { compress: true });
  const [[first, , stored]] = blocks(good);
  // a range table of 2^31 entries in a file of a few thousand bytes (the count is refused
  // before the header checksum, which would cover the table, can be checked)
  const ranges = good.slice();
  const dv = new DataView(ranges.buffer);
  dv.setUint32(12, 0xffffffff, true);
  dv.setUint32(24, 2 ** 31, true);
  rejects(
    dir,
    "ranges.pctrace",
    ranges,
    /byte 24: 2147483648 non-zero ranges do not fit in the file/,
  );
  // a block claiming 2^22 events, or more raw bytes than DEFLATE can expand its payload to
  const many = good.slice();
  new DataView(many.buffer).setUint32(first + 4, 1 << 22, true);
  rejects(
    dir,
    "many.pctrace",
    resum(many, first),
    new RegExp(`byte ${first}: corrupted: implausible block`),
  );
  const raw = good.slice();
  new DataView(raw.buffer).setUint32(first + 28, stored * 2000, true);
  rejects(dir, "raw.pctrace", resum(raw, first), /implausible block/);
  // a block longer than the file
  const long = good.slice();
  new DataView(long.buffer).setUint32(
    first + 8,
    new DataView(long.buffer).getUint32(first + 28, true),
    true,
  );
  rejects(dir, "long.pctrace", resum(long, first), /runs past the end of the file/);
  // decompression stops at the declared raw length: a payload that inflates to more fails
  // (1000 events of 3 bytes each, declared as 2 bytes each)
  const w = new TraceWriter(`${dir}/wide.pctrace`, { frames: 64, compress: true });
  for (let i = 0; i < 1000; i++) w.append(i * 1000, (i * 7) % 64, 1);
  w.close();
  const inflate = Deno.readFileSync(`${dir}/wide.pctrace`);
  const [[at, events]] = blocks(inflate);
  new DataView(inflate.buffer).setUint32(at + 28, events * 2, true);
  rejects(
    dir,
    "inflate.pctrace",
    resum(inflate, at),
    /cannot decompress \(Cannot create a Buffer larger than 2000 bytes\)/,
  );
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("text traces: empty fields, hex, misplaced headers, bad metadata and binary are errors", () => {
  const dir = Deno.makeTempDirSync();
  const csv: [string, RegExp][] = [
    ["0,,w\n", /line 1: frame '' is not a frame number/],
    [",1,w\n", /line 1: time '' is not ns ≥ 0/],
    ["0,1,\n", /line 1: op '' is not r or w/],
    ["0,1,w,\n", /line 1: vcpu '' is not 0…65535/],
    ["0x10,1,w\n", /line 1: time '0x10' is not ns ≥ 0/],
    ["0,0x1f,w\n", /line 1: frame '0x1f' is not a frame number/],
    ["1e3,1,w\n", /line 1: time '1e3' is not ns ≥ 0/],
    ["0,1,w\nt_ns,frame,op\n5,2,w\n", /line 2: a header line after the first access \(line 1\)/],
    [
      "t_ns,frame,op\nt_ns,frame,op\n0,1,w\n",
      /line 2: a second header line \(the first is line 1\)/,
    ],
    ["hello\n0,1,w\n", /line 1: expected t_ns,frame,op\[,vcpu\] but found 'hello'/],
    [
      "# frames=abc\n0,1,w\n",
      /line 1: frames must be a whole number from 1 to 4294967295, not 'abc'/,
    ],
    ["# frames=0\n0,1,w\n", /line 1: frames must be a whole number/],
    ["# frames=4\n# frames=8\n0,1,w\n", /line 2: the frame count is declared twice/],
    ["# zero=\n0,1,w\n", /line 1: zero= lists no frame/],
    ["# zero=3-x\n0,1,w\n", /line 1: '3-x' is not a frame or range F1-F2/],
    ["0,1,w\n# frames=8\n", /line 2: metadata after the first access \(line 1\)/],
    ["0,1,w\n5,2\x00,w\n", /line 2: binary content: control character U\+0000/],
    ["0,1,w\n5,\x1b[31m2,w\n", /line 2: binary content: control character U\+001b/],
    ["", /an empty trace: no accesses and no frame count/],
    ["t_ns,frame,op\n# a comment\n\n", /an empty trace/],
  ];
  csv.forEach(([text, re], i) => rejects(dir, `c${i}.csv`, text, re));
  const jsonl: [string, RegExp][] = [
    ['{"t_ns":"0x10","frame":1,"op":"w"}\n', /line 1: time '0x10' is not ns ≥ 0/],
    ['{"t_ns":0,"op":"w"}\n', /line 1: frame 'undefined' is not a frame number/],
    ['{"t_ns":0,"frame":"","op":"w"}\n', /line 1: frame '' is not a frame number/],
    ["[1,2,3]\n", /line 1: not a JSON object/],
    ['{"frames":-1}\n{"t_ns":0,"frame":1,"op":"w"}\n', /line 1: frames must be a whole number/],
    ['{"frames":4,"zero":"1-2"}\n', /line 1: zero must be a list of \[first, last\] frame pairs/],
    ['{"frames":4,"zero":[[-1,2]]}\n', /line 1: zero must be a list/],
    ['{"t_ns":0,"frame":1,"op":"w"}\n{"frames":4}\n', /line 2: metadata after the first access/],
    ['{"frames":4}\n{"frames":4}\n', /line 2: the frame count is declared twice/],
    ['{"t_ns":0,"frame":1,"op":"w\\u001b[2J"}\n', /line 1: op 'w\\u\{1b\}\[2J' is not r or w/],
    ["", /an empty trace/],
  ];
  jsonl.forEach(([text, re], i) => rejects(dir, `j${i}.jsonl`, text, re));
  // bytes that are not UTF-8 (a binary file named .csv)
  rejects(
    dir,
    "bin.csv",
    Uint8Array.of(0x30, 0x2c, 0x31, 0x2c, 0x77, 0x0a, 0xff, 0xfe, 0x00),
    /binary content: the file is not UTF-8 text \(bytes 0–9\)/,
  );
  rejects(dir, "pct.csv", Deno.readFileSync(`${FIXTURES}sort.pctrace`), /binary content/);
  // what stays accepted: comments, spaces around fields, a declared idle trace
  Deno.writeTextFileSync(
    `${dir}/ok.csv`,
    "# recorded by hand\n# frames=8\nt_ns,frame,op\n 0, 1 ,w\n",
  );
  assert.equal(replay(`${dir}/ok.csv`), 1);
  Deno.writeTextFileSync(`${dir}/idle.csv`, "# frames=8\nt_ns,frame,op,vcpu\n");
  assert.equal(openTrace(`${dir}/idle.csv`).minPages, 8);
  Deno.writeTextFileSync(`${dir}/idle.jsonl`, '{"frames":8,"zero":[]}\n');
  assert.equal(replay(`${dir}/idle.jsonl`), 0);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("deno task trace info names the format version", async () => {
  const dir = Deno.makeTempDirSync();
  writeTrace(`${dir}/a.pctrace`, 10);
  let out = "";
  const io = { out: (t: string) => void (out += t), err: () => {}, interactive: false };
  assert.equal(await runTrace(["info", `${dir}/a.pctrace`], io), 0);
  assert.match(out, /format {5}v2, page 4096 B/);
  out = "";
  assert.equal(await runTrace(["info", `${FIXTURES}gcc.pctrace`], io), 0);
  assert.match(out, /format {5}v1, page 4096 B/);
  Deno.removeSync(dir, { recursive: true });
});

Deno.test("a path or an OS error holding control characters is escaped in the message", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/no\x1b[2Jsuch.pctrace`;
  assert.throws(() => openTrace(path), (e: unknown) => {
    assert.ok(e instanceof PrecopyError, String(e));
    assert.match(e.message, /no\\u\{1b\}\[2Jsuch\.pctrace.*cannot open/);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(e.message, /[\x00-\x1f]/);
    return true;
  });
  assert.throws(() => readTraceHeader(path), /cannot open/);
  Deno.removeSync(dir);
});
