/**
 * The recorder: runs a real, unmodified program and writes the pages it writes as a v1
 * trace, plus a provenance file. Two methods:
 *
 * - `wp` (default): sampling at native speed with the kernel's own write tracking. A small
 *   preload library (`recorder_preload.c`, built with the machine's `cc` on first use)
 *   puts the program's private anonymous memory under asynchronous userfaultfd
 *   write-protection and, every interval, asks `PAGEMAP_SCAN` which pages were written
 *   since the last scan (re-protecting them in the same call). Each interval becomes a
 *   batch of writes stamped with the interval's end. Needs Linux ≥ 6.7; covers anonymous
 *   memory only; the scan at exit is dropped as noise.
 * - `lackey`: valgrind's `--tool=lackey --trace-mem=yes`, every load and store in order.
 *   Instruction counts become time (`ips`, default 10⁹/s), and accesses are grouped into
 *   `resolution` buckets (default 1 µs) stamped with the bucket's end. It is exact but
 *   thousands of times slower, so it suits short programs.
 *
 * Pages are mapped to dense frames in address order.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { withAtomicFileAsync, writeFileAtomic } from "../io.ts";
import { FrameList } from "../memory.ts";
import { RECORD_INTERVAL_NS, TraceWriter } from "../trace/trace.ts";
import { OP_READ, OP_WRITE } from "../workloads/workload.ts";

/** How to record. */
export interface RecordOptions {
  /** `wp` or `lackey`. */
  method: "wp" | "lackey";
  /** The program and its arguments. */
  command: string[];
  /** The `.pctrace` to write; the provenance goes to `<out>.provenance.json`. */
  out: string;
  /** `wp`: sampling interval in ns (default 10 ms). */
  intervalNs?: number;
  /** `lackey`: instructions per second, to turn counts into time (default 1e9). */
  ips?: number;
  /** `lackey`: time bucket in ns (default 1 µs). */
  resolutionNs?: number;
  /** Where the C compiler and valgrind are found (defaults: `cc`, `valgrind` on PATH). */
  tools?: { cc?: string; valgrind?: string };
  /** Whether the program's own output is shown (default true). */
  passOutput?: boolean;
}

/** What a recording produced (also written as the provenance file). */
export interface Provenance {
  /** The command recorded. */
  command: string[];
  /** The Debian package and version that provides the program, when it is one. */
  programVersion: string | null;
  /** `wp` or `lackey`. */
  method: string;
  /** Interval (wp) or bucket (lackey) in ns. */
  resolutionNs: number;
  /** Span of the trace, ns. */
  durationNs: number;
  /** Distinct pages written (= frames of the trace). */
  pagesTouched: number;
  /** Write events in the trace. */
  events: number;
  /** The program's exit code. */
  exitCode: number;
  /** When it was recorded (ISO 8601). */
  date: string;
  /** Kernel release. */
  kernel: string;
  /** For `wp`: the process recorded (the one that wrote the most) and how many ran. */
  process?: { pid: number; processesSeen: number };
  /** The trace file. */
  trace: string;
}

function recErr(msg: string): never {
  throw new PrecopyError("config", `record: ${msg}`);
}

function which(tool: string): string | null {
  if (tool.includes("/")) {
    try {
      Deno.statSync(tool);
      return tool;
    } catch {
      return null;
    }
  }
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const p = `${dir}/${tool}`;
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
  return null;
}

function kernelAtLeast(release: string, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  if (!m) return false;
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor);
}

/**
 * The program's package and version from Debian's package database (never by running the
 * program again: `PROGRAM --version` can do real work). Null when unknown.
 */
async function programVersion(cmd: string): Promise<string | null> {
  const path = which(cmd);
  if (!path) return null;
  const q = async (args: string[]) => {
    try {
      const o = await new Deno.Command("dpkg-query", { args, stdout: "piped", stderr: "null" })
        .output();
      return o.success ? new TextDecoder().decode(o.stdout).trim() : "";
    } catch {
      return "";
    }
  };
  const real = Deno.realPathSync(path);
  const owner = (await q(["-S", real])) || (await q(["-S", path]));
  const pkg = owner.split(":")[0];
  if (!pkg) return null;
  return (await q(["-W", "-f=${Package} ${Version}", pkg])) || null;
}

