/**
 * The kit every command-line task shares: output sinks that tests can capture, one-line
 * error reporting, and the entry scaffold that turns a task's `run(args, io)` into an exit
 * status.
 *
 * @module
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { PrecopyError } from "../errors.ts";
import { ioError, ioPath, ioReason } from "../io.ts";

/**
 * `node:util`'s parseArgs, refusing a flag that takes one value given more than once
 * (parseArgs would keep the last silently). Switches may repeat: they mean the same.
 *
 * @param config parseArgs' configuration
 * @returns parseArgs' result
 * @throws {PrecopyError} naming the flag given twice (and whatever parseArgs throws)
 *
 * @example Usage
 * ```ts
 * import { parseFlags } from "./kit.ts";
 * import assert from "node:assert/strict";
 * const options = { seed: { type: "string" as const } };
 * assert.equal(parseFlags({ args: ["--seed", "1"], options }).values.seed, "1");
 * assert.throws(
 *   () => parseFlags({ args: ["--seed", "1", "--seed=2"], options }),
 *   /--seed is given twice \('1' and '2'\); give it once/,
 * );
 * ```
 */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  const { tokens } = parseArgs({ ...config, tokens: true });
  const first = new Map<string, string>();
  for (const t of tokens ?? []) {
    if (t.kind !== "option" || t.value === undefined) continue;
    const o = config.options?.[t.name];
    if (o?.multiple) continue;
    const before = first.get(t.name);
    if (before !== undefined) {
      throw new PrecopyError(
        "config",
        `--${t.name} is given twice ('${before}' and '${t.value}'); give it once`,
      );
    }
    first.set(t.name, t.value);
  }
  return parseArgs(config);
}

/** Output sinks, so tests can capture them. */
export interface CliIo {
  /** Standard output. */
  out(text: string): void;
  /** Standard error. */
  err(text: string): void;
  /** Whether stderr is a terminal (progress is drawn only then). */
  interactive: boolean;
}

const enc = new TextEncoder();

/** Writes all of `bytes` (a write to a pipe may take only part of it). */
function writeAll(w: { writeSync(b: Uint8Array): number }, bytes: Uint8Array): void {
  for (let off = 0; off < bytes.length;) off += w.writeSync(bytes.subarray(off));
}

/**
 * The process's stdout and stderr as {@link CliIo} (progress only on a terminal). A write
 * to a pipe whose reader went away, a full device or a closed descriptor throws a
 * {@link PrecopyError} (`stdout: broken pipe …`), so a task never ends with status 0
 * having lost its output. (A stdout closed before the start, `>&-`, cannot be seen: the
 * runtime puts /dev/null in its place, and telling that from `>/dev/null` needs /proc,
 * which Deno grants only with every permission.)
 */
export const stdio: CliIo = {
  out: (t) => {
    try {
      writeAll(Deno.stdout, enc.encode(t));
    } catch (e) {
      throw ioError("stdout", e);
    }
  },
  err: (t) => {
    try {
      writeAll(Deno.stderr, enc.encode(t));
    } catch { /* nowhere left to say it; the exit status still tells */ }
  },
  interactive: Deno.stderr.isTerminal(),
};

/**
 * Reports an error the user can act on, or an internal one, in one line (no stack).
 *
 * @param e the error
 * @param io where to write
 * @returns the exit status: 2 for bad input or an ordinary I/O failure (a missing file, no
 * permission, a full disk, a closed stdout: one line naming the path), 1 for a bug
 *
 * @example Usage
 * ```ts
 * import { reportError } from "./kit.ts";
 * import { PrecopyError } from "../errors.ts";
 * import assert from "node:assert/strict";
 * let text = "";
 * const io = { out: () => {}, err: (t: string) => { text += t; }, interactive: false };
 * assert.equal(reportError(new PrecopyError("config", "bad"), io), 2);
 * assert.equal(text, "error: bad\n");
 * ```
 */
export function reportError(e: unknown, io: CliIo): number {
  if (e instanceof PrecopyError) {
    io.err(`error: ${e.message}\n`);
    return 2;
  }
  const code = (e as { code?: string })?.code;
  if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) {
    // node:util's parse errors come in several lines; an error is one
    const text = (e as Error).message.split("\n").map((l) => l.trim()).filter(Boolean);
    io.err(`error: ${text.join(" ")} (see --help)\n`);
    return 2;
  }
  const why = ioReason(e);
  if (why !== null) {
    const path = ioPath(e);
    io.err(`error: ${path === null ? "" : `${path}: `}${why}\n`);
    return 2;
  }
  io.err(
    `internal error: ${e instanceof Error ? e.message : String(e)}\n` +
      "This is a bug in precopy-lab; please report it with the command line.\n",
  );
  return 1;
}

/**
 * Runs a task's entry function on the process's arguments and exits with its status.
 *
 * @param run the task: arguments and sinks in, exit status out
 *
 * @example Usage
 * ```ts ignore
 * import { runMain } from "./kit.ts";
 * if (import.meta.main) await runMain(async (args, io) => (io.out(args.join(" ")), 0));
 * ```
 */
export async function runMain(run: (args: string[], io: CliIo) => Promise<number>): Promise<never> {
  Deno.exit(await run(Deno.args, stdio));
}
