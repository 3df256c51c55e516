/**
 * The unit grammar shared by the CLI, workload specs and policy parameters:
 * sizes (`512MiB`, `4GiB`, `64KB`), rates of bytes (`128MiB/s`, `10Gbit/s`), durations
 * (`300ms`, `1.5s`, `20us`), counts with `k M G` suffixes (`200k`) and shares (`5%`).
 *
 * Every parser throws a {@link PrecopyError} naming the flag and the accepted form.
 *
 * @module
 */

import { PrecopyError } from "./errors.ts";

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
};

const TIME_UNITS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9 };

const COUNT_UNITS: Record<string, number> = { "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9 };

const NUMBER = "([0-9]+(?:\\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)";

function fail(what: string, value: string, form: string): never {
  throw new PrecopyError("config", `${what}: '${value}' is not ${form}`);
}

function split(value: string, what: string, form: string): [number, string] {
  const m = new RegExp(`^\\s*${NUMBER}\\s*([A-Za-zµ/%]*)\\s*$`).exec(value);
  if (!m) fail(what, value, form);
  const n = Number(m[1]);
  if (!Number.isFinite(n)) fail(what, value, form); // 1e400 is no number to run with
  return [n, m[2]];
}

/**
 * Parses a byte size such as `4096`, `512MiB`, `4GiB` or `64KB`.
 *
 * @param value the text to parse
 * @param what the flag or parameter name used in the error message
 * @returns the size in bytes (an integer)
 * @throws {PrecopyError} when the text is not a size
 *
 * @example Usage
 * ```ts
 * import { parseSize } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseSize("2MiB", "--memory"), 2097152);
 * ```
 */
export function parseSize(value: string, what: string): number {
  const form = "a size such as 4096, 512MiB, 4GiB or 64KB";
  const [n, unit] = split(value, what, form);
  const mul = Object.hasOwn(SIZE_UNITS, unit) ? SIZE_UNITS[unit] : undefined;
  if (mul === undefined) fail(what, value, form);
  const bytes = n * mul;
  if (!Number.isSafeInteger(bytes)) fail(what, value, `${form} (a whole number of bytes)`);
  return bytes;
}

/**
 * Parses a link rate: bytes per second (`125MB/s`, `128MiB/s`) or bits per second
 * (`1Gbit/s`, `10Gbit/s`, `100Mbit/s`, also `Gbps`).
 *
 * @param value the text to parse
 * @param what the flag name used in the error message
 * @returns bytes per second
 * @throws {PrecopyError} when the text is not a rate, or is not positive
 *
 * @example Usage
 * ```ts
 * import { parseBandwidth } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseBandwidth("1Gbit/s", "--bandwidth"), 125_000_000);
 * assert.equal(parseBandwidth("128MiB/s", "--bandwidth"), 134217728);
 * ```
 */
export function parseBandwidth(value: string, what: string): number {
  const form = "a rate such as 125MB/s, 128MiB/s, 1Gbit/s or 10Gbit/s";
  const [n, unit] = split(value, what, form);
  let bytesPerSecond: number;
  const bits = /^([kKMGT]?)(?:bit\/s|bps)$/.exec(unit);
  if (bits) {
    const mul = { "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 }[bits[1]] ?? 1;
    bytesPerSecond = n * mul / 8;
  } else {
    const bytes = /^([A-Za-z]*)\/s$/.exec(unit);
    const mul = bytes ? SIZE_UNITS[bytes[1]] : undefined;
    if (mul === undefined) fail(what, value, form);
    bytesPerSecond = n * mul;
  }
  if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
    fail(what, value, `${form}, greater than zero`);
  }
  return bytesPerSecond;
}

/**
 * Parses a duration (`300ms`, `1s`, `20us`, `500ns`) into integer nanoseconds. A bare
 * number is rejected: a duration without a unit is too easy to misread.
 *
 * @param value the text to parse
 * @param what the flag or parameter name used in the error message
 * @param round round to whole nanoseconds (default); false keeps fractions (`0.5ns`)
 * @returns nanoseconds, rounded to an integer unless `round` is false
 * @throws {PrecopyError} when the text is not a duration
 *
 * @example Usage
 * ```ts
 * import { parseDuration } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseDuration("300ms", "--downtime-limit"), 300_000_000);
 * assert.equal(parseDuration("1.5ns", "--cost-scan-entry", false), 1.5);
 * assert.throws(() => parseDuration("0", "--policy-timeout"), /'0' must be greater than 0/);
 * ```
 */
export function parseDuration(value: string, what: string, round = true): number {
  const form = "a duration such as 300ms, 1s, 20us or 500ns";
  // A bare 0 needs no unit where zero is allowed (those callers take it before this);
  // here it is not, and saying so is clearer than asking for a unit.
  if (value.trim() === "0") {
    throw new PrecopyError("config", `${what}: '${value}' must be greater than 0`);
  }
  const [n, unit] = split(value, what, form);
  const mul = Object.hasOwn(TIME_UNITS, unit) ? TIME_UNITS[unit] : undefined;
  if (mul === undefined) fail(what, value, form);
  const ns = round ? Math.round(n * mul) : n * mul;
  if (!round && Number.isFinite(ns)) return ns;
  if (!Number.isSafeInteger(ns)) fail(what, value, form);
  return ns;
}

/**
 * Parses a count with an optional `k`, `M` or `G` suffix (`200k` = 200 000).
 *
 * @param value the text to parse
 * @param what the flag or parameter name used in the error message
 * @returns the number (not necessarily an integer: `1.5k` is 1500, `0.5` is 0.5)
 * @throws {PrecopyError} when the text is not a count
 *
 * @example Usage
 * ```ts
 * import { parseCount } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseCount("200k", "rate"), 200_000);
 * ```
 */
export function parseCount(value: string, what: string): number {
  const form = "a number such as 200, 1.5k, 2M";
  const [n, unit] = split(value, what, form);
  const mul = Object.hasOwn(COUNT_UNITS, unit) ? COUNT_UNITS[unit] : undefined;
  if (mul === undefined) fail(what, value, form);
  return n * mul;
}

/**
 * Parses a whole number within bounds (`--max-rounds 30`, `--seed 7`).
 *
 * @param value the text to parse
 * @param what the flag or parameter name used in the error message
 * @param min the smallest accepted value
 * @param max the largest accepted value
 * @returns the integer
 * @throws {PrecopyError} when the text is not an integer within [min, max]
 *
 * @example Usage
 * ```ts
 * import { parseInteger } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseInteger("30", "--max-rounds", 1, 1e6), 30);
 * ```
 */
export function parseInteger(value: string, what: string, min: number, max: number): number {
  const n = parseCount(value, what);
  if (!Number.isInteger(n) || n < min || n > max) {
    fail(what, value, `a whole number from ${min} to ${max}`);
  }
  return n;
}

/**
 * Parses a share: `5%` or a fraction `0.05`; the result is a fraction in [0, 1].
 *
 * @param value the text to parse
 * @param what the flag or parameter name used in the error message
 * @returns the fraction
 * @throws {PrecopyError} when the text is not a share between 0 % and 100 %
 *
 * @example Usage
 * ```ts
 * import { parseShare } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseShare("5%", "hot"), 0.05);
 * ```
 */
export function parseShare(value: string, what: string): number {
  const form = "a share such as 5% or 0.05";
  const [n, unit] = split(value, what, form);
  let f: number;
  if (unit === "%") f = n / 100;
  else if (unit === "") f = n;
  else fail(what, value, form);
  if (!(f >= 0 && f <= 1)) fail(what, value, `${form}, between 0% and 100%`);
  return f;
}

/**
 * Formats nanoseconds for people: `812 ns`, `3.20 ms`, `1.250 s`.
 *
 * @param ns nanoseconds
 * @returns a short human-readable duration
 *
 * @example Usage
 * ```ts
 * import { formatDuration } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatDuration(3_200_000), "3.20 ms");
 * ```
 */
export function formatDuration(ns: number): string {
  if (ns < 1e3) return `${Math.round(ns)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(2)} ms`;
  return `${(ns / 1e9).toFixed(3)} s`;
}

/**
 * Formats a byte count with binary units: `4.00 KiB`, `1.50 GiB`.
 *
 * @param bytes a byte count
 * @returns a short human-readable size
 *
 * @example Usage
 * ```ts
 * import { formatBytes } from "./units.ts";
 * import assert from "node:assert/strict";
 * assert.equal(formatBytes(1536 * 1024 * 1024), "1.50 GiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(2)} ${units[i]}`;
}
