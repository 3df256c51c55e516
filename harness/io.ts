/**
 * Files the tools write, written safely: every output goes to a temporary name in its own
 * directory and is renamed over the target only once complete, so a failure (disk full, a
 * broken pipe, an error half-way) leaves the old file or none — never half a file. Ordinary
 * I/O failures become one {@link PrecopyError} naming the path and what went wrong.
 *
 * @module
 */

import { PrecopyError } from "./errors.ts";

/** What an operating-system error code means, in the words of an error line. */
const CODES: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a directory",
  ENOTDIR: "a part of the path is not a directory",
  EEXIST: "already exists",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EFBIG: "file too large",
  EROFS: "read-only file system",
  EPIPE: "broken pipe (the reader went away)",
  EIO: "input/output error",
  EMFILE: "too many open files",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many levels of symbolic links",
  EBUSY: "resource busy",
  EXDEV: "not on the same file system",
};

/** Deno's error classes for ordinary I/O failures, with the words for each. */
const CLASSES: [string, string][] = [
  ["NotFound", "no such file or directory"],
  ["PermissionDenied", "permission denied"],
  ["NotCapable", "not permitted by this task's permissions"],
  ["AlreadyExists", "already exists"],
  ["IsADirectory", "is a directory"],
  ["NotADirectory", "a part of the path is not a directory"],
  ["BrokenPipe", "broken pipe (the reader went away)"],
  ["WriteZero", "could not write (device full?)"],
  ["UnexpectedEof", "ended unexpectedly"],
  ["Interrupted", "interrupted"],
  ["BadResource", "closed"],
  ["FilesystemLoop", "too many levels of symbolic links"],
  ["Busy", "resource busy"],
  ["InvalidData", "not valid UTF-8 text"],
  ["TimedOut", "timed out"],
];

/**
 * What went wrong in an ordinary I/O failure, in a few words; `null` when `e` is no I/O
 * error (a bug, or an error of another kind).
 *
 * @param e the error
 * @returns the words (`no space left on device`), or null
 *
 * @example Usage
 * ```ts
 * import { ioReason } from "./io.ts";
 * import assert from "node:assert/strict";
 * try {
 *   Deno.readFileSync("/no/such/file");
 * } catch (e) {
 *   assert.equal(ioReason(e), "no such file or directory");
 * }
 * assert.equal(ioReason(new TypeError("x")), null);
 * ```
 */
export function ioReason(e: unknown): string | null {
  if (!(e instanceof Error)) return null;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" && code in CODES) return CODES[code];
  const errors = (globalThis as { Deno?: { errors?: Record<string, unknown> } }).Deno?.errors;
  for (const [name, words] of CLASSES) {
    const cls = errors?.[name];
    if (typeof cls === "function" && e instanceof (cls as new () => Error)) return words;
  }
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) {
    // Another OS error: Deno's text without the "(os error N): op 'path'" tail.
    return e.message.replace(/\s*\(os error \d+\).*$/, "").toLowerCase() || code;
  }
  return null;
}

/**
 * The path an OS error names (`open '/x/y'` in Deno's message), or null.
 *
 * @param e the error
 * @returns the path, or null
 *
 * @example Usage
 * ```ts
 * import { ioPath } from "./io.ts";
 * import assert from "node:assert/strict";
 * assert.equal(ioPath(new Error("No such file or directory (os error 2): open '/a/b'")), "/a/b");
 * ```
 */
export function ioPath(e: unknown): string | null {
  if (!(e instanceof Error)) return null;
  const m = /\(os error \d+\): \w+ '(.*?)'(?: -> '.*')?$/.exec(e.message);
  if (m) return m[1];
  const p = /access to "(.*?)"/.exec(e.message); // NotCapable: Requires read access to "x"
  return p ? p[1] : null;
}

/**
 * Turns an ordinary I/O failure into a {@link PrecopyError} naming `path` and what went
 * wrong; anything else is returned as it was.
 *
 * @param path the file (or `stdout`) the failure concerns
 * @param e the error
 * @returns the error to throw
 *
 * @example Usage
 * ```ts
 * import { ioError } from "./io.ts";
 * import assert from "node:assert/strict";
 * const e = Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" });
 * assert.equal((ioError("out.csv", e) as Error).message, "out.csv: no space left on device");
 * ```
 */
export function ioError(path: string, e: unknown): unknown {
  if (e instanceof PrecopyError) return e;
  const why = ioReason(e);
  return why === null ? e : new PrecopyError("io", `${path}: ${why}`);
}

let serial = 0;

/**
 * A fresh temporary name beside `path`: same directory, a hidden name that ends with the
 * target's own name (so its extension, which decides a trace's format, is kept).
 *
 * @param path the target
 * @returns the temporary path
 *
 * @example Usage
 * ```ts
 * import { tempPathFor } from "./io.ts";
 * import assert from "node:assert/strict";
 * const t = tempPathFor("out/run.csv");
 * assert.match(t, /^out\/\.tmp-\d+-\d+-\d+-run\.csv$/);
 * ```
 */
export function tempPathFor(path: string): string {
  const slash = path.lastIndexOf("/");
  const dir = path.slice(0, slash + 1), base = path.slice(slash + 1);
  const pid = (globalThis as { Deno?: { pid?: number } }).Deno?.pid ?? 0;
  return `${dir}.tmp-${pid}-${Date.now()}-${++serial}-${base}`;
}

