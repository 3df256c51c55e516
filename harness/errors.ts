/**
 * Errors that end a run with one clear message: bad input, a policy that breaks the
 * contract, a failed verification. Anything else escaping the harness is a bug.
 *
 * @module
 */

/**
 * What went wrong, so a caller can react without parsing the message: `io` is an ordinary
 * failure to read or write a file or stream (missing, no permission, disk full, closed).
 */
export type PrecopyErrorKind = "config" | "workload" | "policy" | "verification" | "io";

/**
 * A user-facing error: its message says what was wrong and where. The CLI prints the
 * message alone (no stack) and exits with status 2.
 *
 * @example Usage
 * ```ts
 * import { PrecopyError } from "./errors.ts";
 * import assert from "node:assert/strict";
 *
 * const e = new PrecopyError("config", "--bandwidth: expected a rate such as 1Gbit/s");
 * assert.equal(e.kind, "config");
 * assert.ok(e instanceof Error);
 * ```
 */
export class PrecopyError extends Error {
  /** The category of the failure. */
  readonly kind: PrecopyErrorKind;
  /**
   * Creates the error.
   * @param kind category of the failure
   * @param message what was wrong and where
   */
  constructor(kind: PrecopyErrorKind, message: string) {
    super(message);
    this.name = "PrecopyError";
    this.kind = kind;
  }
}
