/**
 * What keeps a run finite: a budget of work units (events) that the engine counts as it
 * goes, and the checks that refuse, before anything runs, a configuration whose simulated
 * times could not be kept exact or whose warm-up alone would exceed the budget. A run
 * that runs out of budget ends with an error naming the budget and how to raise it.
 *
 * The engine counts per chunk of accesses, per profiling scan, per round and per 64 Ki
 * sends — never per access — so the count costs nothing measurable.
 *
 * @module
 */

import type { MigrationConfig } from "../config.ts";
import type { AccessStream, Workload } from "../workloads/workload.ts";
import { PrecopyError } from "../errors.ts";
import { formatDuration, parseCount } from "../units.ts";

/**
 * The default budget: 10⁹ events, about 20 times the largest run the manual times (a
 * 64 GiB guest: 45 M events in 3 s), so a minute or two of work at most.
 */
export const DEFAULT_MAX_EVENTS = 1e9;

/**
 * What a profiling scan or a round counts beside its frames: their fixed cost (a call
 * into the tracker and the policy, a few small arrays) is that of a few hundred accesses.
 */
export const FIXED_EVENTS = 256;

/** The last simulated nanosecond that float64 arithmetic keeps exact (2^53 ns, 104 days). */
export const MAX_EXACT_NS = Number.MAX_SAFE_INTEGER;

/**
 * Checks a budget's value: a whole number of at least 1, or `Infinity` for none.
 *
 * @param n the budget
 * @param name what to call it in an error (`--max-events`)
 * @returns n
 * @throws {PrecopyError} for anything else
 *
 * @example Usage
 * ```ts
 * import { checkMaxEvents } from "./budget.ts";
 * import assert from "node:assert/strict";
 * assert.equal(checkMaxEvents(1e6, "--max-events"), 1e6);
 * assert.throws(() => checkMaxEvents(NaN, "--max-events"), /--max-events: 'NaN'/);
 * ```
 */
export function checkMaxEvents(n: number, name: string): number {
  if (n === Infinity || (Number.isSafeInteger(n) && n >= 1)) return n;
  throw new PrecopyError(
    "config",
    `${name}: '${n}' is not a whole number of at least 1 (or Infinity for no budget)`,
  );
}

/**
 * Parses a budget as given on a command line: a count (`5M`, `1e9`) or `Infinity` for
 * none, as the error of {@link checkMaxEvents} offers.
 *
 * @param text the flag's value
 * @param name what to call it in an error (`--max-events`)
 * @returns the budget
 * @throws {PrecopyError} for anything else
 *
 * @example Usage
 * ```ts
 * import { parseMaxEvents } from "./budget.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseMaxEvents("5M", "--max-events"), 5e6);
 * assert.equal(parseMaxEvents("Infinity", "--max-events"), Infinity);
 * ```
 */
export function parseMaxEvents(text: string, name: string): number {
  return checkMaxEvents(text === "Infinity" ? Infinity : parseCount(text, name), name);
}

/**
 * Refuses, before the run, what cannot end well: a migration whose transfer alone takes
 * simulated time past {@link MAX_EXACT_NS} (every frame goes over the link at least once,
 * so the run lasts at least that long), and a warm-up whose profiling scans alone exceed
 * the budget.
 *
 * @param cfg the configuration
 * @param zeroFrames frames that start as zero pages (sent as markers)
 * @param maxEvents the run's budget
 * @throws {PrecopyError} naming the items at fault and the reason
 *
 * @example Usage
 * ```ts
 * import { checkFeasible } from "./budget.ts";
 * import { resolveConfig } from "../config.ts";
 * import assert from "node:assert/strict";
 * checkFeasible(resolveConfig({}), 0, 1e9);
 * assert.throws(() => checkFeasible(resolveConfig({ bandwidth: 1 / 8 }), 0, 1e9), /--bandwidth/);
 * ```
 */