/** Builds the preload library once per source version; returns its path. */
async function preloadLibrary(cc: string): Promise<string> {
  const src = new URL("./recorder_preload.c", import.meta.url);
  const code = Deno.readFileSync(src);
  const hash = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", code)))
    .slice(0, 8).map((b) => b.toString(16).padStart(2, "0")).join("");
  const dir = `${
    Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME") ?? "/tmp"}/.cache`
  }/precopy-lab`;
  const lib = `${dir}/recorder-${hash}.so`;
  try {
    Deno.statSync(lib);
    return lib;
  } catch { /* build it */ }
  Deno.mkdirSync(dir, { recursive: true });
  const out = await new Deno.Command(cc, {
    args: [
      "-O2",
      "-shared",
      "-fPIC",
      "-o",
      `${lib}.tmp`,
      decodeURIComponent(src.pathname),
      "-lpthread",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    recErr(
      `building the preload library with ${cc} failed:\n${new TextDecoder().decode(out.stderr)}`,
    );
  }
  Deno.renameSync(`${lib}.tmp`, lib);
  return lib;
}

interface RawRecord {
  t: number;
  final: boolean;
  pages: Float64Array;
}

function readRaw(path: string): RawRecord[] {
  const b = Deno.readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: RawRecord[] = [];
  for (let o = 0; o + 16 <= b.length;) {
    const t = Number(dv.getBigUint64(o, true));
    const flags = dv.getUint32(o + 8, true), n = dv.getUint32(o + 12, true);
    o += 16;
    if (o + 8 * n > b.length) break; // cut short by a crash: keep what is whole
    const pages = new Float64Array(n);
    for (let i = 0; i < n; i++) pages[i] = Number(dv.getBigUint64(o + 8 * i, true));
    o += 8 * n;
    out.push({ t, final: (flags & 1) !== 0, pages });
  }
  return out;
}

/** Dense frame numbers for sorted distinct pages. */
function frameMap(pages: Float64Array): Map<number, number> {
  const sorted = Float64Array.from(new Set(pages)).sort();
  const m = new Map<number, number>();
  sorted.forEach((p, i) => m.set(p, i));
  return m;
}

async function recordWp(
  o: RecordOptions,
): Promise<Omit<Provenance, "date" | "kernel" | "programVersion" | "command" | "trace">> {
  const release = Deno.osRelease();
  if (!kernelAtLeast(release, 6, 7)) {
    recErr(
      `--method wp needs Linux 6.7 or newer (PAGEMAP_SCAN, asynchronous userfaultfd write-protect); this kernel is ${release}. Use --method lackey instead.`,
    );
  }
  const cc = which(o.tools?.cc ?? "cc");
  if (!cc) {
    recErr(
      "--method wp builds a small preload library and needs a C compiler: install gcc (apt-get install gcc), or use --method lackey.",
    );
  }
  const lib = await preloadLibrary(cc);
  const tmp = Deno.makeTempDirSync({ prefix: "pcl-record-" });
  const interval = o.intervalNs ?? RECORD_INTERVAL_NS;
  try {
    const child = new Deno.Command(o.command[0], {
      args: o.command.slice(1),
      env: {
        LD_PRELOAD: lib,
        PCL_RECORD_OUT: `${tmp}/rec`,
        PCL_RECORD_INTERVAL_NS: String(Math.round(interval)),
      },
      stdin: "null",
      stdout: o.passOutput === false ? "null" : "inherit",
      stderr: o.passOutput === false ? "piped" : "inherit",
    });
    // output() may throw before it returns a promise (a program that cannot be spawned).
    const status = await (async () => await child.output())().catch((e: Error) =>
      recErr(`cannot run '${o.command[0]}': ${e.message}`)
    );
    const stderr = o.passOutput === false ? new TextDecoder().decode(status.stderr) : "";
    const files = [...Deno.readDirSync(tmp)].filter((e) => e.name.endsWith(".raw"));
    if (files.length === 0) {
      recErr(
        `the preload library did not start in '${
          o.command[0]
        }' (a static binary, or userfaultfd not permitted?)${stderr ? `:\n${stderr}` : ""}`,
      );
    }
    // The process that wrote the most is the one of interest (gcc's cc1, not the driver).
    let best: RawRecord[] = [], bestPid = 0, bestCount = -1;
    for (const f of files) {
      const recs = readRaw(`${tmp}/${f.name}`).filter((r) => !r.final);
      const count = recs.reduce((s, r) => s + r.pages.length, 0);
      if (count > bestCount) {
        [best, bestCount, bestPid] = [recs, count, Number(f.name.split(".")[1])];
      }
    }
    const all = new Float64Array(bestCount);
    let k = 0;
    for (const r of best) all.set(r.pages, k), k += r.pages.length;
    const frames = frameMap(all);
    const w = new TraceWriter(o.out, { frames: Math.max(1, frames.size), compress: true });
    for (const r of best) for (const p of r.pages) w.append(r.t, frames.get(p)!, OP_WRITE);
    w.close();
    return {
      method: "wp",
      resolutionNs: interval,
      durationNs: best.length ? best[best.length - 1].t : 0,
      pagesTouched: frames.size,
      events: bestCount,
      exitCode: status.code,
      process: { pid: bestPid, processesSeen: files.length },
    };
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
}