/** Checks that `path` can be the target of a rename: its directory exists, it is no directory. */
function checkTarget(path: string): void {
  if (path === "") throw new PrecopyError("config", "an empty path names no output file");
  const slash = path.lastIndexOf("/");
  const dir = slash < 0 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  let d: Deno.FileInfo;
  try {
    d = Deno.statSync(dir);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new PrecopyError("io", `${path}: the directory '${dir}' does not exist`);
    }
    throw ioError(path, e);
  }
  if (!d.isDirectory) throw new PrecopyError("io", `${path}: '${dir}' is not a directory`);
  try {
    if (Deno.statSync(path).isDirectory) throw new PrecopyError("io", `${path}: is a directory`);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw ioError(path, e);
  }
}

/**
 * Produces the file `path` atomically: `write` fills a temporary file beside it (its path
 * is passed in), which is then renamed over `path`. If `write` or the rename fails, the
 * temporary file is removed and `path` is left as it was; an I/O failure is reported
 * against `path`, not the temporary name.
 *
 * @param path the target
 * @param write fills the temporary file
 * @returns what `write` returned
 * @throws {PrecopyError} for an I/O failure, naming `path`
 *
 * @example Usage
 * ```ts
 * import { withAtomicFile } from "./io.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * withAtomicFile(`${dir}/a.txt`, (tmp) => Deno.writeTextFileSync(tmp, "new"));
 * assert.equal(Deno.readTextFileSync(`${dir}/a.txt`), "new");
 * assert.throws(() => withAtomicFile(`${dir}/a.txt`, () => { throw new Error("half-way"); }));
 * assert.equal(Deno.readTextFileSync(`${dir}/a.txt`), "new");
 * assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["a.txt"]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function withAtomicFile<T>(path: string, write: (tmp: string) => T): T {
  checkTarget(path);
  const tmp = tempPathFor(path);
  try {
    const out = write(tmp);
    Deno.renameSync(tmp, path);
    return out;
  } catch (e) {
    throw failed(path, tmp, e);
  }
}

/**
 * {@link withAtomicFile} for a writer that works asynchronously (the recorder).
 *
 * @param path the target
 * @param write fills the temporary file
 * @returns what `write` resolved to
 * @throws {PrecopyError} for an I/O failure, naming `path`
 *
 * @example Usage
 * ```ts
 * import { withAtomicFileAsync } from "./io.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * await withAtomicFileAsync(`${dir}/a.txt`, (tmp) => Deno.writeTextFile(tmp, "new"));
 * assert.equal(Deno.readTextFileSync(`${dir}/a.txt`), "new");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export async function withAtomicFileAsync<T>(
  path: string,
  write: (tmp: string) => Promise<T>,
): Promise<T> {
  checkTarget(path);
  const tmp = tempPathFor(path);
  try {
    const out = await write(tmp);
    Deno.renameSync(tmp, path);
    return out;
  } catch (e) {
    throw failed(path, tmp, e);
  }
}

/** Cleans up after a failed atomic write; returns the error to throw, naming the target. */
function failed(path: string, tmp: string, e: unknown): unknown {
  try {
    Deno.removeSync(tmp);
  } catch { /* never created, or already gone */ }
  if (e instanceof PrecopyError) {
    // a reader or writer that named the temporary file names the target instead
    return e.message.includes(tmp) ? new PrecopyError(e.kind, e.message.replaceAll(tmp, path)) : e;
  }
  const p = ioPath(e);
  return ioError(p === null || p === tmp ? path : p, e);
}

/**
 * Writes a whole file atomically (see {@link withAtomicFile}).
 *
 * @param path the target
 * @param data its content: text (UTF-8) or bytes
 * @throws {PrecopyError} for an I/O failure, naming `path`
 *
 * @example Usage
 * ```ts
 * import { writeFileAtomic } from "./io.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * writeFileAtomic(`${dir}/r.json`, "{}\n");
 * assert.equal(Deno.readTextFileSync(`${dir}/r.json`), "{}\n");
 * assert.throws(() => writeFileAtomic(`${dir}/missing/r.json`, "x"), /does not exist/);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  withAtomicFile(path, (tmp) => {
    if (typeof data === "string") Deno.writeTextFileSync(tmp, data);
    else Deno.writeFileSync(tmp, data);
  });
}

/**
 * Whether two paths name the same file: the same device and inode when both exist (which
 * sees through symbolic links, `./` and hard links), else the same real path.
 *
 * @param a one path
 * @param b another
 * @returns true when writing `b` would overwrite `a`
 *
 * @example Usage
 * ```ts
 * import { sameFile } from "./io.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/t.csv`, "");
 * assert.ok(sameFile(`${dir}/t.csv`, `${dir}/./t.csv`));
 * assert.ok(!sameFile(`${dir}/t.csv`, `${dir}/u.csv`));
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function sameFile(a: string, b: string): boolean {
  let sa: Deno.FileInfo, sb: Deno.FileInfo;
  try {
    sa = Deno.statSync(a);
    sb = Deno.statSync(b);
  } catch {
    return false; // one does not exist: writing it cannot destroy the other
  }
  if (sa.ino !== null && sb.ino !== null && sa.dev === sb.dev) return sa.ino === sb.ino;
  try {
    return Deno.realPathSync(a) === Deno.realPathSync(b);
  } catch {
    return false;
  }
}

/**
 * Checks that `path` names a file that exists (not a directory), before a tool reads it.
 *
 * @param path the input
 * @throws {PrecopyError} naming `path` when it is missing or a directory
 *
 * @example Usage
 * ```ts
 * import { checkInputFile } from "./io.ts";
 * import assert from "node:assert/strict";
 * assert.throws(() => checkInputFile("/no/such/file"), /no such file or directory/);
 * assert.throws(() => checkInputFile("."), /'\.' is a directory/);
 * ```
 */
export function checkInputFile(path: string): void {
  if (path === "") throw new PrecopyError("config", "an empty path names no input file");
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    throw ioError(path, e);
  }
  if (info.isDirectory) throw new PrecopyError("io", `'${path}' is a directory, not a file`);
}
