import assert from "node:assert/strict";
import { PrecopyError } from "../errors.ts";
import { record } from "./record.ts";
import { openTrace } from "../trace/trace.ts";
import { OP_WRITE } from "../workloads/workload.ts";

// A program with known writes: three groups of 100 fresh pages, 80 ms apart.
const PROGRAM = `
#include <sys/mman.h>
#include <unistd.h>
int main(void) {
  char *m = mmap(0, 300 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  usleep(40000);
  for (int g = 0; g < 3; g++) {
    for (int p = 0; p < 100; p++) m[(g * 100 + p) * 4096] = 1;
    usleep(80000);
  }
  return 0;
}
`;

function hasTool(name: string): boolean {
  return (Deno.env.get("PATH") ?? "").split(":").some((d) => {
    try {
      return Deno.statSync(`${d}/${name}`).isFile;
    } catch {
      return false;
    }
  });
}

const release = Deno.osRelease();
const [maj, min] = release.split(".").map(Number);
const wpOk = hasTool("cc") && (maj > 6 || (maj === 6 && min >= 7));

async function build(dir: string): Promise<string> {
  Deno.writeTextFileSync(`${dir}/groups.c`, PROGRAM);
  const out = await new Deno.Command("cc", {
    args: ["-O1", "-o", `${dir}/groups`, `${dir}/groups.c`],
  })
    .output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return `${dir}/groups`;
}

/** Per timestamp, how many frames are written there for the first time. */
function firstWrites(path: string): Map<number, number> {
  const w = openTrace(path);
  const seen = new Uint8Array(w.minPages);
  const out = new Map<number, number>();
  const s = w.open(w.minPages, 0);
  for (let c = s.next(); c; c = s.next()) {
    for (let i = 0; i < c.length; i++) {
      if (c.op[i] !== OP_WRITE || seen[c.pfn[i]]) continue;
      seen[c.pfn[i]] = 1;
      out.set(c.t[i], (out.get(c.t[i]) ?? 0) + 1);
    }
  }
  return out;
}

Deno.test({
  name: "record() --method wp sees the program's writes when they happen (ground truth)",
  ignore: !wpOk,
  async fn() {
    const dir = Deno.makeTempDirSync();
    const program = await build(dir);
    const p = await record({
      method: "wp",
      command: [program],
      out: `${dir}/g.pctrace`,
      passOutput: false,
    });
    assert.equal(p.exitCode, 0);
    assert.ok(p.pagesTouched >= 300, `${p.pagesTouched} pages`);
    // Three bursts of ~100 first writes (a group plus a few pages of the program's own),
    // 80 ms apart. A scan can land in the middle of a group and split it over two
    // intervals, so first writes within 25 ms of each other count as one burst.
    const clusters: [number, number][] = [];
    for (const [t, n] of [...firstWrites(`${dir}/g.pctrace`)].sort((a, b) => a[0] - b[0])) {
      if (t < 20e6) continue; // start-up
      const last = clusters[clusters.length - 1];
      if (last && t - last[0] < 25e6) last[1] += n;
      else clusters.push([t, n]);
    }
    const bursts = clusters.filter(([, n]) => n >= 100).map(([t]) => t);
    assert.equal(bursts.length, 3, JSON.stringify(clusters));
    for (const gap of [bursts[1] - bursts[0], bursts[2] - bursts[1]]) {
      assert.ok(gap > 50e6 && gap < 110e6, `gap ${gap / 1e6} ms`);
    }
    const prov = JSON.parse(Deno.readTextFileSync(`${dir}/g.pctrace.provenance.json`));
    assert.equal(prov.method, "wp");
    assert.equal(prov.pagesTouched, p.pagesTouched);
    Deno.removeSync(dir, { recursive: true });
  },
});

Deno.test({
  name: "record() --method lackey sees every write, reads included",
  ignore: !hasTool("valgrind") || !hasTool("cc"),
  async fn() {
    const dir = Deno.makeTempDirSync();
    const program = await build(dir);
    const p = await record({
      method: "lackey",
      command: [program],
      out: `${dir}/l.pctrace`,
      passOutput: false,
    });
    assert.ok(p.pagesTouched >= 300, `${p.pagesTouched} pages`);
    const t = openTrace(`${dir}/l.pctrace`);
    let reads = 0;
    const s = t.open(t.minPages, 0);
    for (let c = s.next(); c; c = s.next()) {
      for (let i = 0; i < c.length; i++) reads += c.op[i] === OP_WRITE ? 0 : 1;
    }
    assert.ok(reads > 0);
    Deno.removeSync(dir, { recursive: true });
  },
});

Deno.test("record() says what to install when a prerequisite is missing", async () => {
  await assert.rejects(
    record({
      method: "lackey",
      command: ["true"],
      out: "/tmp/x.pctrace",
      tools: { valgrind: "/nonexistent/valgrind" },
    }),
    (e: unknown) => {
      assert.ok(e instanceof PrecopyError);
      assert.match(
        e.message,
        /needs valgrind: install it \(apt-get install valgrind\), or use --method wp/,
      );
      return true;
    },
  );
  await assert.rejects(
    record({
      method: "wp",
      command: ["true"],
      out: "/tmp/x.pctrace",
      tools: { cc: "/nonexistent/cc" },
    }),
    /needs a C compiler: install gcc|needs Linux 6\.7/,
  );
  await assert.rejects(
    record({ method: "wp", command: [], out: "/tmp/x.pctrace" }),
    /no program given/,
  );
  for (const method of ["wp", "lackey"] as const) {
    await assert.rejects(
      record({ method, command: ["/nonexistent/prog"], out: "/tmp/x.pctrace" }),
      /^PrecopyError: record: the program '\/nonexistent\/prog' does not exist$/,
    );
    await assert.rejects(
      record({ method, command: ["no-such-program-here"], out: "/tmp/x.pctrace" }),
      /the program 'no-such-program-here' is not on PATH/,
    );
  }
  await assert.rejects(
    record({ method: "wp", command: ["true"], out: "/tmp/x.bin" }),
    /must end in \.pctrace/,
  );
});