async function recordLackey(
  o: RecordOptions,
): Promise<Omit<Provenance, "date" | "kernel" | "programVersion" | "command" | "trace">> {
  const valgrind = which(o.tools?.valgrind ?? "valgrind");
  if (!valgrind) {
    recErr(
      "--method lackey needs valgrind: install it (apt-get install valgrind), or use --method wp.",
    );
  }
  const ips = o.ips ?? 1e9, bucketNs = Math.round(o.resolutionNs ?? 1000);
  if (!(bucketNs >= 1)) recErr("--resolution must be at least 1ns");
  const child = new Deno.Command(valgrind, {
    args: ["--tool=lackey", "--trace-mem=yes", "--log-fd=2", ...o.command],
    stdin: "null",
    stdout: o.passOutput === false ? "null" : "inherit",
    stderr: "piped",
  }).spawn();
  // Per bucket, each page once: 2 = written, 1 = read only.
  const seen = new Map<number, number>();
  const evT = new FrameList(1 << 16), evP: number[] = [], evO = new FrameList(1 << 16);
  let instr = 0, bucket = 0;
  const flush = () => {
    const keys = [...seen.keys()].sort((a, b) => a - b);
    for (const p of keys) {
      evT.push(bucket + 1); // the bucket's end, in buckets (the trace's time unit)
      evP.push(p);
      evO.push(seen.get(p) === 2 ? OP_WRITE : OP_READ);
    }
    seen.clear();
  };
  const dec = new TextDecoder();
  let rest = "", other = "";
  for await (const piece of child.stderr) {
    const lines = (rest + dec.decode(piece, { stream: true })).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      const kind = line.charCodeAt(0) === 73 /* I */ ? "I" : line[1];
      if (kind === "I") {
        instr++;
        continue;
      }
      if (line[0] !== " " || (kind !== "L" && kind !== "S" && kind !== "M")) {
        if (line.startsWith("==") && other.length < 4000) other += line + "\n";
        continue;
      }
      const comma = line.indexOf(",", 3);
      const addr = parseInt(line.slice(3, comma), 16), size = Number(line.slice(comma + 1));
      const b = Math.floor((instr / ips) * 1e9 / bucketNs);
      if (b !== bucket) {
        flush();
        bucket = b;
      }
      const write = kind !== "L";
      for (let p = Math.floor(addr / 4096); p <= Math.floor((addr + size - 1) / 4096); p++) {
        if (write) seen.set(p, 2);
        else if (!seen.has(p)) seen.set(p, 1);
      }
    }
  }
  flush();
  const status = await child.status;
  if (evP.length === 0) {
    recErr(`valgrind recorded no memory access of '${o.command[0]}':\n${other}`);
  }
  const frames = frameMap(Float64Array.from(evP));
  const w = new TraceWriter(o.out, {
    frames: frames.size,
    compress: true,
    reads: true,
    timeUnitNs: bucketNs,
  });
  let writes = 0;
  for (let i = 0; i < evP.length; i++) {
    w.append(evT.buf[i], frames.get(evP[i])!, evO.buf[i]);
    if (evO.buf[i] === OP_WRITE) writes++;
  }
  w.close();
  const wset = new Set<number>();
  for (let i = 0; i < evP.length; i++) if (evO.buf[i] === OP_WRITE) wset.add(evP[i]);
  const written = wset.size;
  return {
    method: "lackey",
    resolutionNs: bucketNs,
    durationNs: evT.buf[evT.length - 1] * bucketNs,
    pagesTouched: written,
    events: writes,
    exitCode: status.code,
  };
}

/**
 * Records a program and writes `out` (a v1 trace) and `out.provenance.json`.
 *
 * @param options method, command, output and method parameters
 * @returns the provenance
 * @throws {PrecopyError} when a prerequisite is missing (with what to install or which
 * method to use instead) or the program cannot run
 */
export async function record(options: RecordOptions): Promise<Provenance> {
  if (options.command.length === 0) recErr("no program given: deno task record -- PROGRAM ARGS…");
  if (!options.out.endsWith(".pctrace")) recErr(`--out '${options.out}' must end in .pctrace`);
  // Name the program, not the output, when it cannot be found.
  const program = options.command[0];
  if (which(program) === null) {
    recErr(
      program.includes("/")
        ? `the program '${program}' does not exist`
        : `the program '${program}' is not on PATH`,
    );
  }
  const started = new Date();
  // The trace and its provenance replace older ones only once both are complete.
  const out = options.out;
  const body = await withAtomicFileAsync(out, (tmp) => {
    const opts = { ...options, out: tmp };
    return options.method === "lackey" ? recordLackey(opts) : recordWp(opts);
  });
  const provenance: Provenance = {
    command: options.command,
    programVersion: await programVersion(options.command[0]),
    ...body,
    date: started.toISOString(),
    kernel: Deno.osRelease(),
    trace: out.split("/").pop()!,
  };
  writeFileAtomic(`${out}.provenance.json`, JSON.stringify(provenance, null, 2) + "\n");
  return provenance;
}
