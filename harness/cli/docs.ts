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
 * Regenerates the tables of `docs/cli.md`.
 *
 * @param _args none
 * @param io output sinks
 * @returns the exit status
 *
 * @example Usage
 * ```ts ignore
 * import { runDocs } from "./docs.ts";
 * await runDocs([], { out: console.log, err: console.error, interactive: false });
 * ```
 */
export function runDocs(_args: string[], io: CliIo): Promise<number> {
  try {
    const path = new URL("../../docs/cli.md", import.meta.url).pathname;
    let doc = Deno.readTextFileSync(path);
    doc = replaceSection(doc, "sim-flags", flagTable(simFlagRows()));
    doc = replaceSection(doc, "library-items", libraryOnlyTable());
    writeFileAtomic(path, doc);
    io.out(`${path}: tables regenerated (run deno fmt to align them)\n`);
    return Promise.resolve(0);
  } catch (e) {
    return Promise.resolve(reportError(e, io));
  }
}

if (import.meta.main) await runMain(runDocs);
