// The harness is built in layers, and imports only run downwards: a module may import from its
// own layer or a lower one, never from a higher one, and the import graph has no cycle. This
// test reads every module of harness/ (tests and testdata/ aside), takes its relative imports
// (static imports, re-exports and literal dynamic `import("…")`; comments and strings are not
// code), and holds them to the table below. docs/architecture.md explains the layers.
import assert from "node:assert/strict";

const HARNESS = new URL("./", import.meta.url);

/**
 * The one table of layers: path patterns under harness/ (an exact file, or `room/*` for every
 * file of a room), tried in order — the first that matches gives the layer, so a room's
 * exceptions come before its wildcard. A module imports only from its layer or below.
 */
const LAYERS: readonly (readonly [pattern: string, layer: number])[] = [
  // 0: leaves — vocabulary every room shares, importing nothing above it.
  ["errors.ts", 0],
  ["units.ts", 0],
  ["rng.ts", 0],
  ["memory.ts", 0],
  ["history.ts", 0],
  ["io.ts", 0],
  ["policy/sandbox_protocol.ts", 0],
  ["study/stats.ts", 0],
  // 1: the mechanisms and contracts the model is made of.
  ["trackers/conformance.ts", 2],
  ["trackers/*", 1],
  ["policy/contract.ts", 1],
  ["policy/sandbox.ts", 1],
  ["policy/sandbox_worker.ts", 1],
  ["workloads/workload.ts", 1],
  ["workloads/analyze.ts", 1],
  // 2: what is built on them: trace formats, the config table, bounds, the policy loader.
  ["trace/*", 2],
  ["workloads/future.ts", 2],
  ["config.ts", 2],
  ["bounds.ts", 2],
  ["policy/loader.ts", 2],
  // 3: what makes workloads from traces: fits, recordings, and the one module that knows
  // every kind of workload spec (and the suite that parses specs).
  ["workloads/fit.ts", 3],
  ["workloads/spec.ts", 3],
  ["workloads/conformance.ts", 3],
  ["record/*", 3],
  // 4: the engine.
  ["engine/*", 4],
  // 5: what runs the engine or reads its reports: policy conformance, reports, studies.
  ["policy/conformance.ts", 5],
  ["report/report.ts", 5],
  ["report/crossover.ts", 5],
  ["study/*", 5],
  // 6: presentation of studies.
  ["report/html.ts", 6],
  ["report/browser.ts", 6],
  // 7: the command-line programs.
  ["cli/*", 7],
];

/** Whether a path (relative to harness/) matches a pattern of {@link LAYERS}. */
function matches(pattern: string, path: string): boolean {
  if (!pattern.endsWith("/*")) return path === pattern;
  const room = pattern.slice(0, -1);
  return path.startsWith(room) && !path.slice(room.length).includes("/");
}

/** The layer of a path and the pattern that gave it, or null when no pattern matches. */
function layerOf(
  path: string,
  table: readonly (readonly [string, number])[] = LAYERS,
): { layer: number; pattern: string } | null {
  for (const [pattern, layer] of table) {
    if (matches(pattern, path)) return { layer, pattern };
  }
  return null;
}

type Token = { kind: "id" | "str" | "punct"; text: string };

/** Words after which a `/` starts a regular expression rather than a division. */
const BEFORE_REGEX = new Set([
  "return",
  "typeof",
  "case",
  "do",
  "else",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "instanceof",
  "yield",
  "await",
]);

/**
 * The tokens of a module that matter for its imports: words, string literals (their text) and
 * punctuation. Comments, template literals' text and regular expressions are skipped, so an
 * `import` in a JSDoc example, a string or a regex is not taken for one.
 */
