/**
 * Study specs: the JSON file that names policies (with parameter grids), workloads, stop
 * regimes, setting axes, replicates, the baseline and the metrics — checked with one clear
 * error per mistake, naming the key path — and its expansion into a numbered list of runs.
 *
 * The run list is a pure function of the spec (and the policy files it loads), so every
 * process that expands the same spec numbers the same runs the same way: that is what lets
 * worker pools, shards and `--resume` agree on what run 17 is.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { dirname, isAbsolute, resolve } from "node:path";
import { type ConfigInput, DEFAULT_CONFIG, resolveConfig } from "../config.ts";
import { PrecopyError } from "../errors.ts";
import type { BoundDeclaration, LoadedPolicy, Params, ParamValue } from "../policy/contract.ts";
import {
  loadPolicy,
  POLICIES_DIR,
  type PolicyScan,
  resolveParams,
  scanPolicies,
} from "../policy/loader.ts";
import { REPORT_COLUMNS } from "../report/report.ts";
import { isTraceSpec, splitTraceSpec } from "../trace/trace.ts";
import { TRACKER_KINDS } from "../trackers/tracker.ts";
import { formatDuration, parseBandwidth, parseCount, parseDuration, parseSize } from "../units.ts";

/** A setting value as written in a spec: a number, a text with units, or a flag. */
export type SettingValue = number | string | boolean | Record<string, number>;

/** A named stop regime: a bundle of settings. */
export interface Regime {
  /** Short name used in tables and files. */
  name: string;
  /** What it models. */
  description: string;
  /** The configuration it sets. */
  config: ConfigInput;
}

/** The fixed part of a hypervisor's downtime, besides the pages it sends while paused. */
export interface DowntimeFloor {
  /** Device state sent during downtime, bytes (`deviceState`, `--device-state`). */
  deviceState: number;
  /** Pause and resume overhead, ns (`pauseResumeNs`, `--pause-resume`). */
  pauseResumeNs: number;
  /** Where the values come from, and how sure they are. */
  source: string;
}

/**
 * Fixed downtime costs per hypervisor: the one place the named regimes take them from.
 * No published per-component figure (device-state size, pause and resume time) was found
 * for either hypervisor; the values are our assumptions, kept well below the smallest
 * published *total* downtimes they are part of (docs/bounds.md, "Downtime floors"). A
 * study's `settings` (or a custom regime) may still set `deviceState` and `pauseResume`.
 *
 * @example Usage
 * ```ts
 * import { DOWNTIME_FLOORS, NAMED_REGIMES } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const xen = NAMED_REGIMES.find((r) => r.name === "xen")!;
 * assert.equal(xen.config.pauseResumeNs, DOWNTIME_FLOORS.xen.pauseResumeNs);
 * assert.equal(DOWNTIME_FLOORS.qemu.deviceState, 512 * 1024);
 * ```
 */
export const DOWNTIME_FLOORS: Readonly<Record<"qemu" | "xen", Readonly<DowntimeFloor>>> = Object
  .freeze({
    qemu: Object.freeze({
      deviceState: 512 * 1024,
      pauseResumeNs: 10e6,
      source: "our assumption, below QEMU's documented typical downtime of a low hundred ms",
    }),
    xen: Object.freeze({
      deviceState: 512 * 1024,
      pauseResumeNs: 10e6,
      source: "our assumption, below Clark et al. (NSDI 2005): 60 ms (Quake 3), 210 ms (SPECweb)",
    }),
  });

const floorOf = (h: "qemu" | "xen"): ConfigInput => ({
  deviceState: DOWNTIME_FLOORS[h].deviceState,
  pauseResumeNs: DOWNTIME_FLOORS[h].pauseResumeNs,
});

/**
 * The stop regimes a spec can name; custom ones are written as settings. Each adds its
 * hypervisor's {@link DOWNTIME_FLOORS}.
 */
export const NAMED_REGIMES: readonly Regime[] = [
  {
    name: "qemu",
    description: "QEMU: re-sync at threshold, pause when pending < bandwidth × 300 ms",
    config: { iteration: "qemu", downtimeLimitNs: 300e6, maxRounds: 30, ...floorOf("qemu") },
  },
  {
    name: "qemu-30ms",
    description: "QEMU with a 30 ms downtime limit",
    config: { iteration: "qemu", downtimeLimitNs: 30e6, maxRounds: 30, ...floorOf("qemu") },
  },
  {
    name: "xen",
    description: "Xen: forced after 5 rounds or < 50 frames pending",
    config: {
      iteration: "drain",
      downtimeLimitNs: 0,
      maxRounds: 5,
      minPending: 50,
      ...floorOf("xen"),
    },
  },
];

/** Metric aliases: short names a spec may use for report columns. */
export const METRIC_ALIASES: Readonly<Record<string, string>> = {
  downtime: "downtimeNs",
  pages: "pagesSent",
  totalTime: "totalTimeNs",
};

/** The metrics a study reports when its spec names none. */
export const DEFAULT_METRICS: readonly string[] = [
  "downtimeNs",
  "pagesSent",
  "totalTimeNs",
  "rounds",
  "resends",
];

/** Report columns that are not numeric measurements (never metrics). */
const NOT_METRICS = new Set([
  "policy",
  "oracle",
  "role",
  "workload",
  "seed",
  "clear",
  "iteration",
  "switchover",
  "tracker",
  "maxRounds",
  "minPending",
  "downtimeLimitNs",
]);

/** Report columns a spec may use as metrics. */
export const METRIC_NAMES: readonly string[] = REPORT_COLUMNS.filter((c) => !NOT_METRICS.has(c));

/** One workload of a study. */
export interface StudyWorkload {
  /** Short name (tables, files). */
  name: string;
  /** Generator spec, or the trace path resolved against the spec's folder. */
  spec: string;
  /** The spec as written (no machine paths): what the summary shows. */
  written: string;
  /** Whether it is a trace (start offsets apply). */
  trace: boolean;
  /** What it is, if the spec says. */
  description: string;
  /** Its own settings (fixture memory, bandwidth, start). */
  config: ConfigInput;
}

