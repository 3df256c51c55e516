// Fuzzing the trace readers as property tests: random bytes, bit flips, truncations and
// changed fields, on every recorded fixture and on small files of every form. Each input
// must end in a clean PrecopyError or read exactly as the valid file does (for inputs not
// derived from a valid file: read as some well-formed trace), in bounded memory.
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { PrecopyError } from "../errors.ts";
import { exportTrace, openTrace, TraceWriter } from "./trace.ts";

const FIXTURES = new URL("../../fixtures/traces/", import.meta.url).pathname;
// Thousands of small files are written: in memory (/dev/shm) where there is one.
const dir = (() => {
  try {
    return Deno.makeTempDirSync({ dir: "/dev/shm", prefix: "precopy-fuzz-" });
  } catch {
    return Deno.makeTempDirSync();
  }
})();

/** What a reader makes of a file: its metadata and a hash of every access, or "error". */
type Reading = string;

function read(path: string): Reading {
  try {
    const w = openTrace(path);
    const s = w.open(w.minPages, 0);
    let h = 0x811c9dc5, n = 0, last = 0;
    const mix = (x: number) => {
      h = Math.imul(h ^ (x >>> 0), 16777619);
      h = Math.imul(h ^ Math.floor(x / 4294967296), 16777619);
    };
    for (let c = s.next(); c; c = s.next()) {
      for (let i = 0; i < c.length; i++, n++) {
        assert.ok(c.t[i] >= last && c.pfn[i] < w.minPages, "a read that breaks the promises");
        last = c.t[i];
        mix(c.t[i]), mix(c.pfn[i]), mix(c.op[i]), mix(c.vcpu?.[i] ?? 0);
      }
    }
    s.close?.();
    // (A header may declare up to 2^32 frames, legitimately: a map that large is the
    // caller's to allocate, and the fuzz does not.)
    const zero = w.minPages <= 1 << 20 ? w.zeroMap(w.minPages, 0) : null;
    let z = 0;
    for (let p = 0; zero && p < zero.length; p++) if (zero[p]) z = Math.imul(z ^ p, 16777619);
    return `${n} accesses, hash ${h >>> 0}, end ${w.endNs}, ${w.minPages} frames, zero ${z}`;
  } catch (e) {
    // the only acceptable failure: a PrecopyError naming the file, printable
    if (!(e instanceof PrecopyError) || e.kind !== "workload") throw e;
    assert.ok(e.message.includes(path), e.message);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(e.message, /[\x00-\x1f\x7f-\x9f]/);
    return "error";
  }
}

function readBytes(bytes: Uint8Array, ext: string): Reading {
  const path = `${dir}/m.${ext}`;
  Deno.writeFileSync(path, bytes);
  return read(path);
}

/** A small binary trace (one block and the end block) with reads, vCPU ids and zero frames. */
function small(name: string, options: { compress: boolean; version: 1 | 2; reads: boolean }) {
  const path = `${dir}/${name}.pctrace`;
  const w = new TraceWriter(path, {
    frames: 50,
    compress: options.compress,
    version: options.version,
    reads: options.reads,
    vcpu: options.reads,
    zero: Uint8Array.from({ length: 50 }, (_, p) => (p % 9 === 4 ? 1 : 0)),
  });
  for (let i = 0; i < 12; i++) {
    w.append(i * 37 + (i % 3), (i * 13) % 50, options.reads && i % 4 === 0 ? 0 : 1, i % 3);
  }
  w.close();
  return path;
}

interface Sample {
  name: string;
  ext: string;
  bytes: Uint8Array;
  valid: Reading;
  /** Byte ranges a version-1 checksum does not cover: base time and base frame. */
  unguarded: [number, number][];
  /** Block-header offsets (binary only), for field changes. */
  blocks: number[];
  version: number;
}

