/**
 * The policy contract: one file per policy, a default export made with
 * {@link definePolicy}. The engine knows nothing about any particular policy; everything
 * crossing the contract is typed arrays and plain numbers.
 *
 * @module
 */

import { PrecopyError } from "./errors.ts";
import type { HistoryView } from "./history.ts";
import { parseCount } from "./units.ts";

/** A policy parameter value. */
export type ParamValue = number | string | boolean;
/** A policy's parameters, typed by its defaults. */
export type Params = Record<string, ParamValue>;

/** What a policy says about itself. */
export interface PolicyMeta<P extends Params = Params> {
  /** Short kebab-case name; `--policy NAME` finds the policy by it. */
  name: string;
  /** One line: what the policy does. */
  description: string;
  /** Every parameter with its default; `--param k=v` overrides and is typed by it. */
  defaults: P;
  /** `true` for bounds that read the future: reported as bounds, never as winners. */
  oracle?: boolean;
}

/** What an oracle may know about the future of the workload. */
export interface FutureView {
  /**
   * For every frame, the time of its last write in `[fromNs, toNs)`, or -1 if none.
   * Times are on the simulation's clock; the harness maps them to the workload's own
   * clock, which runs slower while the guest is stalled or throttled.
   * @param fromNs start of the span
   * @param toNs end of the span, exclusive
   */
  lastWrites(fromNs: number, toNs: number): Float64Array;
}

/** What a policy can see when it is created. */
export interface PolicyEnv {
  /** Guest frames. */
  readonly frames: number;
  /** Bytes per frame. */
  readonly pageSize: number;
  /** Link rate in bytes per second. */
  readonly bandwidth: number;
  /** The run's seed: randomized policies must draw from it only. */
  readonly seed: number;
  /** The per-frame update history (read-only). */
  readonly history: HistoryView;
  /** Oracle policies only: the workload's future. */
  readonly future?: FutureView;
  /** Oracle policies only: each frame's mean writes per second over the whole workload. */
  readonly rates?: Float64Array;
}

/** One pre-copy round, as handed to {@link Policy.order}. */
export interface RoundView {
  /** Round number, from 1. */
  readonly index: number;
  /** When the round starts, in ns of simulated time. */
  readonly nowNs: number;
  /**
   * Frames the policy may send, ascending. Read-only; returning it unchanged from
   * {@link Policy.order} sends all of them in address order without a copy.
   */
  readonly offered: Uint32Array;
  /** When the round would end if every offered frame were sent now, in ns. */
  readonly endEstimateNs: number;
}

/** A batch of the returned order, about to be sent (see {@link Policy.filter}). */
export interface BatchView {
  /** Round number. */
  readonly round: number;
  /** Now, in ns of simulated time. */
  readonly nowNs: number;
  /** The next frames of the order (at most 1024, Xen's batch size). */
  readonly frames: Uint32Array;
  /** Per entry of `frames`: set 0 to leave that frame for a later round. All 1 on entry. */
  readonly keep: Uint8Array;
  /**
   * Per guest frame: 1 if written since this round's sync — what a peek at the dirty log
   * shows without clearing it (Xen's `to_skip`). Read-only.
   */
  readonly dirtied: Uint8Array;
}

/** What a profiling scan saw, as handed to {@link Policy.onScan}. */
export interface ScanView {
  /** Interval number, from 1. */
  readonly index: number;
  /** When the scan ran, in ns of simulated time. */
  readonly nowNs: number;
  /** Frames written during the interval. */
  readonly written: Uint32Array;
  /** Frames accessed during the interval (the written included). */
  readonly accessed: Uint32Array;
}

/** A finished round, as handed to {@link Policy.onRoundEnd}. */
export interface RoundStats {
  /** Round number. */
  readonly index: number;
  /** When the round started, in ns of simulated time. */
  readonly startNs: number;
  /** When the round's sending ended (before its sync), in ns of simulated time. */
  readonly endNs: number;
  /** Frames offered / sent / left pending. */
  readonly offered: number;
  /** Frames sent. */
  readonly sent: number;
  /** Offered frames not sent in the round. */
  readonly deferred: number;
  /** Frames the sync found dirty. */
  readonly dirtyAtSync: number;
  /** The last frame sent in the round, or -1. */
  readonly lastSent: number;
}

