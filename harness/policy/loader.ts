/**
 * Finding, importing and checking policy files: `policies/` by directory scan, or any
 * path. A policy's parameters are typed by its defaults.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { parseCount } from "../units.ts";
import type { LoadedPolicy, Params, ParamSpec, ParamValue, PolicyDefinition } from "./contract.ts";
import { Sandbox } from "./sandbox.ts";

/** How policy files are loaded. */
export interface LoadOptions {
  /**
   * Time budget of each policy call and of loading, in ms (default 300 000, see
   * `DEFAULT_POLICY_TIMEOUT_MS` in sandbox.ts).
   */
  timeoutMs?: number;
  /**
   * `false` imports the file into this process with this process's permissions, and no
   * budget: for trusted code and for measuring the sandbox's cost only. Default `true`.
   */
  sandbox?: boolean;
}

/** A policy file that could not be loaded. */
export interface BrokenPolicy {
  /** The file (relative to the working directory when possible). */
  readonly file: string;
  /** Why, in one line. */
  readonly reason: string;
}

/** A folder of policies: those that loaded, and those that did not. */
export interface PolicyScan {
  /** Loaded policies, in file-name order. */
  policies: LoadedPolicy[];
  /** Files that failed to load or clash with another's name, in file-name order. */
  broken: BrokenPolicy[];
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
 * import { policyError } from "./loader.ts";
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
 * import { checkPolicyModule } from "./loader.ts";
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
    if (typeof v === "number" && !Number.isFinite(v)) {
      bad(`meta.defaults.${k} must be a finite number`);
    }
  }
  if (meta.params !== undefined) {
    if (!meta.params || typeof meta.params !== "object" || Array.isArray(meta.params)) {
      bad("meta.params must be an object: each parameter's type and range or choices");
    }
    for (const k of Object.keys(meta.params)) {
      if (!Object.hasOwn(meta.defaults, k)) bad(`meta.params.${k} has no default in meta.defaults`);
    }
    for (const [k, d] of Object.entries(meta.defaults)) {
      if (!Object.hasOwn(meta.params, k)) {
        bad(`meta.params.${k} is missing (each parameter needs its type and range or choices)`);
      }
      const why = specProblem((meta.params as Record<string, unknown>)[k], d);
      if (why) bad(`meta.params.${k}: ${why}`);
    }
  }
  if (meta.oracle !== undefined && typeof meta.oracle !== "boolean") {
    bad("meta.oracle must be a boolean");
  }
  const b = meta.bound;
  if (
    b !== undefined &&
    (!["downtimeNs", "stopCopyPages", "pagesSent"].includes(b?.quantity) ||
      !["permutations", "any"].includes(b?.against) || !Array.isArray(b?.regimes) ||
      typeof b?.proof !== "string")
  ) {
    bad(
      "meta.bound needs quantity (downtimeNs, stopCopyPages, pagesSent), against, regimes[], proof",
    );
  }
  if (typeof def.create !== "function") bad("create(params, env) is missing");
  return { definition: def as PolicyDefinition, file };
}

const PARAM_TYPES = ["integer", "number", "boolean", "choice"];

/** What is wrong with a parameter spec (given its default), or null. */
function specProblem(spec: unknown, d: ParamValue): string | null {
  if (!spec || typeof spec !== "object") return "must be an object with a type";
  const t = (spec as { type?: unknown }).type;
  if (typeof t !== "string" || !PARAM_TYPES.includes(t)) {
    return `type must be one of ${PARAM_TYPES.join(", ")}`;
  }
  const ps = spec as ParamSpec;
  if (ps.type === "integer" || ps.type === "number") {
    const { min, max } = ps;
    if (typeof min !== "number" || typeof max !== "number" || !(min <= max)) {
      return "min and max must be numbers with min ≤ max";
    }
    if (!Number.isFinite(min) || !Number.isFinite(max)) return "min and max must be finite";
    if (ps.type === "integer" && (!Number.isInteger(min) || !Number.isInteger(max))) {
      return "an integer's min and max must be whole numbers";
    }
    if (typeof d !== "number") return `the default is a ${typeof d}, not a number`;
  } else if (ps.type === "boolean") {
    if (typeof d !== "boolean") return `the default is a ${typeof d}, not a boolean`;
  } else {
    const c = ps.choices;
    if (!Array.isArray(c) || c.length === 0 || c.some((x) => typeof x !== "string")) {
      return "choices must be a non-empty list of words";
    }
    if (typeof d !== "string") return `the default is a ${typeof d}, not a word`;
  }
  const err = checkValue(ps, d);
  return err ? `the default ${err}` : null;
}

