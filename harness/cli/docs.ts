/**
 * `deno task docs`: rewrites the generated tables of `docs/cli.md` (the sim flags and the
 * library-only config items) from the config table, so a new config item needs no
 * hand-edited Markdown. `harness/cli/sim_test.ts` checks that the file matches.
 *
 * @module
 */

import { flagTable, libraryOnlyTable } from "../config.ts";
import { PrecopyError } from "../errors.ts";
import { writeFileAtomic } from "../io.ts";
import { type CliIo, reportError, runMain } from "./kit.ts";
import { simFlagRows } from "./sim.ts";

/**
 * Replaces the text between `<!-- name:begin …-->` and `<!-- name:end -->` with `table`.
 *
 * @param doc the Markdown text
 * @param name the section's name
 * @param table the new table
 * @returns the new text
 * @throws {PrecopyError} if the markers are missing
 *
 * @example Usage
 * ```ts
 * import { replaceSection } from "./docs.ts";
 * import assert from "node:assert/strict";
 * const doc = "a\n<!-- t:begin -->\nold\n<!-- t:end -->\nb\n";
 * assert.equal(replaceSection(doc, "t", "| x |\n"), "a\n<!-- t:begin -->\n\n| x |\n\n<!-- t:end -->\nb\n");
 * ```
 */
export function replaceSection(doc: string, name: string, table: string): string {
  const from = doc.indexOf(`<!-- ${name}:begin`), to = doc.indexOf(`<!-- ${name}:end -->`);
  if (from < 0 || to < from) {
    throw new PrecopyError("config", `docs/cli.md: no '<!-- ${name}:begin' … ':end -->' section`);
  }
  const head = doc.indexOf("\n", from) + 1;
  return doc.slice(0, head) + "\n" + table.trimEnd() + "\n\n" + doc.slice(to);
}

/**
 * Pads a Markdown table's cells to one width per column, as `deno fmt` lays tables out,
 * so the regenerated page needs no formatting pass.
 *
 * @param table a Markdown table, one row a line (the second line the rule)
 * @returns the same table, aligned
 *
 * @example Usage
 * ```ts
 * import { alignTable } from "./docs.ts";
 * import assert from "node:assert/strict";
 * assert.equal(
 *   alignTable("| a | bb |\n| --- | --- |\n| ccc \\| d | e |\n"),
 *   "| a        | bb  |\n| -------- | --- |\n| ccc \\| d | e   |\n",
 * );
 * ```
 */
export function alignTable(table: string): string {
  const rows = table.trimEnd().split("\n")
    .map((l) => l.trim().slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
  const widths = rows[0].map((_, i) =>
    Math.max(3, ...rows.map((r, k) => k === 1 ? 0 : [...(r[i] ?? "")].length))
  );
  return rows.map((r, k) =>
    "| " +
    widths.map((w, i) =>
      k === 1 ? "-".repeat(w) : (r[i] ?? "") + " ".repeat(w - [...(r[i] ?? "")].length)
    )
      .join(" | ") +
    " |\n"
  ).join("");
}

/** The `--help` text of `deno task docs`. */
export const DOCS_HELP: string = `deno task docs — regenerate the generated tables of docs/cli.md

usage:
  deno task docs

Rewrites the sim flag table and the library-only config table of docs/cli.md from the
config table (harness/config.ts), aligned as deno fmt leaves them. Takes no arguments.
`;

/**
 * Regenerates the tables of `docs/cli.md`.
 *
 * @param args `--help`, or nothing
 * @param io output sinks
 * @returns the exit status
 *
 * @example Usage
 * ```ts ignore
 * import { runDocs } from "./docs.ts";
 * await runDocs([], { out: console.log, err: console.error, interactive: false });
 * ```
 *
 * @example Help
 * ```ts
 * import { runDocs } from "./docs.ts";
 * import assert from "node:assert/strict";
 * let out = "";
 * const io = { out: (t: string) => void (out += t), err: () => {}, interactive: false };
 * assert.equal(await runDocs(["--help"], io), 0);
 * assert.match(out, /deno task docs/);
 * ```
 */
export function runDocs(args: string[], io: CliIo): Promise<number> {
  try {
    if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) {
      io.out(DOCS_HELP);
      return Promise.resolve(0);
    }
    if (args.length > 0) {
      throw new PrecopyError("config", `docs: unexpected argument '${args[0]}' (see --help)`);
    }
    const path = new URL("../../docs/cli.md", import.meta.url).pathname;
    let doc = Deno.readTextFileSync(path);
    doc = replaceSection(doc, "sim-flags", alignTable(flagTable(simFlagRows())));
    doc = replaceSection(doc, "library-items", alignTable(libraryOnlyTable()));
    writeFileAtomic(path, doc);
    io.out(`${path}: tables regenerated\n`);
    return Promise.resolve(0);
  } catch (e) {
    return Promise.resolve(reportError(e, io));
  }
}

if (import.meta.main) await runMain(runDocs);