function tokens(src: string): Token[] {
  const out: Token[] = [];
  // What each open `{` is: a block or object ("{"), or a template substitution ("${").
  const braces: string[] = [];
  let i = 0;
  const n = src.length;
  const isWord = (c: string) => /[\w$]/.test(c);

  /** Reads a template's text from i until its end or a substitution. */
  const template = () => {
    while (i < n) {
      const c = src[i];
      if (c === "\\") i += 2;
      else if (c === "`") {
        i++;
        return;
      } else if (c === "$" && src[i + 1] === "{") {
        i += 2;
        braces.push("${");
        return;
      } else i++;
    }
  };

  while (i < n) {
    const c = src[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === "/" && src[i + 1] === "/") {
      while (i < n && src[i] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let text = "";
      while (j < n && src[j] !== c && src[j] !== "\n") {
        if (src[j] === "\\") {
          text += src[j + 1] ?? "";
          j += 2;
        } else text += src[j++];
      }
      out.push({ kind: "str", text });
      i = j + 1;
    } else if (c === "`") {
      i++;
      template();
      out.push({ kind: "punct", text: "`" }); // a value, like a string whose text is unknown
    } else if (c === "/") {
      const prev = out[out.length - 1];
      const regex = prev === undefined ||
        (prev.kind === "punct" && !")]}`".includes(prev.text)) ||
        (prev.kind === "id" && BEFORE_REGEX.has(prev.text));
      if (!regex) {
        out.push({ kind: "punct", text: "/" });
        i++;
        continue;
      }
      let j = i + 1;
      let inClass = false;
      while (j < n && src[j] !== "\n") {
        const d = src[j];
        if (d === "\\") j++;
        else if (d === "[") inClass = true;
        else if (d === "]") inClass = false;
        else if (d === "/" && !inClass) break;
        j++;
      }
      j++;
      while (j < n && /[a-z]/i.test(src[j])) j++;
      out.push({ kind: "punct", text: ")" }); // a value, so a following "/" divides
      i = j;
    } else if (isWord(c)) {
      let j = i;
      while (j < n && isWord(src[j])) j++;
      out.push({ kind: "id", text: src.slice(i, j) });
      i = j;
    } else if (c === "{") {
      braces.push("{");
      out.push({ kind: "punct", text: c });
      i++;
    } else if (c === "}") {
      i++;
      if (braces.pop() === "${") template();
      else out.push({ kind: "punct", text: c });
    } else {
      out.push({ kind: "punct", text: c });
      i++;
    }
  }
  return out;
}

/**
 * The module specifiers a module imports: `import … from "x"`, `import "x"`,
 * `export … from "x"` and `import("x")` with a literal argument (a computed one, like the
 * policy loader's, names no module of the harness).
 */
function importsOf(src: string): string[] {
  const t = tokens(src);
  const out: string[] = [];
  const is = (k: number, kind: Token["kind"], text?: string) =>
    t[k] !== undefined && t[k].kind === kind && (text === undefined || t[k].text === text);
  /** The specifier of the `from "x"` that ends the clause starting at k, if any. */
  const fromClause = (k: number) => {
    for (let j = k; j < t.length && j < k + 400; j++) {
      if (is(j, "id", "from") && is(j + 1, "str")) return t[j + 1].text;
      if (is(j, "punct", ";") || is(j, "punct", "=") || is(j, "punct", "(")) return null;
      if (j > k && (is(j, "id", "import") || is(j, "id", "export"))) return null;
    }
    return null;
  };
  for (let k = 0; k < t.length; k++) {
    if (t[k].kind !== "id" || is(k - 1, "punct", ".")) continue;
    if (t[k].text === "import") {
      if (is(k + 1, "punct", "(")) {
        if (is(k + 2, "str") && (is(k + 3, "punct", ")") || is(k + 3, "punct", ","))) {
          out.push(t[k + 2].text);
        }
      } else if (is(k + 1, "str")) out.push(t[k + 1].text);
      else if (!is(k + 1, "punct", ".")) {
        const spec = fromClause(k + 1);
        if (spec !== null) out.push(spec);
      }
    } else if (t[k].text === "export") {
      const head = is(k + 1, "id", "type") ? k + 2 : k + 1;
      if (is(head, "punct", "{") || is(head, "punct", "*")) {
        const spec = fromClause(head);
        if (spec !== null) out.push(spec);
      }
    }
  }
  return out;
}

/** Module paths relative to harness/: every .ts file but tests and testdata/. */
function listModules(dir = ""): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(new URL(dir || ".", HARNESS))) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory && e.name !== "testdata") out.push(...listModules(rel));
    else if (e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts")) out.push(rel);
  }
  return out.sort();
}

/** The import graph: each module's relative imports, resolved to paths relative to harness/
 * (a path leaving harness/ starts with `../`). */
function importGraph(
  sources: ReadonlyMap<string, string>,
): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const base = new URL("file:///h/");
  for (const [path, src] of sources) {
    const edges: string[] = [];
    for (const spec of importsOf(src)) {
      if (!spec.startsWith("./") && !spec.startsWith("../")) continue; // npm:, node:, bare
      const url = new URL(spec, new URL(path, base));
      const rel = url.pathname.startsWith(base.pathname)
        ? url.pathname.slice(base.pathname.length)
        : `..${url.pathname}`;
      if (!edges.includes(rel)) edges.push(rel);
    }
    graph.set(path, edges);
  }
  return graph;
}