/** A policy instance, made by {@link PolicyDefinition.create} for one run. */
export interface Policy {
  /**
   * The frames to send now, in order: a duplicate-free subset of `round.offered`. Frames
   * left out stay pending for the next round (or stop-and-copy).
   */
  order(round: RoundView): ArrayLike<number>;
  /** Optional: called before each batch is sent; may defer frames by clearing `keep`. */
  filter?(batch: BatchView): void;
  /** Optional: called after every profiling scan. */
  onScan?(scan: ScanView): void;
  /** Optional: called after every round's sync. */
  onRoundEnd?(stats: RoundStats): void;
}

/** A policy module's default export. */
export interface PolicyDefinition<P extends Params = Params> {
  /** Name, description, defaults, oracle flag. */
  meta: PolicyMeta<P>;
  /** Makes an instance for one run. */
  create(params: P, env: PolicyEnv): Policy;
}

/** A policy with the file it came from. */
export interface LoadedPolicy {
  /** The module's default export. */
  readonly definition: PolicyDefinition;
  /** Where it was loaded from (a path relative to the working directory when possible). */
  readonly file: string;
}

/**
 * Declares a policy. Identity at run time; it exists so a policy file gets its types.
 *
 * @typeParam P the parameter record, inferred from `meta.defaults`
 * @param definition meta and create
 * @returns the same definition
 *
 * @example Usage
 * ```ts
 * import { definePolicy } from "./policy.ts";
 * import assert from "node:assert/strict";
 * const p = definePolicy({
 *   meta: { name: "reverse", description: "Highest frame first.", defaults: {} },
 *   create: () => ({ order: (round) => round.offered.slice().reverse() }),
 * });
 * assert.equal(p.meta.name, "reverse");
 * ```
 */
export function definePolicy<P extends Params>(
  definition: PolicyDefinition<P>,
): PolicyDefinition<P> {
  return definition;
}

/**
 * Builds the error for a policy that broke the contract.
 *
 * @param policy the policy
 * @param message the violation
 * @returns the error, naming the policy and its file
 *
 * @example Usage
 * ```ts
 * import { policyError } from "./policy.ts";
 * import assert from "node:assert/strict";
 * const e = policyError({ file: "policies/x.ts", definition: { meta: { name: "x" } } as never }, "boom");
 * assert.match(e.message, /policy 'x' \(policies\/x\.ts\): boom/);
 * ```
 */
export function policyError(policy: LoadedPolicy, message: string): PrecopyError {
  return new PrecopyError(
    "policy",
    `policy '${policy.definition.meta.name}' (${policy.file}): ${message}`,
  );
}

/**
 * Checks that a module fits the contract and returns its definition.
 *
 * @param mod the imported module namespace
 * @param file where it came from, for messages
 * @returns the loaded policy
 * @throws {PrecopyError} naming the file and what is missing
 *
 * @example Usage
 * ```ts
 * import { checkPolicyModule } from "./policy.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => checkPolicyModule({}, "x.ts"), /default export/);
 * ```
 */