/** Why a value does not fit a spec (a phrase after the value), or null. */
function checkValue(spec: ParamSpec, v: ParamValue): string | null {
  if (spec.type === "integer" || spec.type === "number") {
    if (typeof v !== "number") return `${JSON.stringify(v)} is not a number`;
    if (!Number.isFinite(v)) return `${v} is not a finite number`;
    if (spec.type === "integer" && !Number.isInteger(v)) return `${v} is not a whole number`;
    if (v < spec.min || v > spec.max) return `${v} is out of range ${spec.min}–${spec.max}`;
    return null;
  }
  if (spec.type === "boolean") {
    return typeof v === "boolean" ? null : `${JSON.stringify(v)} is not true or false`;
  }
  if (typeof v !== "string" || !spec.choices.includes(v)) {
    return `${JSON.stringify(v)} is not one of ${spec.choices.join(", ")}`;
  }
  return null;
}

/**
 * Each parameter's spec: the declared one, or (when `meta.params` is absent) one made from
 * the default's type — any finite number, true/false, or any word.
 *
 * @param policy the policy
 * @returns parameter name → spec (a Map: no word a user types can reach a prototype)
 *
 * @example Usage
 * ```ts
 * import { definePolicy } from "./contract.ts";
 * import { paramSpecs } from "./loader.ts";
 * import assert from "node:assert/strict";
 * const definition = definePolicy({
 *   meta: {
 *     name: "p",
 *     description: "d",
 *     defaults: { stages: 4 },
 *     params: { stages: { type: "integer", min: 1, max: 255 } },
 *   },
 *   create: () => ({ order: (r) => r.offered }),
 * });
 * const specs = paramSpecs({ definition, file: "p.ts" });
 * assert.deepEqual(specs.get("stages"), { type: "integer", min: 1, max: 255 });
 * ```
 */
export function paramSpecs(policy: LoadedPolicy): Map<string, ParamSpec> {
  const meta = policy.definition.meta;
  const out = new Map<string, ParamSpec>();
  for (const [k, d] of Object.entries(meta.defaults)) {
    const declared = meta.params && Object.hasOwn(meta.params, k)
      ? (meta.params as Record<string, ParamSpec>)[k]
      : undefined;
    out.set(
      k,
      declared ??
        (typeof d === "number"
          ? { type: "number", min: -Number.MAX_VALUE, max: Number.MAX_VALUE }
          : typeof d === "boolean"
          ? { type: "boolean" }
          : { type: "choice", choices: [] }),
    );
  }
  return out;
}

/**
 * Merges parameter overrides into a policy's defaults, checked against its schema
 * ({@link paramSpecs}). Texts (`--param k=v`) are parsed by the parameter's type; typed
 * values (library callers, study grids) are checked as they are.
 *
 * @param policy the policy
 * @param overrides `k → v`: texts (`"16"`) or typed values
 * @returns the full parameter record
 * @throws {PrecopyError} for an unknown key, or a value of the wrong type or out of range
 *
 * @example Usage
 * ```ts
 * import { definePolicy } from "./contract.ts";
 * import { resolveParams } from "./loader.ts";
 * import assert from "node:assert/strict";
 * const definition = definePolicy({
 *   meta: {
 *     name: "p",
 *     description: "d",
 *     defaults: { window: 8, hot: true },
 *     params: { window: { type: "integer", min: 1, max: 32 }, hot: { type: "boolean" } },
 *   },
 *   create: () => ({ order: (r) => r.offered.slice() }),
 * });
 * const params = resolveParams({ definition, file: "p.ts" }, { window: "16" });
 * assert.deepEqual(params, { window: 16, hot: true });
 * assert.throws(() => resolveParams({ definition, file: "p.ts" }, { window: "64" }), /out of range 1–32/);
 * ```
 */