/** Every cycle found by a depth-first walk, as the files around it (first file repeated). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (m: string) => {
    state.set(m, "open");
    stack.push(m);
    for (const d of graph.get(m) ?? []) {
      if (!graph.has(d)) continue;
      const s = state.get(d);
      if (s === "open") found.push([...stack.slice(stack.indexOf(d)), d]);
      else if (s === undefined) visit(d);
    }
    stack.pop();
    state.set(m, "done");
  };
  for (const m of [...graph.keys()].sort()) if (!state.has(m)) visit(m);
  return found;
}

/** Everything wrong with a graph against a layer table, one line each (empty when sound). */
function layerProblems(
  graph: ReadonlyMap<string, readonly string[]>,
  table: readonly (readonly [string, number])[] = LAYERS,
): string[] {
  const problems: string[] = [];
  for (const path of graph.keys()) {
    if (layerOf(path, table) === null) {
      problems.push(
        `harness/${path} has no layer: add a line for it to LAYERS in harness/layers_test.ts ` +
          `(and to the layer list of docs/architecture.md)`,
      );
    }
  }
  for (const [pattern] of table) {
    if (![...graph.keys()].some((p) => matches(pattern, p))) {
      problems.push(`LAYERS pattern '${pattern}' matches no module: remove it`);
    }
  }
  for (const [from, deps] of graph) {
    const mine = layerOf(from, table);
    for (const to of deps) {
      if (to.startsWith("../")) {
        const top = to.slice(3);
        problems.push(
          top === "mod.ts" || top === "policy.ts"
            ? `harness/${from} imports ${top}, which re-exports the harness: ` +
              `import the harness module itself`
            : `harness/${from} imports ${top}, outside harness/`,
        );
        continue;
      }
      if (!graph.has(to)) {
        problems.push(`harness/${from} imports harness/${to}, which is not a module of harness/`);
        continue;
      }
      const theirs = layerOf(to, table);
      if (mine && theirs && theirs.layer > mine.layer) {
        problems.push(
          `harness/${from} (layer ${mine.layer}) imports harness/${to} ` +
            `(layer ${theirs.layer}): an import upwards`,
        );
      }
    }
  }
  for (const c of cycles(graph)) {
    problems.push(`import cycle: ${c.map((p) => `harness/${p}`).join(" → ")}`);
  }
  return problems;
}

Deno.test("harness/: every module has a layer, imports run only downwards, and no cycle", () => {
  const sources = new Map(
    listModules().map((p) => [p, Deno.readTextFileSync(new URL(p, HARNESS))] as const),
  );
  const graph = importGraph(sources);
  assert.ok(graph.size > 40, `only ${graph.size} modules found`);
  assert.ok(
    graph.get("engine/engine.ts")!.includes("config.ts"),
    "the engine's import of config.ts was not seen",
  );
  assert.deepEqual(layerProblems(graph), []);
});

Deno.test("layer check: an upward import, a cycle, a top-level import and a new file are caught", () => {
  const g = new Map<string, string[]>([
    ["errors.ts", []],
    ["units.ts", ["./errors.ts"]],
    ["engine/engine.ts", ["units.ts"]],
    ["cli/sim.ts", ["engine/engine.ts"]],
  ]);
  const table: [string, number][] = [["errors.ts", 0], ["units.ts", 0], ["engine/*", 4], [
    "cli/*",
    7,
  ]];
  const edges = (m: Map<string, string[]>) =>
    new Map([...m].map(([k, v]) => [k, v.map((s) => s.replace(/^\.\//, ""))]));
  assert.deepEqual(layerProblems(edges(g), table), []);

  const up = edges(g);
  up.set("units.ts", ["errors.ts", "cli/sim.ts"]);
  const problems = layerProblems(up, table);
  assert.ok(
    problems.includes(
      "harness/units.ts (layer 0) imports harness/cli/sim.ts (layer 7): an import upwards",
    ),
    problems.join("\n"),
  );
  assert.ok(problems.some((p) => p.startsWith("import cycle: ") && p.includes("cli/sim.ts")));

  const loop = edges(g);
  loop.set("errors.ts", ["units.ts"]);
  assert.deepEqual(layerProblems(loop, table), [
    "import cycle: harness/units.ts → harness/errors.ts → harness/units.ts",
  ]);

  const top = edges(g);
  top.set("engine/engine.ts", ["../mod.ts"]);
  assert.match(layerProblems(top, table)[0], /engine\.ts imports mod\.ts, which re-exports/);

  const fresh = edges(g);
  fresh.set("new_room/thing.ts", []);
  assert.match(layerProblems(fresh, table)[0], /new_room\/thing\.ts has no layer: add a line/);
});

Deno.test("import extraction: code only, not comments, strings, templates or regexes", () => {
  const src = `
/**
 * @example Usage
 * \`\`\`ts
 * import { simulate } from "../../mod.ts";
 * \`\`\`
 */
import { a } from "./a.ts";
import type { B } from "../b.ts";
import * as c from './c.ts';
import d, { e } from "./d.ts";
import "./side.ts";
export { f } from "./f.ts";
export * from "./g.ts";
export type { H } from "./h.ts";
export const from = 1;
// import { no } from "./comment.ts";
const s = "import { no } from './string.ts'";
const t = \`import { no } from "./template.ts" \${ { x: "y" }.x } "\`;
const r = /import x from "\\.\\/regex.ts"/g, q = 4 / 2 / 1;
const m = await import("./dynamic.ts");
const u = new URL("./worker.ts", import.meta.url);
const v = await import(u.href);
`;
  assert.deepEqual(importsOf(src), [
    "./a.ts",
    "../b.ts",
    "./c.ts",
    "./d.ts",
    "./side.ts",
    "./f.ts",
    "./g.ts",
    "./h.ts",
    "./dynamic.ts",
  ]);
  const g = importGraph(new Map([["engine/x.ts", 'import "../../mod.ts"; import "./y.ts";']]));
  assert.deepEqual(g.get("engine/x.ts"), ["../mod.ts", "engine/y.ts"]);
});