/** One policy variant: a policy with one parameter set. */
export interface StudyPolicy {
  /** Unique label: the name, and `(k=v,…)` for given parameters. */
  label: string;
  /** What `loadPolicy` takes: a name from `policies/` or an absolute path. */
  ref: string;
  /** The policy's `meta.name`. */
  name: string;
  /**
   * Whether it reads the future (`meta.oracle`): a capability, not a claim. How each run
   * reports it (`bound`, `future-informed heuristic`, `contender`) is the run's
   * `report.policy.role`.
   */
  oracle: boolean;
  /** The bound it declares (`meta.bound`), if any: checked against the contenders. */
  bound?: BoundDeclaration;
  /** Parameters given in the spec (the rest are the policy's defaults). */
  params: Params;
}

/** One axis of the study: a setting with several values. */
export interface Axis {
  /** The setting's name as written (`clear`, `memory`, `regime`). */
  key: string;
  /** Display texts of the values, in spec order. */
  labels: string[];
  /** Each value's configuration. */
  configs: ConfigInput[];
  /** Numeric value of each (for plots), or null when not numeric. */
  numeric: (number | null)[];
  /** What each value models (regimes). */
  descriptions?: string[];
}

/** One setting combination: a value of every axis. */
export interface Setting {
  /** Axis key → value label. */
  values: Record<string, string>;
  /** `regime=xen clear=round` (or `-` when the study has no axes). */
  label: string;
  /** The merged configuration of the axes' values. */
  config: ConfigInput;
  /** Whether QEMU's iteration rule applies (downtime sits at the limit). */
  qemu: boolean;
}

/** One run of the expanded study. */
export interface RunSpec {
  /** Position in the run list, from 0. */
  index: number;
  /** `main` (policies compared) or `profile` (the profiling-overhead comparison). */
  kind: "main" | "profile";
  /** Index into {@link StudyPlan.workloads}. */
  workload: number;
  /** Index into {@link StudyPlan.settings} (profile runs: -1). */
  setting: number;
  /** Index into {@link StudyPlan.policies}. */
  policy: number;
  /** Replicate number, from 0. */
  replicate: number;
  /** Its seed. */
  seed: number;
  /** Start offset added to a trace's start, ns (0 for generators). */
  startOffsetNs: number;
  /** Tracker of a profile run (main runs: from the configuration). */
  tracker?: string;
  /** The full configuration overrides of this run. */
  config: ConfigInput;
}

/** Options of the profiling-overhead comparison. */
export interface ProfilingPart {
  /** Workload indices profiled. */
  workloads: number[];
  /** Trackers compared. */
  trackers: string[];
  /** How long each is profiled, ns. */
  spanNs: number;
}

/** A validated, expanded study. */
export interface StudyPlan {
  /** The study's name (the spec's `name`, or the file name). */
  name: string;
  /** Its description. */
  description: string;
  /** SHA-256 of the normalised spec and the policy sources: runs of other studies differ. */
  hash: string;
  /** The spec, normalised (defaults filled, no machine paths): for the summary. */
  normalized: Record<string, unknown>;
  /** Policy variants. */
  policies: StudyPolicy[];
  /** Index of the baseline in {@link policies}. */
  baseline: number;
  /** Workloads. */
  workloads: StudyWorkload[];
  /** Axes (the regime first when there are regimes). */
  axes: Axis[];
  /** Every combination of the axes' values. */
  settings: Setting[];
  /** Replicate seeds. */
  seeds: number[];
  /** Replicate start offsets, ns. */
  startOffsetsNs: number[];
  /** Metrics (report column names). */
  metrics: string[];
  /** Significance level of the paired tests. */
  alpha: number;
  /** Relative tolerance under which a paired difference is a tie. */
  tieTolerance: number;
  /** The profiling part, if any. */
  profiling: ProfilingPart | null;
  /** The cell whose per-round curves the report plots. */
  curves: { workload: number; setting: number };
  /** Every run, in index order. */
  runs: RunSpec[];
  /** Policies that failed to load: one line each (the rest of the study runs). */
  loadFailures: string[];
}

const TOP_KEYS = [
  "name",
  "description",
  "policies",
  "workloads",
  "regimes",
  "settings",
  "replicates",
  "baseline",
  "metrics",
  "alpha",
  "tieTolerance",
  "profiling",
  "curves",
];

/** Every problem found in a spec, one line each. */
class Problems {
  readonly list: string[] = [];
  constructor(readonly file: string) {}
  add(path: string, msg: string): void {
    this.list.push(`${this.file}: ${path}: ${msg}`);
  }
  throwIfAny(): void {
    if (this.list.length === 0) return;
    throw new PrecopyError(
      "config",
      this.list.length === 1
        ? this.list[0]
        : `${this.list.length} problems in the study spec:\n  ${this.list.join("\n  ")}`,
    );
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function checkKeys(
  p: Problems,
  path: string,
  obj: Record<string, unknown>,
  allowed: readonly string[],
): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      p.add(path ? `${path}.${k}` : k, `unknown key; accepted: ${allowed.join(", ")}`);
    }
  }
}

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** A setting's name in a spec → how its value becomes configuration. */
interface SettingParser {
  /** The configuration item it sets. */
  item: string;
  /** Value → configuration overrides (throws PrecopyError on a bad value). */
  parse(v: SettingValue, where: string): ConfigInput;
  /** Numeric value for plots. */
  numeric(c: ConfigInput): number | null;
}

/**
 * The settings a spec may set, derived from the configuration's items (so a new item is a
 * new setting): every item by its configuration name; durations (`…Ns`) also without the
 * suffix and as texts (`300ms`); `bandwidth` as a rate text; `memory` as a size.
 */