function sample(path: string): Sample {
  const bytes = Deno.readFileSync(path);
  const ext = path.slice(path.lastIndexOf(".") + 1);
  const s: Sample = {
    name: path.slice(path.lastIndexOf("/") + 1),
    ext,
    bytes,
    valid: read(path),
    unguarded: [],
    blocks: [],
    version: 0,
  };
  assert.notEqual(s.valid, "error", path);
  if (ext === "pctrace") {
    const dv = new DataView(bytes.buffer);
    s.version = dv.getUint16(8, true);
    for (let at = 32 + 8 * dv.getUint32(24, true); at < bytes.length;) {
      s.blocks.push(at);
      if (s.version === 1) s.unguarded.push([at + 16, at + 28]);
      at += 32 + dv.getUint32(at + 8, true);
    }
  }
  return s;
}

const recorded = [...Deno.readDirSync(FIXTURES)]
  .filter((e) => e.name.endsWith(".pctrace"))
  .map((e) => sample(`${FIXTURES}${e.name}`));
const v2 = [
  sample(small("v2z", { compress: true, version: 2, reads: true })),
  sample(small("v2", { compress: false, version: 2, reads: false })),
];
const v1 = [sample(small("v1", { compress: true, version: 1, reads: true }))];
exportTrace(`${dir}/v2z.pctrace`, `${dir}/small.csv`);
exportTrace(`${dir}/v2z.pctrace`, `${dir}/small.jsonl`);
const text = [sample(`${dir}/small.csv`), sample(`${dir}/small.jsonl`)];
const binary = [...recorded, ...v2, ...v1];
const rssAtStart = Deno.memoryUsage().rss;

const guarded = (s: Sample, byte: number) =>
  !s.unguarded.some(([from, to]) => byte >= from && byte < to);

Deno.test("fuzz: every single-bit flip of a small v2 trace is an error", () => {
  for (const s of v2.slice(0, 1)) {
    for (let byte = 0; byte < s.bytes.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const b = s.bytes.slice();
        b[byte] ^= 1 << bit;
        assert.equal(readBytes(b, "pctrace"), "error", `${s.name}: byte ${byte} bit ${bit}`);
      }
    }
  }
});

Deno.test("fuzz: bit flips in every fixture end in an error or the same accesses", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...binary),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      fc.array(fc.nat(7), { minLength: 1, maxLength: 3 }),
      (s, where, bits) => {
        const b = s.bytes.slice();
        const byte = Math.floor(where * b.length);
        // A version-1 checksum does not cover a block's base time and base frame (version 2
        // closes that gap); flips there can change the accesses, so they are left out.
        fc.pre(guarded(s, byte));
        for (const bit of bits) b[byte] ^= 1 << bit;
        const got = readBytes(b, "pctrace");
        assert.ok(got === "error" || got === s.valid, `${s.name} byte ${byte}: ${got}`);
      },
    ),
    { numRuns: 120 },
  );
});

Deno.test("fuzz: every truncation of a binary trace is an error", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...binary),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      (s, where) => {
        const cut = Math.floor(where * s.bytes.length);
        assert.equal(
          readBytes(s.bytes.subarray(0, cut), "pctrace"),
          "error",
          `${s.name} cut at ${cut}`,
        );
      },
    ),
    { numRuns: 120 },
  );
  // and every cut of the small files, exhaustively
  for (const s of [...v2, ...v1]) {
    for (let cut = 0; cut < s.bytes.length; cut++) {
      assert.equal(readBytes(s.bytes.subarray(0, cut), "pctrace"), "error", `${s.name} ${cut}`);
    }
  }
});