export function checkPolicyModule(mod: unknown, file: string): LoadedPolicy {
  const bad: (why: string) => never = (why) => {
    throw new PrecopyError("policy", `policy file ${file}: ${why}`);
  };
  const def = (mod as { default?: unknown })?.default as Partial<PolicyDefinition> | undefined;
  if (!def || typeof def !== "object") {
    bad("no default export; export default definePolicy({ meta, create })");
  }
  const meta = def.meta;
  if (!meta || typeof meta !== "object") bad("meta is missing");
  if (typeof meta.name !== "string" || !/^[a-z0-9][a-z0-9-]*$/.test(meta.name)) {
    bad("meta.name must be a kebab-case string such as 'lowest-rate-first'");
  }
  if (typeof meta.description !== "string" || meta.description.trim() === "") {
    bad("meta.description must be a one-line string");
  }
  if (!meta.defaults || typeof meta.defaults !== "object" || Array.isArray(meta.defaults)) {
    bad("meta.defaults must be an object of parameters (use {} for none)");
  }
  for (const [k, v] of Object.entries(meta.defaults)) {
    if (!["number", "string", "boolean"].includes(typeof v)) {
      bad(`meta.defaults.${k} must be a number, string or boolean`);
    }
  }
  if (meta.oracle !== undefined && typeof meta.oracle !== "boolean") {
    bad("meta.oracle must be a boolean");
  }
  if (typeof def.create !== "function") bad("create(params, env) is missing");
  return { definition: def as PolicyDefinition, file };
}

/**
 * Merges `--param k=v` overrides into a policy's defaults, typed by each default.
 *
 * @param policy the policy
 * @param overrides raw `k → v` texts
 * @returns the full parameter record
 * @throws {PrecopyError} for an unknown key or a value of the wrong type
 *
 * @example Usage
 * ```ts
 * import { definePolicy, resolveParams } from "./policy.ts";
 * import assert from "node:assert/strict";
 * const definition = definePolicy({
 *   meta: { name: "p", description: "d", defaults: { window: 8, hot: true } },
 *   create: () => ({ order: (r) => r.offered.slice() }),
 * });
 * const params = resolveParams({ definition, file: "p.ts" }, { window: "16" });
 * assert.deepEqual(params, { window: 16, hot: true });
 * ```
 */
export function resolveParams(policy: LoadedPolicy, overrides: Record<string, string>): Params {
  const defaults = policy.definition.meta.defaults;
  const out: Params = { ...defaults };
  for (const [k, raw] of Object.entries(overrides)) {
    if (!(k in defaults)) {
      const known = Object.keys(defaults);
      throw policyError(
        policy,
        `unknown parameter '${k}'; ${
          known.length ? `accepted: ${known.join(", ")}` : "it takes none"
        }`,
      );
    }
    const d = defaults[k];
    if (typeof d === "number") {
      try {
        out[k] = parseCount(raw, `--param ${k}`);
      } catch (e) {
        throw policyError(policy, (e as Error).message);
      }
    } else if (typeof d === "boolean") {
      if (raw !== "true" && raw !== "false") {
        throw policyError(policy, `--param ${k}: '${raw}' is not true or false`);
      }
      out[k] = raw === "true";
    } else out[k] = raw;
  }
  return out;
}

function displayPath(url: URL): string {
  const path = decodeURIComponent(url.pathname);
  let cwd = "";
  try {
    cwd = Deno.cwd();
  } catch { /* no read permission for cwd: show the absolute path */ }
  return cwd && path.startsWith(cwd + "/") ? path.slice(cwd.length + 1) : path;
}

async function importPolicy(url: URL): Promise<LoadedPolicy> {
  const file = displayPath(url);
  let mod: unknown;
  try {
    mod = await import(url.href);
  } catch (e) {
    throw new PrecopyError(
      "policy",
      `policy file ${file}: cannot be loaded: ${(e as Error)?.message ?? e}`,
    );
  }
  return checkPolicyModule(mod, file);
}

/** The `policies/` folder of this project. */
export const POLICIES_DIR: URL = new URL("../policies/", import.meta.url);

/**
 * Loads every policy in a folder: each `*.ts` that is not a test (`*_test.ts`) and does
 * not start with `_`, in file-name order.
 *
 * @param dir the folder (default: this project's `policies/`)
 * @returns the policies
 * @throws {PrecopyError} when a file does not fit the contract or two share a name
 *
 * @example Usage
 * ```ts
 * import { loadPolicies } from "./policy.ts";
 * import assert from "node:assert/strict";
 * const all = await loadPolicies();
 * assert.ok(all.some((p) => p.definition.meta.name === "sequential"));
 * ```
 */