export function checkFeasible(cfg: MigrationConfig, zeroFrames: number, maxEvents: number): void {
  const bytes = (cfg.pages - zeroFrames) * (cfg.pageSize + cfg.pageHeader) +
    zeroFrames * cfg.zeroMarker + cfg.deviceState;
  const transferNs = bytes * (1e9 / cfg.bandwidth);
  if (!(cfg.startNs + transferNs <= MAX_EXACT_NS)) {
    throw new PrecopyError(
      "config",
      `--bandwidth, --memory, --start: the run would last at least ${
        longTime(cfg.startNs + transferNs)
      } of simulated time (the warm-up, then every frame once over the link), past the ${
        longTime(MAX_EXACT_NS)
      } up to which nanoseconds stay exact; use a faster link, a smaller guest or a shorter start`,
    );
  }
  const scans = Math.floor(cfg.startNs / cfg.profileIntervalNs);
  if (scans * FIXED_EVENTS > maxEvents) {
    throw new PrecopyError(
      "config",
      `--profile-interval ${formatDuration(cfg.profileIntervalNs)}: the warm-up alone (--start ${
        formatDuration(cfg.startNs)
      }) takes ${scans.toLocaleString("en-US")} profiling scans, beyond the run's budget of ${
        maxEvents.toLocaleString("en-US")
      } events (a scan counts ${FIXED_EVENTS}); use a longer interval or raise --max-events`,
    );
  }
}

/** A long simulated time in the largest fitting unit (days or years). */
function longTime(ns: number): string {
  const days = ns / 864e11;
  if (days < 2) return formatDuration(ns);
  if (days < 730) return `${days.toFixed(0)} days`;
  const years = days / 365.25;
  return `${years < 1e6 ? years.toFixed(0) : years.toExponential(1)} years`;
}

/**
 * The error of a run that ran out of budget.
 *
 * @param maxEvents the budget
 * @param where what the run was doing (`round 3`, `the warm-up`)
 * @returns the error to throw
 *
 * @example Usage
 * ```ts
 * import { overBudget } from "./budget.ts";
 * import assert from "node:assert/strict";
 * assert.match(overBudget(1000, "round 2").message, /--max-events/);
 * ```
 */
export function overBudget(maxEvents: number, where: string): PrecopyError {
  return new PrecopyError(
    "config",
    `the run went past its budget of ${maxEvents.toLocaleString("en-US")} events (accesses, ` +
      `sends and offered frames; ${FIXED_EVENTS} per profiling scan and per round) in ${where}: ` +
      `the workload, link and profiling interval make it very long; raise the budget with ` +
      `--max-events N (library: maxEvents) if that is intended`,
  );
}

/**
 * A workload whose streams end with {@link overBudget} once they have delivered more than
 * `maxEvents` accesses (counted per chunk), for tools that read a workload without the
 * engine (`analyze`).
 *
 * @param w the workload
 * @param maxEvents the budget
 * @param where what the error says was running out (`the analysis`)
 * @returns the same workload, counted
 *
 * @example Usage
 * ```ts
 * import { budgetedWorkload } from "./budget.ts";
 * import { parseWorkload } from "../workloads/spec.ts";
 * import assert from "node:assert/strict";
 * const s = budgetedWorkload(parseWorkload("uniform"), 10_000, "the analysis").open(64, 1);
 * assert.throws(() => { while (s.next()); }, /budget of 10,000 events/);
 * ```
 */
export function budgetedWorkload(w: Workload, maxEvents: number, where: string): Workload {
  const open = (pages: number, seed: number): AccessStream => {
    const s = w.open(pages, seed);
    let seen = 0;
    return {
      next() {
        const c = s.next();
        if (c !== null && (seen += c.length) > maxEvents) throw overBudget(maxEvents, where);
        return c;
      },
      close: () => s.close?.(),
    };
  };
  // Everything else is the workload's own (a proxy keeps fields added later).
  return new Proxy(w, {
    get(target, key) {
      if (key === "open") return open;
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}