export function resolveParams(
  policy: LoadedPolicy,
  overrides: Readonly<Record<string, string | ParamValue>>,
): Params {
  const defaults = policy.definition.meta.defaults;
  const specs = paramSpecs(policy);
  const out: Params = { ...defaults };
  for (const [k, given] of Object.entries(overrides)) {
    const spec = specs.get(k);
    if (spec === undefined) {
      const known = [...specs.keys()];
      throw policyError(
        policy,
        `unknown parameter '${k}'; ${
          known.length ? `accepted: ${known.join(", ")}` : "it takes none"
        }`,
      );
    }
    const flag = `--param ${k}`;
    let v: ParamValue = given;
    if (typeof given === "string" && typeof defaults[k] !== "string") {
      if (spec.type === "boolean") {
        if (given !== "true" && given !== "false") {
          throw policyError(policy, `${flag}: '${given}' is not true or false`);
        }
        v = given === "true";
      } else {
        try {
          v = parseCount(given, flag);
        } catch (e) {
          throw policyError(policy, (e as Error).message);
        }
      }
    } else if (typeof given !== typeof defaults[k]) {
      throw policyError(policy, `parameter '${k}' must be a ${typeof defaults[k]}`);
    }
    const why = spec.type === "choice" && spec.choices.length === 0 ? null : checkValue(spec, v);
    if (why) throw policyError(policy, `${flag}: ${why}`);
    out[k] = v;
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

async function importPolicy(url: URL, options: LoadOptions): Promise<LoadedPolicy> {
  const file = displayPath(url);
  const ms = options.timeoutMs;
  if (ms !== undefined && !(ms > 0 && Number.isFinite(ms))) {
    throw new PrecopyError("config", `--policy-timeout: ${ms} ms is not a positive, finite time`);
  }
  if (options.sandbox !== false) return await importSandboxed(url, file, options);
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

async function importSandboxed(
  url: URL,
  file: string,
  options: LoadOptions,
): Promise<LoadedPolicy> {
  const box = new Sandbox(url, file, { timeoutMs: options.timeoutMs });
  const shape = await box.load();
  const placeholder = () => {
    throw new Error("unreachable");
  };
  let checked: LoadedPolicy;
  try {
    checked = checkPolicyModule(
      shape.hasDefault
        ? {
          default: { meta: shape.meta, create: shape.createIsFunction ? placeholder : undefined },
        }
        : {},
      file,
    );
  } catch (e) {
    box.close();
    throw e;
  }
  const meta = checked.definition.meta;
  box.name = meta.name;
  const definition: PolicyDefinition = {
    meta,
    create: (params, env) => box.create(params, env),
  };
  return {
    definition,
    file,
    sandbox: {
      close: () => box.close(),
      get timeoutMs() {
        return box.timeoutMs;
      },
      set timeoutMs(ms: number) {
        box.timeoutMs = ms;
      },
    },
  };
}

/** The `policies/` folder of this project. */
export const POLICIES_DIR: URL = new URL("../../policies/", import.meta.url);

function policyFileNames(dir: URL): string[] {
  const names: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    if (
      e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts") && !e.name.startsWith("_")
    ) {
      names.push(e.name);
    }
  }
  return names.sort();
}

/**
 * Loads every policy in a folder: each `*.ts` that is not a test (`*_test.ts`) and does
 * not start with `_`, in file-name order. A file that does not load, or uses a name
 * another file already took, is listed as broken with its reason; the rest load.
 *
 * @param dir the folder (default: this project's `policies/`)
 * @param options sandbox and budget
 * @returns the policies and the broken files
 *
 * @example Usage
 * ```ts
 * import { scanPolicies } from "./loader.ts";
 * import assert from "node:assert/strict";
 * const { policies, broken } = await scanPolicies();
 * assert.ok(policies.some((p) => p.definition.meta.name === "sequential"));
 * assert.deepEqual(broken, []);
 * for (const p of policies) p.sandbox?.close();
 * ```
 */
export async function scanPolicies(
  dir: URL = POLICIES_DIR,
  options: LoadOptions = {},
): Promise<PolicyScan> {
  const policies: LoadedPolicy[] = [];
  const broken: BrokenPolicy[] = [];
  const seen = new Map<string, string>();
  for (const n of policyFileNames(dir)) {
    let p: LoadedPolicy;
    try {
      p = await importPolicy(new URL(n, dir), options);
    } catch (e) {
      if (!(e instanceof PrecopyError)) throw e;
      broken.push({ file: displayPath(new URL(n, dir)), reason: e.message });
      continue;
    }
    const name = p.definition.meta.name;
    const other = seen.get(name);
    if (other !== undefined) {
      p.sandbox?.close();
      broken.push({
        file: p.file,
        reason: `policy name '${name}' is used by both ${other} and ${p.file}`,
      });
      continue;
    }
    seen.set(name, p.file);
    policies.push(p);
  }
  return { policies, broken };
}

/**
 * Loads every policy in a folder (see {@link scanPolicies}), failing on the first broken
 * file.
 *
 * @param dir the folder (default: this project's `policies/`)
 * @param options sandbox and budget
 * @returns the policies
 * @throws {PrecopyError} when a file does not fit the contract or two share a name
 *
 * @example Usage
 * ```ts
 * import { loadPolicies } from "./loader.ts";
 * import assert from "node:assert/strict";
 * const all = await loadPolicies();
 * assert.ok(all.some((p) => p.definition.meta.name === "sequential"));
 * for (const p of all) p.sandbox?.close();
 * ```
 */
export async function loadPolicies(
  dir: URL = POLICIES_DIR,
  options: LoadOptions = {},
): Promise<LoadedPolicy[]> {
  const { policies, broken } = await scanPolicies(dir, options);
  if (broken.length > 0) {
    for (const p of policies) p.sandbox?.close();
    const b = broken[0];
    throw new PrecopyError(
      "policy",
      b.reason.startsWith("policy") ? b.reason : `policy file ${b.file}: ${b.reason}`,
    );
  }
  return policies;
}

/**
 * Loads one policy: a name from `policies/` (by `meta.name` or file name) or a path to
 * any policy file. It runs sandboxed (see `docs/sandbox.md`); `sandbox.close()` ends its
 * worker when you are done (tasks that exit need not).
 *
 * @param nameOrPath `sequential`, `./my-policy.ts`, `/abs/policy.ts`
 * @param options sandbox and budget
 * @returns the policy
 * @throws {PrecopyError} when it is not found or does not fit the contract
 *
 * @example Usage
 * ```ts
 * import { loadPolicy } from "./loader.ts";
 * import assert from "node:assert/strict";
 * const p = await loadPolicy("random", { timeoutMs: 60_000 });
 * assert.equal(p.definition.meta.name, "random");
 * p.sandbox?.close();
 * ```
 */
export async function loadPolicy(
  nameOrPath: string,
  options: LoadOptions = {},
): Promise<LoadedPolicy> {
  if (nameOrPath.endsWith(".ts") || nameOrPath.endsWith(".js") || nameOrPath.includes("/")) {
    const url = new URL(nameOrPath, `file://${Deno.cwd()}/`);
    let info: Deno.FileInfo;
    try {
      info = Deno.statSync(url);
    } catch {
      throw new PrecopyError("policy", `--policy: file '${nameOrPath}' not found`);
    }
    if (info.isDirectory) {
      throw new PrecopyError(
        "policy",
        `policy file ${nameOrPath}: is a directory (name one file, or a policy by name)`,
      );
    }
    return await importPolicy(url, options);
  }
  if (/^[a-z0-9][a-z0-9-]*$/.test(nameOrPath)) {
    const byFile = new URL(`${nameOrPath}.ts`, POLICIES_DIR);
    let exists = false;
    try {
      exists = Deno.statSync(byFile).isFile;
    } catch { /* not a file name: look the name up below */ }
    if (exists) {
      const p = await importPolicy(byFile, options);
      if (p.definition.meta.name === nameOrPath) return p;
      p.sandbox?.close();
    }
  }
  const { policies, broken } = await scanPolicies(POLICIES_DIR, options);
  const hit = policies.find((p) => p.definition.meta.name === nameOrPath);
  for (const p of policies) if (p !== hit) p.sandbox?.close();
  if (!hit) {
    throw new PrecopyError(
      "policy",
      `--policy: no policy named '${nameOrPath}'; available: ${
        policies.map((p) => p.definition.meta.name).join(", ")
      }${
        broken.length ? ` (broken: ${broken.map((b) => b.file).join(", ")})` : ""
      }, or a path to a policy file`,
    );
  }
  return hit;
}