export async function loadPolicies(dir: URL = POLICIES_DIR): Promise<LoadedPolicy[]> {
  const names: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (
      e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") && !e.name.startsWith("_")
    ) {
      names.push(e.name);
    }
  }
  names.sort();
  const out: LoadedPolicy[] = [];
  const seen = new Map<string, string>();
  for (const n of names) {
    const p = await importPolicy(new URL(n, dir));
    const name = p.definition.meta.name;
    const other = seen.get(name);
    if (other) {
      throw new PrecopyError(
        "policy",
        `policy name '${name}' is used by both ${other} and ${p.file}`,
      );
    }
    seen.set(name, p.file);
    out.push(p);
  }
  return out;
}

/**
 * Loads one policy: a name from `policies/` (by `meta.name` or file name) or a path to
 * any policy file.
 *
 * @param nameOrPath `sequential`, `./my-policy.ts`, `/abs/policy.ts`
 * @returns the policy
 * @throws {PrecopyError} when it is not found or does not fit the contract
 *
 * @example Usage
 * ```ts
 * import { loadPolicy } from "./policy.ts";
 * import assert from "node:assert/strict";
 * const p = await loadPolicy("random");
 * assert.equal(p.definition.meta.name, "random");
 * ```
 */
export async function loadPolicy(nameOrPath: string): Promise<LoadedPolicy> {
  if (nameOrPath.endsWith(".ts") || nameOrPath.endsWith(".js") || nameOrPath.includes("/")) {
    const url = new URL(nameOrPath, `file://${Deno.cwd()}/`);
    try {
      Deno.statSync(url);
    } catch {
      throw new PrecopyError("policy", `--policy: file '${nameOrPath}' not found`);
    }
    return await importPolicy(url);
  }
  const byFile = new URL(`${nameOrPath}.ts`, POLICIES_DIR);
  try {
    Deno.statSync(byFile);
    const p = await importPolicy(byFile);
    if (p.definition.meta.name === nameOrPath) return p;
  } catch (e) {
    if (e instanceof PrecopyError) throw e;
  }
  const all = await loadPolicies();
  const hit = all.find((p) => p.definition.meta.name === nameOrPath);
  if (!hit) {
    throw new PrecopyError(
      "policy",
      `--policy: no policy named '${nameOrPath}'; available: ${
        all.map((p) => p.definition.meta.name).join(", ")
      }, or a path to a policy file`,
    );
  }
  return hit;
}

/**
 * Sorts frames by a per-frame key, ties in address order. Keys that are small non-negative
 * integers use a packed native sort (fast on millions of frames); others fall back to a
 * comparison sort. Handy for policy authors.
 *
 * @param frames the frames to order (not modified)
 * @param key per guest frame, the sort key (lower first)
 * @returns a new array
 *
 * @example Usage
 * ```ts
 * import { orderByKey } from "./policy.ts";
 * import assert from "node:assert/strict";
 * const key = Float64Array.of(5, 1, 5, 0);
 * assert.deepEqual([...orderByKey(Uint32Array.of(0, 1, 2, 3), key)], [3, 1, 0, 2]);
 * ```
 */
export function orderByKey(frames: Uint32Array, key: ArrayLike<number>): Uint32Array {
  const n = frames.length;
  let packable = true;
  for (let i = 0; i < n; i++) {
    const k = key[frames[i]];
    if (!(k >= 0 && k < 2097152 && Number.isInteger(k))) {
      packable = false;
      break;
    }
  }
  const out = new Uint32Array(n);
  if (packable) {
    const packed = new Float64Array(n);
    for (let i = 0; i < n; i++) packed[i] = key[frames[i]] * 4294967296 + frames[i];
    packed.sort();
    for (let i = 0; i < n; i++) out[i] = packed[i] % 4294967296;
    return out;
  }
  out.set(frames);
  const arr = Array.from(out);
  arr.sort((a, b) => (key[a] - key[b]) || (a - b));
  out.set(arr);
  return out;
}