function settingParsers(): Map<string, SettingParser> {
  const m = new Map<string, SettingParser>();
  const bad = (where: string, msg: string): never => {
    throw new PrecopyError("config", `${where}: ${msg}`);
  };
  for (const [item, def] of Object.entries(DEFAULT_CONFIG)) {
    const num = (v: SettingValue, where: string, text: (s: string) => number) =>
      typeof v === "number"
        ? v
        : typeof v === "string"
        ? (v.trim() === "0" ? 0 : text(v))
        : bad(where, `expected a number or a text, not ${JSON.stringify(v)}`);
    const one = (parse: (v: SettingValue, where: string) => unknown): SettingParser => ({
      item,
      parse: (v, where) => {
        const c = { [item]: parse(v, where) } as ConfigInput;
        try {
          resolveConfig(c);
        } catch (e) {
          bad(where, (e as Error).message);
        }
        return c;
      },
      numeric: (c) => {
        const x = (c as Record<string, unknown>)[item];
        return typeof x === "number" ? x : null;
      },
    });
    if (typeof def === "number") {
      let text: (s: string, w: string) => number = (s, w) => parseCount(s, w);
      if (item.endsWith("Ns")) text = (s, w) => parseDuration(s, w);
      else if (item === "bandwidth") text = (s, w) => parseBandwidth(s, w);
      else if (item === "deviceState") text = (s, w) => parseSize(s, w);
      const p = one((v, where) => num(v, where, (s) => text(s, where)));
      m.set(item, p);
      if (item.endsWith("Ns")) m.set(item.slice(0, -2), p);
    } else if (typeof def === "string") {
      m.set(
        item,
        one((v, where) => {
          if (typeof v !== "string") return bad(where, "expected a text");
          // the engine checks the tracker only when a run starts: check it with the spec
          if (item === "tracker" && !TRACKER_KINDS.includes(v)) {
            bad(where, `'${v}' is not one of ${TRACKER_KINDS.join(", ")}`);
          }
          return v;
        }),
      );
    } else if (typeof def === "boolean") {
      m.set(
        item,
        one((v, where) => typeof v === "boolean" ? v : bad(where, "expected true or false")),
      );
    } else if (isObj(def)) {
      // Nested items take texts like the top-level ones: durations (`…Ns`, fractions of a
      // ns allowed, as the `--cost-…` flags) and counts.
      m.set(
        item,
        one((v, where) => {
          if (!isObj(v)) return bad(where, "expected an object of numbers or texts");
          const out: Record<string, number> = {};
          for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
            const w = `${where}.${k}`;
            out[k] = typeof x === "number"
              ? x
              : typeof x === "string"
              ? (x.trim() === "0"
                ? 0
                : k.endsWith("Ns")
                ? parseDuration(x, w, false)
                : parseCount(x, w))
              : bad(w, `expected a number or a text, not ${JSON.stringify(x)}`);
          }
          return out;
        }),
      );
    }
  }
  // A run's seed comes from its replicate: a setting would be overwritten, so say so.
  m.delete("seed");
  const pageSize = DEFAULT_CONFIG.pageSize;
  m.set("memory", {
    item: "pages",
    parse(v, where) {
      const bytes = typeof v === "number"
        ? v
        : typeof v === "string"
        ? parseSize(v, where)
        : bad(where, "expected a size such as 256MiB");
      if (!(bytes > 0) || bytes % pageSize !== 0) {
        bad(where, `${JSON.stringify(v)} is not a positive multiple of the ${pageSize}-byte page`);
      }
      return { pages: bytes / pageSize };
    },
    numeric: (c) => (c.pages === undefined ? null : c.pages * pageSize),
  });
  return m;
}

/** The accepted setting names, for messages and docs. */
export function settingNames(): string[] {
  return [...settingParsers().keys()].sort();
}

