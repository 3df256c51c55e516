/**
 * Finding, importing and checking policy files: `policies/` by directory scan, or any
 * path. A policy's parameters are typed by its defaults.
 *
 * @module
 */

import { PrecopyError } from "../errors.ts";
import { parseCount } from "../units.ts";
import type { LoadedPolicy, Params, PolicyDefinition } from "./contract.ts";

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
 * import { definePolicy } from "./contract.ts";
 * import { resolveParams } from "./loader.ts";
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
export const POLICIES_DIR: URL = new URL("../../policies/", import.meta.url);

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
 * import { loadPolicies } from "./loader.ts";
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
 * import { loadPolicy } from "./loader.ts";
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