Deno.test("fuzz: any value in a header field, checksums made to match, is an error or a valid read", () => {
  // The checksum recomputed, so the structural checks alone must stop counts that cannot
  // be (2^40 events, 2^31 ranges, a block of 4 GiB) before anything is allocated.
  const field = fc.constantFrom(4, 8, 16, 20, 24, 28, 32, 40);
  const value = fc.oneof(
    fc.constantFrom(0, 1, 2 ** 22, 2 ** 31, 2 ** 32 - 1, 2 ** 40, 2 ** 53, -1, 0.5, NaN, Infinity),
    fc.nat(),
  );
  fc.assert(
    fc.property(fc.constantFrom(...v2), fc.nat(), field, value, (s, k, off, v) => {
      const b = s.bytes.slice();
      const dv = new DataView(b.buffer);
      const at = s.blocks[k % s.blocks.length];
      const end = at + off === at + 32 || at + off === at + 40; // the end block's payload
      if (off === 16 || end) dv.setFloat64(at + off, v, true);
      else dv.setUint32(at + off, v >>> 0, true);
      const stored = Math.min(dv.getUint32(at + 8, true), b.length - at - 32);
      let c = crc32(b.subarray(at + 4, at + 12));
      c = crc32(b.subarray(at + 16, at + 32), c);
      c = crc32(b.subarray(at + 32, at + 32 + stored), c);
      dv.setUint32(at + 12, c >>> 0, true);
      readBytes(b, "pctrace"); // throws on anything but a clean error or a well-formed read
    }),
    { numRuns: 150 },
  );
  // the file header's counts, with its checksum made to match when the table is there
  fc.assert(
    fc.property(fc.constantFrom(...binary), fc.constantFrom(12, 16, 20, 24), value, (s, off, v) => {
      const b = s.bytes.slice();
      const dv = new DataView(b.buffer);
      dv.setUint32(off, v >>> 0, true);
      const table = 8 * dv.getUint32(24, true);
      if (32 + table <= b.length) {
        dv.setUint32(28, crc32(b.subarray(32, 32 + table), crc32(b.subarray(0, 28))) >>> 0, true);
      }
      readBytes(b, "pctrace");
    }),
    { numRuns: 60 },
  );
});

Deno.test("fuzz: random bytes, alone or after a valid header, are an error or a valid read", () => {
  const header = v2[0].bytes.subarray(0, v2[0].blocks[0]);
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 400 }),
      fc.constantFrom("pctrace", "csv", "jsonl"),
      fc.boolean(),
      (bytes, ext, withHeader) => {
        const b = withHeader && ext === "pctrace" ? new Uint8Array([...header, ...bytes]) : bytes;
        const got = readBytes(b, ext);
        if (ext === "pctrace") assert.equal(got, "error");
      },
    ),
    { numRuns: 200 },
  );
  // text-like noise: digits, separators, ops, comments and braces
  const alphabet = fc.constantFrom(...'0123456789,,,\n\n#wr \t{}":frames=t_nsx-'.split(""));
  fc.assert(
    fc.property(
      fc.array(alphabet, { maxLength: 200 }).map((a) => a.join("")),
      fc.constantFrom("csv", "jsonl"),
      (t, ext) => void readBytes(new TextEncoder().encode(t), ext),
    ),
    { numRuns: 200 },
  );
});

Deno.test("fuzz: flips, cuts and changed bytes of text traces are an error or a valid read", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...text),
      fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
      fc.nat(255),
      fc.constantFrom("flip", "set", "cut"),
      (s, where, v, how) => {
        const at = Math.floor(where * s.bytes.length);
        const b = how === "cut" ? s.bytes.subarray(0, at) : s.bytes.slice();
        if (how === "flip") b[at] ^= 1 << (v % 8);
        if (how === "set") b[at] = v;
        readBytes(b, s.ext);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("fuzz: the control-character scan agrees with the definition, at every word position", () => {
  for (let ch = 0; ch < 128; ch++) {
    if (ch === 10) continue; // a line end: the rest of the line is then not a comment
    for (let pad = 0; pad < 4; pad++) {
      const line = `# c${"x".repeat(pad)}${String.fromCharCode(ch)}x\n# frames=4\n`;
      const got = readBytes(new TextEncoder().encode(line), "csv");
      const control = (ch < 32 && ch !== 9 && ch !== 10 && ch !== 13) || ch === 127;
      assert.equal(got === "error", control, `U+${ch.toString(16)} after ${pad}`);
    }
  }
});

Deno.test("fuzz: memory stayed bounded, and the scratch files go", () => {
  const grown = (Deno.memoryUsage().rss - rssAtStart) / 2 ** 20;
  assert.ok(grown < 256, `resident memory grew by ${grown.toFixed(0)} MiB`);
  Deno.removeSync(dir, { recursive: true });
});