function label(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v);
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new PrecopyError("config", `${what}: cannot read: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new PrecopyError("config", `${what}: not JSON: ${(e as Error).message}`);
  }
}

function isPolicyPath(s: string): boolean {
  return s.endsWith(".ts") || s.endsWith(".js") || s.includes("/");
}

/** A parameter value or list of values (a grid) → the list of combinations. */
function grid(p: Problems, path: string, params: Record<string, unknown>): Params[] {
  let out: Params[] = [{}];
  for (const [k, raw] of Object.entries(params)) {
    const values = asList(raw as ParamValue | ParamValue[]);
    if (values.length === 0) p.add(`${path}.${k}`, "an empty list");
    for (const [i, v] of values.entries()) {
      if (!["number", "string", "boolean"].includes(typeof v)) {
        p.add(
          Array.isArray(raw) ? `${path}.${k}[${i}]` : `${path}.${k}`,
          "expected a number, text or boolean",
        );
      }
    }
    out = out.flatMap((o) => values.map((v) => ({ ...o, [k]: v })));
  }
  return out;
}

function paramsLabel(name: string, params: Params): string {
  const e = Object.entries(params);
  return e.length ? `${name}(${e.map(([k, v]) => `${k}=${v}`).join(",")})` : name;
}

/**
 * Finds policies for a spec: names in the policies folder (by file name, else by
 * `meta.name`), paths anywhere. The folder is scanned at most once, and only when a name
 * is not a file name or the spec asks for `all`.
 */
class PolicyFinder {
  #scan: Promise<PolicyScan> | undefined;
  constructor(readonly dir: URL) {}
  /** Every policy of the folder and its broken files. */
  scan(): Promise<PolicyScan> {
    return this.#scan ??= scanPolicies(this.dir);
  }
  /**
   * What `loadPolicy` takes for a policy of the folder: its name for this project's
   * `policies/` (as before), else its absolute path.
   */
  refOf(name: string, file: string): string {
    return this.dir.href === POLICIES_DIR.href ? name : resolve(file);
  }
  /**
   * A policy by name: `missing` when no file of the folder has it (a spec error), else the
   * policy or why its file does not load (a per-policy failure).
   */
  async byName(
    name: string,
  ): Promise<{ missing: string } | { ref: string; load: () => Promise<LoadedPolicy> }> {
    if (/^[a-z0-9][a-z0-9-]*$/i.test(name)) {
      const byFile = new URL(`${name}.ts`, this.dir);
      let exists = false;
      try {
        exists = Deno.statSync(byFile).isFile;
      } catch { /* not a file name: look the name up in the scan */ }
      if (exists) {
        let l: LoadedPolicy | null = null;
        let why: Error | null = null;
        try {
          l = await loadPolicy(decodeURIComponent(byFile.pathname));
        } catch (e) {
          why = e as Error;
        }
        if (why) {
          const err = why;
          return { ref: this.refOf(name, byFile.pathname), load: () => Promise.reject(err) };
        }
        if (l!.definition.meta.name === name) {
          const hit = l!;
          return { ref: this.refOf(name, byFile.pathname), load: () => Promise.resolve(hit) };
        }
        l!.sandbox?.close();
      }
    }
    const { policies, broken } = await this.scan();
    const hit = policies.find((x) => x.definition.meta.name === name);
    if (hit) return { ref: this.refOf(name, hit.file), load: () => Promise.resolve(hit) };
    const where = this.dir.href === POLICIES_DIR.href
      ? "policies/"
      : decodeURIComponent(this.dir.pathname);
    return {
      missing: `no policy '${name}' in ${where} (known: ${
        policies.map((x) => x.definition.meta.name).join(", ") || "none"
      }${
        broken.length ? `; broken: ${broken.map((b) => b.file).join(", ")}` : ""
      }), or a path to a policy file`,
    };
  }
}

async function expandPolicies(
  p: Problems,
  raw: unknown,
  dir: string,
  failures: string[],
  finder: PolicyFinder,
): Promise<{ policies: StudyPolicy[]; sources: string[] }> {
  const policies: StudyPolicy[] = [];
  const sources: string[] = [];
  if (!Array.isArray(raw) && raw !== "all") {
    p.add("policies", `expected "all" or a list of names, paths or {name, params}`);
    return { policies, sources };
  }
  const entries = raw === "all" ? ["all"] : raw as unknown[];
  if (entries.length === 0) p.add("policies", "an empty list");
  const add = async (
    path: string,
    ref: string,
    written: string,
    params: Params[],
    given: string | undefined,
    load: () => Promise<LoadedPolicy> = () => loadPolicy(ref),
  ) => {
    let loaded: LoadedPolicy;
    try {
      loaded = await load();
    } catch (e) {
      failures.push(`${path}: ${written}: ${(e as Error).message}`);
      return;
    }
    for (const [i, set] of params.entries()) {
      try {
        resolveParams(
          loaded,
          Object.fromEntries(Object.entries(set).map(([k, v]) => [k, String(v)])),
        );
      } catch (e) {
        p.add(`${path}.params${params.length > 1 ? ` (set ${i + 1})` : ""}`, (e as Error).message);
        continue;
      }
      const name = loaded.definition.meta.name;
      policies.push({
        label: given && params.length === 1 ? given : paramsLabel(given ?? name, set),
        ref,
        name,
        oracle: loaded.definition.meta.oracle === true,
        ...boundOf(loaded),
        params: set,
      });
    }
    sources.push(`${written}:${hashFile(loaded.file)}`);
  };
  /** A name or a path as written at `path`: a missing one is a spec error. */
  const addRef = async (
    path: string,
    key: string,
    written: string,
    params: Params[],
    given: string | undefined,
  ) => {
    if (key === "file" || isPolicyPath(written)) {
      const ref = resolve(dir, written);
      try {
        Deno.statSync(ref);
      } catch {
        p.add(key ? `${path}.${key}` : path, `policy file '${written}' not found`);
        return;
      }
      await add(path, ref, written, params, given);
      return;
    }
    const found = await finder.byName(written);
    if ("missing" in found) p.add(key ? `${path}.${key}` : path, found.missing);
    else await add(path, found.ref, written, params, given, found.load);
  };
  for (const [i, e] of entries.entries()) {
    const path = `policies[${i}]`;
    if (e === "all") {
      // One broken file costs only itself: the others still run, and it is reported.
      const { policies: all, broken } = await finder.scan();
      for (const b of broken) {
        failures.push(`${path}: all: ${b.reason.includes(b.file) ? "" : `${b.file}: `}${b.reason}`);
      }
      for (const l of all) {
        const name = l.definition.meta.name;
        await add(
          path,
          finder.refOf(name, l.file),
          name,
          [{}],
          undefined,
          () => Promise.resolve(l),
        );
      }
    } else if (typeof e === "string") {
      await addRef(path, "", e, [{}], undefined);
    } else if (isObj(e)) {
      checkKeys(p, path, e, ["name", "file", "params", "label"]);
      const name = e.name, file = e.file;
      if ((name === undefined) === (file === undefined)) {
        p.add(path, "give either name (a policy in policies/) or file (a path)");
        continue;
      }
      if (name !== undefined && typeof name !== "string") p.add(`${path}.name`, "expected a text");
      if (file !== undefined && typeof file !== "string") p.add(`${path}.file`, "expected a text");
      if (e.label !== undefined && typeof e.label !== "string") {
        p.add(`${path}.label`, "expected a text");
      }
      let sets: Params[] = [{}];
      if (e.params !== undefined) {
        if (isObj(e.params)) sets = grid(p, `${path}.params`, e.params);
        else if (Array.isArray(e.params)) {
          sets = e.params.flatMap((s, j) =>
            isObj(s)
              ? grid(p, `${path}.params[${j}]`, s)
              : (p.add(`${path}.params[${j}]`, "expected an object of parameters"), [])
          );
        } else p.add(`${path}.params`, "expected an object (values or lists) or a list of them");
      }
      if (typeof name === "string") {
        await addRef(path, "name", name, sets, e.label as string);
      } else if (typeof file === "string") {
        await addRef(path, "file", file, sets, e.label as string);
      }
    } else p.add(path, "expected a name, a path or {name|file, params, label}");
  }
  const seen = new Set<string>();
  for (const pol of policies) {
    if (seen.has(pol.label)) {
      p.add("policies", `'${pol.label}' appears twice; give one of them a label`);
    }
    seen.add(pol.label);
  }
  return { policies, sources };
}

/** A policy's declared bound as plain data (the plan travels to workers and shards as JSON). */
function boundOf(l: LoadedPolicy): { bound?: BoundDeclaration } {
  const b = l.definition.meta.bound;
  return b ? { bound: JSON.parse(JSON.stringify(b)) } : {};
}

function hashFile(file: string): string {
  try {
    const path = isAbsolute(file) ? file : resolve(Deno.cwd(), file);
    return createHash("sha256").update(Deno.readFileSync(path)).digest("hex").slice(0, 16);
  } catch {
    return "unread";
  }
}

function workloadConfig(
  p: Problems,
  path: string,
  w: Record<string, unknown>,
  parsers: Map<string, SettingParser>,
): ConfigInput {
  let c: ConfigInput = {};
  for (const k of ["memory", "bandwidth", "start"]) {
    if (w[k] === undefined) continue;
    try {
      c = { ...c, ...parsers.get(k)!.parse(w[k] as SettingValue, `${path}.${k}`) };
    } catch (e) {
      p.list.push(`${p.file}: ${(e as Error).message}`);
    }
  }
  return c;
}

function expandWorkloads(
  p: Problems,
  raw: unknown,
  dir: string,
  parsers: Map<string, SettingParser>,
): StudyWorkload[] {
  const out: StudyWorkload[] = [];
  if (!Array.isArray(raw) || raw.length === 0) {
    p.add("workloads", "expected a non-empty list of specs, trace paths or {name, spec}");
    return out;
  }
  const make = (
    path: string,
    spec: string,
    base: string,
    name: string | undefined,
    description: string,
    config: ConfigInput,
  ) => {
    const trace = isTraceSpec(spec) && !spec.startsWith("fit:");
    const resolved = trace ? resolve(base, spec) : spec;
    if (trace) {
      const file = splitTraceSpec(resolved).path;
      try {
        Deno.statSync(file);
      } catch {
        p.add(path, `trace file '${spec}' not found`);
      }
    }
    const short = name ??
      (trace ? splitTraceSpec(spec).path.replace(/^.*\//, "").replace(/\.[a-z]+$/, "") : spec);
    out.push({ name: short, spec: resolved, written: spec, trace, description, config });
  };
  for (const [i, e] of raw.entries()) {
    const path = `workloads[${i}]`;
    if (typeof e === "string") make(path, e, dir, undefined, "", {});
    else if (isObj(e) && e.file !== undefined) {
      checkKeys(p, path, e, ["file", "only"]);
      if (typeof e.file !== "string") {
        p.add(`${path}.file`, "expected a path to a workloads file");
        continue;
      }
      const file = resolve(dir, e.file);
      let f: unknown;
      try {
        f = readJson(file, `${path}.file '${e.file}'`);
      } catch (err) {
        p.list.push(`${p.file}: ${(err as Error).message}`);
        continue;
      }
      if (!isObj(f) || !Array.isArray(f.workloads)) {
        p.add(`${path}.file`, `'${e.file}' has no workloads list`);
        continue;
      }
      const only = e.only;
      if (only !== undefined && (!Array.isArray(only) || only.some((x) => typeof x !== "string"))) {
        p.add(`${path}.only`, "expected a list of workload names");
      }
      const names = (f.workloads as Record<string, unknown>[]).map((w) => w.name);
      for (const n of (Array.isArray(only) ? only : []) as string[]) {
        if (!names.includes(n)) {
          p.add(`${path}.only`, `'${n}' is not in '${e.file}'; it has: ${names.join(", ")}`);
        }
      }
      for (const [j, w] of (f.workloads as Record<string, unknown>[]).entries()) {
        const wp = `${path} ('${e.file}' workloads[${j}])`;
        if (!isObj(w) || typeof w.name !== "string" || typeof w.spec !== "string") {
          p.add(wp, "needs a name and a spec");
          continue;
        }
        if (Array.isArray(only) && !only.includes(w.name)) continue;
        const config = workloadConfig(
          p,
          wp,
          { memory: f.memory, bandwidth: f.bandwidth, ...w },
          parsers,
        );
        make(wp, w.spec, dirname(file), w.name, String(w.description ?? ""), config);
      }
    } else if (isObj(e)) {
      checkKeys(p, path, e, ["name", "spec", "description", "memory", "bandwidth", "start"]);
      if (typeof e.spec !== "string") {
        p.add(`${path}.spec`, "expected a generator spec or a trace path");
        continue;
      }
      if (e.name !== undefined && typeof e.name !== "string") {
        p.add(`${path}.name`, "expected a text");
      }
      make(
        path,
        e.spec,
        dir,
        e.name as string | undefined,
        String(e.description ?? ""),
        workloadConfig(p, path, e, parsers),
      );
    } else p.add(path, "expected a spec, a trace path, {name, spec} or {file}");
  }
  const seen = new Set<string>();
  for (const w of out) {
    if (seen.has(w.name)) p.add("workloads", `two workloads are named '${w.name}'; name them`);
    seen.add(w.name);
  }
  return out;
}

function unknownSetting(k: string): string {
  return k === "seed"
    ? "seed is not a setting; use replicates.seeds"
    : `unknown setting; accepted: ${settingNames().join(", ")}`;
}

/** Two keys of one settings object that set the same item (`memory`, `pages`): refused. */
function sameItem(
  p: Problems,
  path: string,
  setBy: Map<string, string>,
  k: string,
  parser: SettingParser,
): void {
  const other = setBy.get(parser.item);
  if (other !== undefined) {
    p.add(`${path}.${k}`, `${other} and ${k} both given (both set ${parser.item}); use one`);
  }
  setBy.set(parser.item, k);
}

function settingAxes(
  p: Problems,
  rawRegimes: unknown,
  rawSettings: unknown,
  parsers: Map<string, SettingParser>,
): { axes: Axis[]; scalars: ConfigInput } {
  const axes: Axis[] = [];
  let scalars: ConfigInput = {};
  if (rawRegimes !== undefined) {
    const list = asList(rawRegimes);
    const regime: Axis = {
      key: "regime",
      labels: [],
      configs: [],
      numeric: [],
      descriptions: [],
    };
    for (const [i, r] of list.entries()) {
      const path = Array.isArray(rawRegimes) ? `regimes[${i}]` : "regimes";
      if (typeof r === "string") {
        const named = NAMED_REGIMES.find((n) => n.name === r);
        if (!named) {
          p.add(
            path,
            `no regime named '${r}'; named: ${
              NAMED_REGIMES.map((n) => n.name).join(", ")
            }, or {name, settings}`,
          );
          continue;
        }
        regime.labels.push(r);
        regime.configs.push(named.config);
        regime.descriptions!.push(named.description);
      } else if (isObj(r)) {
        checkKeys(p, path, r, ["name", "description", "settings"]);
        if (typeof r.name !== "string") p.add(`${path}.name`, "expected a text");
        if (!isObj(r.settings)) {
          p.add(`${path}.settings`, "expected an object of settings");
          continue;
        }
        let c: ConfigInput = {};
        const setBy = new Map<string, string>();
        for (const [k, v] of Object.entries(r.settings)) {
          const parser = parsers.get(k);
          if (!parser) {
            p.add(`${path}.settings.${k}`, unknownSetting(k));
            continue;
          }
          sameItem(p, `${path}.settings`, setBy, k, parser);
          try {
            c = { ...c, ...parser.parse(v as SettingValue, `${path}.settings.${k}`) };
          } catch (e) {
            p.list.push(`${p.file}: ${(e as Error).message}`);
          }
        }
        regime.labels.push(String(r.name));
        regime.configs.push(c);
        regime.descriptions!.push(typeof r.description === "string" ? r.description : "custom");
      } else p.add(path, "expected a regime name or {name, settings}");
      regime.numeric.push(null);
    }
    if (new Set(regime.labels).size !== regime.labels.length) {
      p.add("regimes", "a regime is listed twice");
    }
    if (regime.labels.length) axes.push(regime);
  }
  if (rawSettings !== undefined) {
    if (!isObj(rawSettings)) p.add("settings", "expected an object of settings");
    else {
      const setBy = new Map<string, string>();
      for (const [k, v] of Object.entries(rawSettings)) {
        const parser = parsers.get(k);
        if (!parser) {
          p.add(`settings.${k}`, unknownSetting(k));
          continue;
        }
        sameItem(p, "settings", setBy, k, parser);
        const values = asList(v as SettingValue | SettingValue[]);
        if (values.length === 0) {
          p.add(`settings.${k}`, "an empty list");
          continue;
        }
        const axis: Axis = { key: k, labels: [], configs: [], numeric: [] };
        for (const [i, x] of values.entries()) {
          const where = Array.isArray(v) ? `settings.${k}[${i}]` : `settings.${k}`;
          try {
            const c = parser.parse(x, where);
            axis.configs.push(c);
            axis.labels.push(label(x));
            axis.numeric.push(parser.numeric(c));
          } catch (e) {
            p.list.push(`${p.file}: ${(e as Error).message}`);
          }
        }
        if (new Set(axis.labels).size !== axis.labels.length) {
          p.add(`settings.${k}`, "a value is listed twice");
        }
        if (axis.configs.length > 1) axes.push(axis);
        else if (axis.configs.length === 1) scalars = { ...scalars, ...axis.configs[0] };
      }
    }
  }
  return { axes, scalars };
}

function combine(axes: Axis[], scalars: ConfigInput): Setting[] {
  let out: { values: Record<string, string>; config: ConfigInput }[] = [{
    values: {},
    config: {},
  }];
  for (const a of axes) {
    out = out.flatMap((s) =>
      a.labels.map((l, i) => ({
        values: { ...s.values, [a.key]: l },
        config: { ...s.config, ...a.configs[i] },
      }))
    );
  }
  // The study's single-valued settings come last: they win over a regime's.
  return out.map((s) => ({
    values: s.values,
    config: { ...s.config, ...scalars },
    label: Object.entries(s.values).map(([k, v]) => `${k}=${v}`).join(" ") || "-",
    qemu: resolveConfig({ ...s.config, ...scalars }).iteration === "qemu",
  }));
}

function replicates(
  p: Problems,
  raw: unknown,
): { seeds: number[]; offsets: number[] } {
  const seedList = (v: unknown, path: string): number[] => {
    if (typeof v === "number") {
      if (!Number.isInteger(v) || v < 1 || v > 10000) {
        p.add(path, "expected a count from 1 to 10000 or a list of seeds");
        return [1];
      }
      return Array.from({ length: v }, (_, i) => i + 1);
    }
    if (Array.isArray(v) && v.length > 0) {
      for (const [i, s] of v.entries()) {
        if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) {
          p.add(`${path}[${i}]`, "a seed is a whole number from 0 to 4294967295");
        }
      }
      if (new Set(v).size !== v.length) p.add(path, "a seed is listed twice");
      return v as number[];
    }
    p.add(path, "expected a count or a non-empty list of seeds");
    return [1];
  };
  if (raw === undefined) return { seeds: seedList(5, "replicates"), offsets: [0, 0, 0, 0, 0] };
  if (typeof raw === "number") {
    const seeds = seedList(raw, "replicates");
    return { seeds, offsets: seeds.map(() => 0) };
  }
  if (!isObj(raw)) {
    p.add("replicates", "expected a count or {seeds, startOffsets | startStep}");
    return { seeds: [1], offsets: [0] };
  }
  checkKeys(p, "replicates", raw, ["seeds", "startOffsets", "startStep"]);
  const seeds = seedList(raw.seeds ?? 5, "replicates.seeds");
  let offsets = seeds.map(() => 0);
  const dur = (v: unknown, path: string) => {
    if (typeof v === "number" && v >= 0) return v;
    if (typeof v === "string") {
      try {
        return v.trim() === "0" ? 0 : parseDuration(v, path);
      } catch (e) {
        p.list.push(`${p.file}: ${(e as Error).message}`);
        return 0;
      }
    }
    p.add(path, "expected a duration such as 50ms");
    return 0;
  };
  if (raw.startOffsets !== undefined && raw.startStep !== undefined) {
    p.add("replicates", "give startOffsets or startStep, not both");
  } else if (raw.startOffsets !== undefined) {
    if (!Array.isArray(raw.startOffsets)) p.add("replicates.startOffsets", "expected a list");
    else {
      if (raw.startOffsets.length !== seeds.length) {
        p.add(
          "replicates.startOffsets",
          `${raw.startOffsets.length} offsets for ${seeds.length} seeds; give one per replicate`,
        );
      }
      const list = raw.startOffsets as unknown[];
      offsets = seeds.map((_, i) => dur(list[i] ?? 0, `replicates.startOffsets[${i}]`));
    }
  } else if (raw.startStep !== undefined) {
    const step = dur(raw.startStep, "replicates.startStep");
    offsets = seeds.map((_, i) => i * step);
  }
  return { seeds, offsets };
}

/**
 * Reads, checks and expands a study spec. Every mistake is reported (one line each, naming
 * the key path), unknown keys are rejected; a policy that fails to load is reported in
 * {@link StudyPlan.loadFailures} and left out, so the rest of the study still runs.
 *
 * @param file the spec's path
 * @param overrides values that replace the spec's (the bench's shortcut flags)
 * @param policiesDir where policy names are looked up (default: this project's `policies/`)
 * @returns the plan
 * @throws {PrecopyError} listing every problem in the spec
 *
 * @example Usage
 * ```ts
 * import { loadStudy } from "./spec.ts";
 * import assert from "node:assert/strict";
 * const file = Deno.makeTempFileSync({ suffix: ".json" });
 * Deno.writeTextFileSync(file, JSON.stringify({
 *   policies: ["sequential", { name: "staged-history", params: { stages: [2, 4] } }],
 *   workloads: ["idle"],
 *   settings: { memory: "1MiB", clear: ["send", "round"] },
 *   replicates: 3,
 * }));
 * const plan = await loadStudy(file);
 * assert.equal(plan.policies.length, 3);
 * assert.equal(plan.runs.length, 3 * 2 * 3); // policies × clear × seeds
 * Deno.removeSync(file);
 * ```
 */
export async function loadStudy(
  file: string,
  overrides: Record<string, unknown> = {},
  policiesDir: URL = POLICIES_DIR,
): Promise<StudyPlan> {
  const raw = readJson(file, `study spec '${file}'`);
  if (!isObj(raw)) throw new PrecopyError("config", `${file}: a study spec is a JSON object`);
  const spec: Record<string, unknown> = { ...raw, ...overrides };
  if (isObj(raw.settings) && isObj(overrides.settings)) {
    spec.settings = { ...raw.settings, ...overrides.settings };
  }
  const p = new Problems(file);
  checkKeys(p, "", spec, TOP_KEYS);
  const dir = dirname(resolve(file));
  const parsers = settingParsers();
  const loadFailures: string[] = [];
  const finder = new PolicyFinder(policiesDir);
  for (const k of ["name", "description", "baseline"]) {
    if (spec[k] !== undefined && typeof spec[k] !== "string") p.add(k, "expected a text");
  }
  const { policies, sources } = spec.policies === undefined
    ? (p.add("policies", "missing: a list of policy names or paths"), { policies: [], sources: [] })
    : await expandPolicies(p, spec.policies, dir, loadFailures, finder);
  const workloads = spec.workloads === undefined
    ? (p.add("workloads", "missing: a list of workloads"), [])
    : expandWorkloads(p, spec.workloads, dir, parsers);
  const { axes, scalars } = settingAxes(p, spec.regimes, spec.settings, parsers);
  const { seeds, offsets } = replicates(p, spec.replicates);

  // The baseline: named by label or policy name; added when the study does not list it.
  const baseName = (spec.baseline as string | undefined) ?? "sequential";
  let baseline = policies.findIndex((x) => x.label === baseName);
  if (baseline < 0) baseline = policies.findIndex((x) => x.name === baseName && x.label === x.name);
  if (
    baseline < 0 && typeof spec.baseline === "string" && policies.some((x) => x.name === baseName)
  ) {
    p.add("baseline", `'${baseName}' has several variants; name one by its label`);
  }
  if (baseline < 0 && !policies.some((x) => x.name === baseName)) {
    try {
      let ref: string, load: () => Promise<LoadedPolicy>;
      if (isPolicyPath(baseName)) {
        ref = resolve(dir, baseName);
        load = () => loadPolicy(ref);
      } else {
        const found = await finder.byName(baseName);
        if ("missing" in found) throw new PrecopyError("config", found.missing);
        ({ ref, load } = found);
      }
      const l = await load();
      policies.unshift({
        label: baseName,
        ref,
        name: l.definition.meta.name,
        oracle: l.definition.meta.oracle === true,
        ...boundOf(l),
        params: {},
      });
      sources.push(`${baseName}:${hashFile(l.file)}`);
      baseline = 0;
    } catch (e) {
      p.add("baseline", (e as Error).message);
    }
  }

  let metrics = [...DEFAULT_METRICS];
  if (spec.metrics !== undefined) {
    if (!Array.isArray(spec.metrics) || spec.metrics.length === 0) {
      p.add("metrics", "expected a non-empty list of metric names");
    } else {
      metrics = [];
      for (const [i, m] of spec.metrics.entries()) {
        const name = typeof m === "string" ? METRIC_ALIASES[m] ?? m : "";
        if (!METRIC_NAMES.includes(name)) {
          p.add(
            `metrics[${i}]`,
            `unknown metric; accepted: ${Object.keys(METRIC_ALIASES).join(", ")}, ${
              METRIC_NAMES.join(", ")
            }`,
          );
        } else if (metrics.includes(name)) p.add(`metrics[${i}]`, "listed twice");
        else metrics.push(name);
      }
    }
  }
  const num = (k: string, def: number, lo: number, hi: number) => {
    const v = spec[k];
    if (v === undefined) return def;
    if (typeof v !== "number" || !(v >= lo && v <= hi)) {
      p.add(k, `expected a number from ${lo} to ${hi}`);
      return def;
    }
    return v;
  };
  const alpha = num("alpha", 0.05, 1e-6, 0.5);
  const tieTolerance = num("tieTolerance", 0.001, 0, 0.5);

  let profiling: ProfilingPart | null = null;
  if (spec.profiling !== undefined) {
    const pr = spec.profiling;
    if (!isObj(pr)) p.add("profiling", "expected {workloads, trackers, span}");
    else {
      checkKeys(p, "profiling", pr, ["workloads", "trackers", "span"]);
      const ws: number[] = [];
      for (const [i, n] of asList(pr.workloads ?? []).entries()) {
        const j = workloads.findIndex((w) => w.name === n);
        if (j < 0) p.add(`profiling.workloads[${i}]`, `'${n}' is not a workload of this study`);
        else ws.push(j);
      }
      if (ws.length === 0 && pr.workloads === undefined) p.add("profiling.workloads", "missing");
      const trackers = asList(pr.trackers ?? [...TRACKER_KINDS]) as string[];
      for (const [i, t] of trackers.entries()) {
        if (!TRACKER_KINDS.includes(t)) {
          p.add(`profiling.trackers[${i}]`, `'${t}' is not one of ${TRACKER_KINDS.join(", ")}`);
        }
      }
      let spanNs = 5e9;
      if (pr.span !== undefined) {
        try {
          spanNs = parseDuration(String(pr.span), "profiling.span");
        } catch (e) {
          p.add("profiling.span", (e as Error).message);
        }
      }
      profiling = { workloads: ws, trackers, spanNs };
    }
  }
  const settings = axes.length || Object.keys(scalars).length
    ? combine(axes, scalars)
    : combine([], {});
  if (profiling) {
    // Shorter than one interval, the tracker never scans: the slowdown would be 0 by default.
    const interval = resolveConfig(settings[0].config).profileIntervalNs;
    if (!(profiling.spanNs >= interval)) {
      p.add(
        "profiling.span",
        `${
          formatDuration(profiling.spanNs)
        } is shorter than one profiling interval (profileInterval ${
          formatDuration(interval)
        }); profile for at least one interval`,
      );
    }
  }

  let curves = { workload: 0, setting: 0 };
  if (spec.curves !== undefined) {
    if (!isObj(spec.curves)) p.add("curves", "expected {workload, <axis>: value, …}");
    else {
      // The bench's shortcut flags may remove the chosen cell's axes: fall back quietly.
      const lenient = Object.keys(overrides).length > 0;
      const q = lenient ? new Problems(file) : p;
      const c = spec.curves;
      const wi = c.workload === undefined ? 0 : workloads.findIndex((w) => w.name === c.workload);
      if (wi < 0) q.add("curves.workload", `'${c.workload}' is not a workload of this study`);
      for (const k of Object.keys(c)) {
        if (k !== "workload" && !axes.some((a) => a.key === k)) {
          q.add(
            `curves.${k}`,
            `not an axis of this study; axes: ${axes.map((a) => a.key).join(", ") || "none"}`,
          );
        }
      }
      const si = settings.findIndex((s) =>
        Object.entries(c).every(([k, v]) => k === "workload" || s.values[k] === label(v))
      );
      if (si < 0) q.add("curves", "no setting of this study matches");
      curves = { workload: Math.max(0, wi), setting: Math.max(0, si) };
    }
  }
  p.throwIfAny();
  if (policies.length === 0) {
    throw new PrecopyError(
      "config",
      `${file}: no policy could be loaded:\n  ${loadFailures.join("\n  ")}`,
    );
  }

  // Expansion: workload × setting × replicate × policy, then the profiling runs.
  const runs: RunSpec[] = [];
  for (const [wi, w] of workloads.entries()) {
    for (const [si, s] of settings.entries()) {
      for (const [r, seed] of seeds.entries()) {
        for (let pi = 0; pi < policies.length; pi++) {
          runs.push(makeRun(runs.length, "main", w, wi, si, s.config, pi, r, seed, offsets[r]));
        }
      }
    }
  }
  if (profiling) {
    const base = settings[0].config;
    for (const wi of profiling.workloads) {
      for (const tracker of profiling.trackers) {
        for (const [r, seed] of seeds.entries()) {
          const w = workloads[wi];
          const run = makeRun(
            runs.length,
            "profile",
            w,
            wi,
            -1,
            { ...base, tracker, startNs: profiling.spanNs },
            baseline,
            r,
            seed,
            offsets[r],
          );
          run.tracker = tracker;
          runs.push(run);
        }
      }
    }
  }
  const name = (spec.name as string | undefined) ??
    file.replace(/^.*\//, "").replace(/\.json$/, "");
  const normalized: Record<string, unknown> = {
    name,
    description: spec.description ?? "",
    policies: policies.map((x) => ({
      label: x.label,
      name: x.name,
      oracle: x.oracle,
      params: x.params,
    })),
    baseline: policies[baseline].label,
    workloads: workloads.map((w) => ({
      name: w.name,
      spec: w.written,
      description: w.description,
      config: w.config,
    })),
    axes: axes.map((a) => ({ key: a.key, values: a.labels, configs: a.configs })),
    scalars,
    seeds,
    startOffsetsNs: offsets,
    metrics,
    alpha,
    tieTolerance,
    profiling,
    curves,
  };
  const hash = createHash("sha256")
    .update(JSON.stringify(normalized))
    .update(sources.sort().join("\n"))
    .digest("hex")
    .slice(0, 16);
  return {
    name,
    description: String(spec.description ?? ""),
    hash,
    normalized,
    policies,
    baseline,
    workloads,
    axes,
    settings,
    seeds,
    startOffsetsNs: offsets,
    metrics,
    alpha,
    tieTolerance,
    profiling,
    curves,
    runs,
    loadFailures,
  };
}

function makeRun(
  index: number,
  kind: "main" | "profile",
  w: StudyWorkload,
  wi: number,
  si: number,
  setting: ConfigInput,
  pi: number,
  replicate: number,
  seed: number,
  offset: number,
): RunSpec {
  // Precedence: the workload's own settings, then the study's; the replicate's seed; a
  // trace's start moves by the replicate's offset (generators vary by seed instead).
  const config: ConfigInput = { ...w.config, ...setting, seed };
  const startOffsetNs = w.trace ? offset : 0;
  if (startOffsetNs) config.startNs = resolveConfig(config).startNs + startOffsetNs;
  return {
    index,
    kind,
    workload: wi,
    setting: si,
    policy: pi,
    replicate,
    seed,
    startOffsetNs,
    config,
  };
}

/**
 * Describes a run in one line (progress, failures).
 *
 * @param plan the study
 * @param run the run
 * @returns `gcc · staged-history · regime=xen clear=round · #3`
 *
 * @example Usage
 * ```ts ignore
 * err(describeRun(plan, plan.runs[0]));
 * ```
 */
export function describeRun(plan: StudyPlan, run: RunSpec): string {
  const s = run.kind === "profile"
    ? `profiling ${run.tracker} ${formatDuration(plan.profiling!.spanNs)}`
    : plan.settings[run.setting].label;
  return `${plan.workloads[run.workload].name} · ${plan.policies[run.policy].label} · ${s} · #${
    run.replicate + 1
  }`;
}
