/**
 * The migration configuration: one table of its items ({@link CONFIG_ITEMS}: field, flags,
 * unit, bounds, default, help) from which the defaults, the validation of library callers
 * ({@link resolveConfig}), the command-line parser ({@link configFromFlags}) and its help
 * are all derived — so both kinds of caller get the same checks and the same words.
 *
 * @module
 */

import { PrecopyError } from "./errors.ts";
import {
  DEFAULT_TRACKER,
  DEFAULT_TRACKER_COSTS,
  TRACKER_KINDS,
  type TrackerCosts,
} from "./trackers/tracker.ts";
import { RING_ENTRIES } from "./trackers/dirty_ring.ts";
import { PML_MAX_ENTRIES } from "./trackers/pml.ts";
import { parseBandwidth, parseCount, parseDuration, parseSize } from "./units.ts";

/** When a frame's dirty state is reset: at the sync, per N-frame chunk, or per send. */
export type ClearMode = "round" | "send" | `chunk:${number}`;

/** What ends a pre-copy round: drain every offered frame, or QEMU's re-sync at threshold. */
export type IterationRule = "drain" | "qemu";

/** Everything a migration run is configured with. */
export interface MigrationConfig {
  /** Guest frames. */
  pages: number;
  /** Bytes per frame (default 4096). */
  pageSize: number;
  /** Link rate, bytes per second (default 128 MiB/s, QEMU's max-bandwidth). */
  bandwidth: number;
  /** Wire bytes per page beside its content (default 8, QEMU's header). */
  pageHeader: number;
  /** Wire bytes for a zero page (default 9: QEMU's 8-byte header + 1 byte). */
  zeroMarker: number;
  /** Device state bytes sent during downtime (default 0). */
  deviceState: number;
  /** Switchover target in ns (default 300 ms, QEMU's downtime-limit). */
  downtimeLimitNs: number;
  /** Forced switchover after this many rounds (default 30, Xen's legacy limit). */
  maxRounds: number;
  /** Xen's rule: pause once fewer than this many frames are pending; 0 = off. */
  minPending: number;
  /** Forced switchover once sends reach this many times the guest's frames; 0 = off. */
  maxTransferFactor: number;
  /** When a frame's dirty state is reset (default `send`). */
  clear: ClearMode;
  /** When a round ends (default `drain`). */
  iteration: IterationRule;
  /**
   * `iteration=qemu` only: how much sending happens between two checks of the pending
   * bytes — QEMU's `ram_save_iterate` sends for up to MAX_WAIT = 50 ms before
   * `migration_iteration_run` looks again (default 50 ms; 0 = after every page).
   */
  qemuMaxWaitNs: number;
  /** When migration starts; the guest and the profiler run from 0 (default 1 s). */
  startNs: number;
  /** Pause and resume overhead added to downtime (default 0). */
  pauseResumeNs: number;
  /** Dirty-tracking mechanism (default `ept-ad`). */
  tracker: string;
  /** Frames per EPT leaf: 1 (4 KiB, default) or 512 (2 MiB). */
  eptLeafFrames: number;
  /** Whether clears of A/D bits are followed by INVEPT (default true). */
  flush: boolean;
  /** `error` (default): a mismatch at the end is an error; `count`: reported, not thrown. */
  verify: "error" | "count";
  /** QEMU's auto-converge: throttle the vCPUs while dirtying outpaces the link (off). */
  autoConverge: boolean;
  /** vCPUs of the guest (default 1): PML buffers and dirty rings are per vCPU. */
  vcpus: number;
  /** The tracker's cost parameters. */
  trackerCosts: TrackerCosts;
  /** Profiling interval in ns (default 100 ms). */
  profileIntervalNs: number;
  /** H: profiling intervals kept per frame, 1–32 (default 16). */
  historyLength: number;
  /** For `rate-oracle`: generators' mean rates span [0, start + this) (default 120 s). */
  oracleHorizonNs: number;
  /** Seed for generators and randomized policies (default 1). */
  seed: number;
}

/** Configuration overrides: any item of {@link MigrationConfig}, tracker costs in part. */
export type ConfigInput = Partial<Omit<MigrationConfig, "trackerCosts">> & {
  trackerCosts?: Partial<TrackerCosts> & {
    /** @deprecated vCPUs are no cost: use the top-level `vcpus` (still read from here). */
    vcpus?: number;
  };
};

/** A value of a configuration item. */
export type ConfigValue = number | string | boolean;

/** How a flag's text is read: the unit grammar of `harness/units.ts`, or as it stands. */
export type FlagSyntax = "integer" | "number" | "size" | "rate" | "duration" | "text" | "switch";

/** One command-line flag of a configuration item. */
export interface ConfigFlag {
  /** The flag, e.g. `--max-rounds`. */
  flag: string;
  /** Its argument in `--help` (`N`, `SIZE`, `T`); none for a switch. */
  arg?: string;
  /** How its text is read. */
  syntax: FlagSyntax;
  /** What it does, for `--help` and the manual. */
  help: string;
  /** A switch: the value it sets. */
  sets?: ConfigValue;
  /** The flag's units per unit of the item: `--memory` reads bytes, 4096 a frame. */
  scale?: number;
  /** Its default as `--help` shows it; by default the item's, in the flag's own unit. */
  shown?: string | null;
  /** What it accepts, when its unit is not the item's (`--memory`). */
  form?: string;
  /** Another spelling of the flag before it (`--warmup` for `--start`). */
  alias?: boolean;
  /** A `duration` kept to fractions of a nanosecond (costs), not rounded to whole ns. */
  fractional?: boolean;
}

/** One item of {@link MigrationConfig}: its field, flags, unit, bounds, default and help. */
export interface ConfigItem {
  /** The field, `maxRounds`; a tracker cost is `trackerCosts.exitNs`. */
  field: string;
  /** The unit of its value: `frames`, `bytes`, `bytes/s`, `ns`, or a word for the kind. */
  unit: string;
  /** The default. */
  default: ConfigValue;
  /** What it accepts, as the words after "is not" in an error. */
  form: string;
  /** The smallest value accepted (numeric items). */
  min?: number;
  /** The largest value accepted (numeric items; none: any finite number). */
  max?: number;
  /** Only whole numbers are accepted. */
  whole?: boolean;
  /** The only values accepted (items with a fixed set). */
  values?: readonly ConfigValue[];
  /** Whether a value is accepted. */
  accepts: (v: unknown) => boolean;
  /** What the item is, for the manual. */
  help: string;
  /** Its command-line flags (none: library callers only). */
  flags: readonly ConfigFlag[];
  /** 0 turns the item off (`--help` shows `off`). */
  zeroIsOff?: boolean;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/** The most frames a guest may have: 2^28 (1 TiB of 4 KiB frames). */
const MAX_FRAMES = 1 << 28;

/** Dirty-ring sizes: a power of two (KVM's requirement), at least 128 (64 slots of slack). */
// KVM's own limits on a dirty ring (the tracker's registry entry owns them).
const RING_MIN = RING_ENTRIES.min, RING_MAX = RING_ENTRIES.max;

const whole = (min: number, max: number) => ({
  min,
  max,
  whole: true,
  form: `a whole number from ${min} to ${max}`,
  accepts: (v: unknown) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max,
});

const atLeast = (what: string, min: number, unit = "") => ({
  min,
  form: `${what} of at least ${min}${unit}`,
  accepts: (v: unknown) => typeof v === "number" && v >= min && Number.isFinite(v),
});

const oneOf = (values: readonly ConfigValue[], form: string) => ({
  values,
  form,
  accepts: (v: unknown) => values.includes(v as ConfigValue),
});

const isBoolean = {
  values: [true, false],
  form: "true or false",
  accepts: (v: unknown) => typeof v === "boolean",
};

const CLEAR_FORM = "round, send, chunk or chunk:N (N ≥ 1 frames)";

/** The frames per chunk of a clear mode; 0 for `round` and `send`; NaN when it is none. */
function clearChunk(text: unknown): number {
  if (text === "round" || text === "send") return 0;
  const m = typeof text === "string" ? /^chunk(?::(\d+))?$/.exec(text) : null;
  if (m === null) return NaN;
  const chunk = m[1] === undefined ? 1 << 18 : Number(m[1]);
  return chunk >= 1 && Number.isSafeInteger(chunk) ? chunk : NaN;
}

const PAGE = 4096; // the flags' frame: --memory and --ept-leaf count in 4 KiB frames

/** A time-valued tracker cost: `trackerCosts.<key>`, a `--cost-…` flag taking fractions. */
function costItem(
  key: "exitNs" | "wpFaultNs" | "scanEntryNs" | "flushHostNs" | "flushGuestNs" | "walkNs",
  flag: string,
  help: string,
  flagHelp: string,
): ConfigItem {
  return {
    field: `trackerCosts.${key}`,
    unit: "ns",
    default: DEFAULT_TRACKER_COSTS[key],
    ...atLeast("a duration", 0, " ns"),
    help,
    flags: [{ flag, arg: "T", syntax: "duration", fractional: true, help: flagHelp }],
  };
}

/**
 * Every item of {@link MigrationConfig}, in the order of its fields: the one source of the
 * defaults ({@link DEFAULT_CONFIG}), the validation ({@link resolveConfig}), the command
 * line ({@link configFromFlags}, {@link configOptions}) and its help ({@link flagHelp},
 * {@link flagTable}).
 *
 * @example Usage
 * ```ts
 * import { CONFIG_ITEMS } from "./config.ts";
 * import assert from "node:assert/strict";
 * const rounds = CONFIG_ITEMS.find((i) => i.field === "maxRounds")!;
 * assert.equal(rounds.flags[0].flag, "--max-rounds");
 * assert.equal(rounds.default, 30);
 * assert.ok(!rounds.accepts(0));
 * ```
 */
export const CONFIG_ITEMS: readonly ConfigItem[] = [
  {
    field: "pages",
    unit: "frames",
    default: 262144,
    ...whole(1, MAX_FRAMES),
    help: "Guest frames.",
    flags: [
      {
        flag: "--memory",
        arg: "SIZE",
        syntax: "size",
        help: "guest memory: 512MiB, 4GiB, 64GiB ...",
        scale: PAGE,
        form: `a positive multiple of the ${PAGE}-byte page up to ${exactSize(MAX_FRAMES * PAGE)}`,
      },
      {
        flag: "--pages",
        arg: "N",
        syntax: "integer",
        help: "guest memory as a frame count (instead of --memory)",
        shown: null,
      },
    ],
  },
  {
    field: "pageSize",
    unit: "bytes",
    default: PAGE,
    ...whole(64, 1 << 30),
    help: "Bytes per frame.",
    flags: [],
  },
  {
    field: "bandwidth",
    unit: "bytes/s",
    default: 128 * 1024 * 1024,
    form: "a rate greater than 0",
    min: Number.MIN_VALUE,
    accepts: (v) => typeof v === "number" && v > 0 && Number.isFinite(v),
    help: "Link rate (QEMU's max-bandwidth).",
    flags: [{
      flag: "--bandwidth",
      arg: "RATE",
      syntax: "rate",
      help: "link rate: 125MB/s, 1Gbit/s, 10Gbit/s ...",
    }],
  },
  {
    field: "pageHeader",
    unit: "bytes",
    default: 8,
    ...whole(0, 1 << 20),
    help: "Wire bytes per page beside its content (QEMU's header).",
    flags: [{
      flag: "--page-header",
      arg: "N",
      syntax: "integer",
      help: "wire bytes per page beside its content",
    }],
  },
  {
    field: "zeroMarker",
    unit: "bytes",
    default: 9,
    ...whole(0, 1 << 20),
    help: "Wire bytes for a zero page (QEMU's 8-byte header + 1 byte); at most a full page.",
    flags: [],
  },
  {
    field: "deviceState",
    unit: "bytes",
    default: 0,
    ...whole(0, MAX_SAFE),
    help: "Device state sent during downtime.",
    flags: [{
      flag: "--device-state",
      arg: "SIZE",
      syntax: "size",
      help: "bytes sent during downtime besides pages",
    }],
  },
  {
    field: "downtimeLimitNs",
    unit: "ns",
    default: 300e6,
    ...atLeast("a duration", 0, " ns"),
    help: "Switchover target (QEMU's downtime-limit).",
    flags: [{
      flag: "--downtime-limit",
      arg: "T",
      syntax: "duration",
      help: "switchover target: 300ms, 1s ... (0 = only when nothing is pending)",
    }],
  },
  {
    field: "maxRounds",
    unit: "rounds",
    default: 30,
    ...whole(1, 1e6),
    help: "Forced switchover after this many rounds (Xen's legacy limit).",
    flags: [{
      flag: "--max-rounds",
      arg: "N",
      syntax: "integer",
      help: "forced switchover after N rounds",
    }],
  },
  {
    field: "minPending",
    unit: "frames",
    default: 0,
    ...whole(0, MAX_FRAMES),
    zeroIsOff: true,
    help: "Xen's rule: pause once fewer than this many frames are pending; 0 = off.",
    flags: [{
      flag: "--min-pending",
      arg: "N",
      syntax: "integer",
      help: "Xen's rule: pause once fewer than N frames are pending",
    }],
  },
  {
    field: "maxTransferFactor",
    unit: "× frames",
    default: 0,
    ...atLeast("a number", 0),
    zeroIsOff: true,
    help: "Forced switchover once sends reach this many times the guest's frames; 0 = off.",
    flags: [{
      flag: "--max-transfer-factor",
      arg: "F",
      syntax: "number",
      help: "forced switchover once sends reach F x guest frames",
    }],
  },
  {
    field: "clear",
    unit: "mode",
    default: "send",
    form: CLEAR_FORM,
    accepts: (v) => !Number.isNaN(clearChunk(v)),
    help: "When a frame's dirty state is reset.",
    flags: [{
      flag: "--clear",
      arg: "MODE",
      syntax: "text",
      help: "when dirty state resets: round, chunk:N, send",
    }],
  },
  {
    field: "iteration",
    unit: "rule",
    default: "drain",
    ...oneOf(["drain", "qemu"], "drain or qemu"),
    help: "What ends a round.",
    flags: [{
      flag: "--iteration",
      arg: "RULE",
      syntax: "text",
      help: "drain (a round sends all it offers) or qemu (re-sync at threshold)",
    }],
  },
  {
    field: "qemuMaxWaitNs",
    unit: "ns",
    default: 50e6,
    ...atLeast("a duration", 0, " ns"),
    help: "iteration=qemu: sending between two checks of the pending bytes (QEMU's MAX_WAIT).",
    flags: [{
      flag: "--qemu-max-wait",
      arg: "T",
      syntax: "duration",
      help: "iteration=qemu: sending between two checks of pending bytes",
    }],
  },
  {
    field: "startNs",
    unit: "ns",
    default: 1e9,
    ...atLeast("a duration", 0, " ns"),
    help: "When migration starts; the guest and the profiler run from 0.",
    flags: [
      {
        flag: "--start",
        arg: "T",
        syntax: "duration",
        help: "how long the guest runs with the profiler on before migration",
      },
      { flag: "--warmup", arg: "T", syntax: "duration", help: "the same", alias: true },
    ],
  },
  {
    field: "pauseResumeNs",
    unit: "ns",
    default: 0,
    ...atLeast("a duration", 0, " ns"),
    help: "Pause and resume overhead added to downtime.",
    flags: [{
      flag: "--pause-resume",
      arg: "T",
      syntax: "duration",
      help: "pause/resume overhead added to downtime",
    }],
  },
  {
    field: "tracker",
    unit: "kind",
    default: DEFAULT_TRACKER,
    ...oneOf(TRACKER_KINDS, `available; available: ${TRACKER_KINDS.join(", ")}`),
    help: "Dirty-tracking mechanism.",
    flags: [{
      flag: "--tracker",
      arg: "KIND",
      syntax: "text",
      help: `dirty tracking: ${TRACKER_KINDS.join(", ")}`,
    }],
  },
  {
    field: "eptLeafFrames",
    unit: "frames",
    default: 1,
    ...oneOf([1, 512], "4KiB or 2MiB (1 or 512 frames)"),
    help: "Frames per EPT leaf: 1 (4 KiB) or 512 (2 MiB).",
    flags: [{
      flag: "--ept-leaf",
      arg: "SIZE",
      syntax: "size",
      help: "EPT leaf size: 4KiB, or 2MiB (one A/D bit for 512 frames)",
      scale: PAGE,
    }],
  },
  {
    field: "flush",
    unit: "switch",
    default: true,
    ...isBoolean,
    help: "Whether clears of A/D bits are followed by INVEPT.",
    flags: [{
      flag: "--no-flush",
      syntax: "switch",
      sets: false,
      help: "ept-ad: clear A/D bits without INVEPT; writes through cached translations then " +
        "go missing, and the verification fails",
    }],
  },
  {
    field: "verify",
    unit: "mode",
    default: "error",
    ...oneOf(["error", "count"], "error or count"),
    help: "`error`: a mismatch at the end is an error; `count`: reported, not thrown.",
    flags: [{
      flag: "--count-missed",
      syntax: "switch",
      sets: "count",
      help: "with --no-flush: report missed writes and mismatched frames instead of failing",
    }],
  },
  {
    field: "autoConverge",
    unit: "switch",
    default: false,
    ...isBoolean,
    help: "QEMU's auto-converge: throttle the vCPUs while dirtying outpaces the link.",
    flags: [{
      flag: "--auto-converge",
      syntax: "switch",
      sets: true,
      help: "QEMU's auto-converge: throttle the vCPUs from 20%, +10% a step, while dirtying " +
        "exceeds half the transfer for two 1s periods",
    }],
  },
  {
    field: "vcpus",
    unit: "vCPUs",
    default: 1,
    ...whole(1, 4096),
    help: "vCPUs of the guest.",
    flags: [{
      flag: "--vcpus",
      arg: "N",
      syntax: "integer",
      help: "guest vCPUs (PML buffers and dirty rings are per vCPU; each drops its translations " +
        "at a flush)",
    }],
  },
  costItem(
    "exitNs",
    "--cost-exit",
    "Guest time of one VM exit round trip.",
    "guest time of a VM exit (a full PML buffer or ring)",
  ),
  costItem(
    "wpFaultNs",
    "--cost-wp-fault",
    "Guest time of one write-protection fault: its exit and its handling.",
    "guest time of a write-protection fault (wp, dirty-ring)",
  ),
  costItem(
    "scanEntryNs",
    "--cost-scan-entry",
    "Host time to read and clear one scanned entry: EPT leaf, bitmap word, buffer or ring " +
      "entry.",
    "host time per entry scanned (EPT leaf, bitmap word, PML or ring entry)",
  ),
  costItem(
    "flushHostNs",
    "--cost-flush-host",
    "Host time of one INVEPT, including the IPIs to vCPUs.",
    "host time of one INVEPT and its IPIs",
  ),
  costItem(
    "flushGuestNs",
    "--cost-flush-guest",
    "Guest time each vCPU loses per flush for the invalidation itself (re-walks apart).",
    "guest time per vCPU per flush, re-walks apart",
  ),
  costItem(
    "walkNs",
    "--cost-walk",
    "Guest time of one translation re-walk: the first access to a frame (an EPT leaf) after " +
      "a flush.",
    "guest time per translation re-walked after a flush (first touch of a frame)",
  ),
  {
    field: "trackerCosts.pmlEntries",
    unit: "entries",
    default: DEFAULT_TRACKER_COSTS.pmlEntries,
    ...whole(1, PML_MAX_ENTRIES),
    help: "pml: entries of each vCPU's log buffer (Intel's: 512).",
    flags: [{
      flag: "--pml-entries",
      arg: "N",
      syntax: "integer",
      help: "pml: entries per vCPU log buffer; a full buffer is an exit",
    }],
  },
  {
    field: "trackerCosts.ringEntries",
    unit: "entries",
    default: DEFAULT_TRACKER_COSTS.ringEntries,
    min: RING_MIN,
    max: RING_MAX,
    whole: true,
    form: `a power of two from ${RING_MIN} to ${RING_MAX}`,
    accepts: (v) =>
      Number.isInteger(v) && (v as number) >= RING_MIN && (v as number) <= RING_MAX &&
      ((v as number) & ((v as number) - 1)) === 0,
    help: "dirty-ring: entries per vCPU ring (KVM's advice: 4096).",
    flags: [{
      flag: "--ring-entries",
      arg: "N",
      syntax: "integer",
      help: "dirty-ring: entries per vCPU ring, a power of two",
    }],
  },
  {
    field: "profileIntervalNs",
    unit: "ns",
    default: 100e6,
    ...atLeast("a duration", 1, " ns"),
    help: "Profiling interval.",
    flags: [{
      flag: "--profile-interval",
      arg: "T",
      syntax: "duration",
      help: "profiling scan interval",
    }],
  },
  {
    field: "historyLength",
    unit: "intervals",
    default: 16,
    ...whole(1, 32),
    help: "Profiling intervals kept per frame.",
    flags: [{
      flag: "--history",
      arg: "N",
      syntax: "integer",
      help: "profiling intervals kept per frame (1-32)",
    }],
  },
  {
    field: "oracleHorizonNs",
    unit: "ns",
    default: 120e9,
    ...atLeast("a duration", 0, " ns"),
    help: "For `rate-oracle`: generators' mean rates span [0, start + this).",
    flags: [],
  },
  {
    field: "seed",
    unit: "seed",
    default: 1,
    ...whole(0, 0xffffffff),
    help: "Seed for generators and randomized policies.",
    flags: [{
      flag: "--seed",
      arg: "N",
      syntax: "integer",
      help: "seed for generators and randomized policies",
    }],
  },
];

/** The name an item goes by in errors: its flag in the item's own unit, else its field. */
function itemName(item: ConfigItem): string {
  const f = item.flags.find((f) => f.scale === undefined) ?? item.flags[0];
  return f?.flag ?? item.field;
}

function configError(name: string, shown: string, form: string): never {
  throw new PrecopyError("config", `${name}: '${shown}' is not ${form}`);
}

function getField(o: object, field: string): unknown {
  const dot = field.indexOf(".");
  const r = o as Record<string, unknown>;
  if (dot < 0) return r[field];
  const inner = r[field.slice(0, dot)] as Record<string, unknown> | undefined;
  return inner?.[field.slice(dot + 1)];
}

function setField(o: Record<string, unknown>, field: string, v: ConfigValue): void {
  const dot = field.indexOf(".");
  if (dot < 0) o[field] = v;
  else ((o[field.slice(0, dot)] ??= {}) as Record<string, unknown>)[field.slice(dot + 1)] = v;
}

/** Defaults of {@link MigrationConfig} (1 GiB guest), from {@link CONFIG_ITEMS}. */
export const DEFAULT_CONFIG: Readonly<MigrationConfig> = (() => {
  const d: Record<string, unknown> = {};
  for (const item of CONFIG_ITEMS) {
    // the tracker's costs are the tracker's defaults, as one frozen object
    if (item.field.startsWith("trackerCosts.")) d.trackerCosts = DEFAULT_TRACKER_COSTS;
    else d[item.field] = item.default;
  }
  return Object.freeze(d as unknown as MigrationConfig);
})();

/**
 * Parses a clear mode: `round`, `send`, `chunk` (QEMU's 2^18 frames) or `chunk:N`.
 *
 * @param text the mode
 * @returns the mode and, for `chunk`, the chunk size in frames (0 otherwise)
 * @throws {PrecopyError} for anything else
 *
 * @example Usage
 * ```ts
 * import { parseClear } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseClear("chunk:64"), { mode: "chunk", chunk: 64 });
 * assert.deepEqual(parseClear("round"), { mode: "round", chunk: 0 });
 * ```
 */
export function parseClear(text: string): { mode: "round" | "send" | "chunk"; chunk: number } {
  const chunk = clearChunk(text);
  if (Number.isNaN(chunk)) return configError("--clear", text, CLEAR_FORM);
  return { mode: chunk === 0 ? text as "round" | "send" : "chunk", chunk };
}

/**
 * Fills in defaults and rejects impossible configurations, with the checks and the words
 * of the command line: an error names the item's flag (its field when it has none).
 *
 * @param c overrides
 * @returns the full configuration
 * @throws {PrecopyError} naming the offending item
 *
 * @example Usage
 * ```ts
 * import { resolveConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.equal(resolveConfig({ pages: 16 }).maxRounds, 30);
 * assert.throws(() => resolveConfig({ bandwidth: 0 }), /--bandwidth: '0' is not a rate/);
 * ```
 */
export function resolveConfig(c: ConfigInput = {}): MigrationConfig {
  const { vcpus: legacyVcpus, ...costs } = c.trackerCosts ?? {};
  const cfg: MigrationConfig = {
    ...DEFAULT_CONFIG,
    ...c,
    trackerCosts: { ...DEFAULT_TRACKER_COSTS, ...costs },
  };
  if (legacyVcpus !== undefined) { // deprecated spelling of `vcpus`
    if (c.vcpus !== undefined && c.vcpus !== legacyVcpus) {
      throw new PrecopyError(
        "config",
        `--vcpus: 'trackerCosts.vcpus' (${legacyVcpus}, deprecated) and 'vcpus' (${c.vcpus}) differ`,
      );
    }
    cfg.vcpus = legacyVcpus;
  }
  for (const k of Object.keys(c)) {
    if (!(k in DEFAULT_CONFIG)) {
      throw new PrecopyError(
        "config",
        `'${k}' is not a config item (known: ${Object.keys(DEFAULT_CONFIG).join(", ")})`,
      );
    }
  }
  for (const k of Object.keys(cfg.trackerCosts)) {
    if (!(k in DEFAULT_TRACKER_COSTS)) {
      throw new PrecopyError(
        "config",
        `'trackerCosts.${k}' is not a config item (known: ${
          Object.keys(DEFAULT_TRACKER_COSTS).join(", ")
        })`,
      );
    }
  }
  for (const item of CONFIG_ITEMS) {
    const v = getField(cfg, item.field);
    if (!item.accepts(v)) configError(itemName(item), String(v), item.form);
  }
  if (cfg.zeroMarker > cfg.pageSize + cfg.pageHeader) {
    configError("zeroMarker", String(cfg.zeroMarker), "at most a full page on the wire");
  }
  return cfg;
}

/** What parsed command-line values look like (`node:util` parseArgs). */
export type FlagValues = Record<string, string | boolean | string[] | undefined>;

/** Reads a flag's text in its syntax. */
function readFlag(f: ConfigFlag, text: string): number {
  switch (f.syntax) {
    case "integer":
    case "number":
      return parseCount(text, f.flag);
    case "size":
      return parseSize(text, f.flag);
    case "rate":
      return parseBandwidth(text, f.flag);
    case "duration": // a bare 0 needs no unit
      return text === "0" ? 0 : parseDuration(text, f.flag, !f.fractional);
    default:
      throw new Error(`internal: ${f.flag} is not read as a number`);
  }
}

/** For a size in decimal units that is not a whole number of pages: what was probably meant. */
function decimalHint(f: ConfigFlag, text: unknown, value: ConfigValue): string {
  if (f.syntax !== "size" || f.scale === undefined || typeof text !== "string") return "";
  if (typeof value !== "number" || Number.isInteger(value)) return "";
  const m = /^\s*([0-9.eE+-]+)\s*([kKMGT])B\s*$/.exec(text);
  if (!m) return "";
  const power = { k: 3, K: 3, M: 6, G: 9, T: 12 }[m[2]]!;
  const bin = `${m[1]}${m[2].toUpperCase().replace("K", "Ki").replace(/^([MGT])$/, "$1i")}B`;
  return ` (${m[1]}${m[2]}B = ${
    m[1] === "1" ? "" : `${m[1]} × `
  }10^${power} bytes; did you mean ${bin}?)`;
}

/**
 * Turns command-line flags into configuration overrides, checked as {@link resolveConfig}
 * checks them (the error shows the text given). Used by `sim`, `analyze` and the bench;
 * values of other flags are ignored.
 *
 * @param v parsed flag values, keyed by flag name without the dashes
 * @returns the overrides
 * @throws {PrecopyError} naming the flag and the accepted form
 *
 * @example Usage
 * ```ts
 * import { configFromFlags } from "./config.ts";
 * import assert from "node:assert/strict";
 * const c = configFromFlags({ memory: "64MiB", bandwidth: "1Gbit/s" });
 * assert.equal(c.pages, 16384);
 * assert.equal(c.bandwidth, 125_000_000);
 * assert.throws(() => configFromFlags({ "ring-entries": "1000" }), /--ring-entries: '1000'/);
 * ```
 */
export function configFromFlags(v: FlagValues): ConfigInput {
  const c: Record<string, unknown> = {};
  for (const item of CONFIG_ITEMS) {
    let given: ConfigFlag | null = null;
    for (const f of item.flags) {
      const x = v[f.flag.slice(2)];
      if (f.syntax === "switch" ? x !== true : typeof x !== "string") continue;
      if (given !== null) {
        throw new PrecopyError("config", `${given.flag} and ${f.flag} both given; use one`);
      }
      given = f;
    }
    if (given === null) continue;
    const text = v[given.flag.slice(2)];
    let value: ConfigValue;
    if (given.syntax === "switch") value = given.sets!;
    else if (given.syntax === "text") value = text as string;
    else {
      const n = readFlag(given, text as string);
      value = given.scale === undefined ? n : n / given.scale;
    }
    if (!item.accepts(value)) {
      configError(
        given.flag,
        String(text),
        (given.form ?? item.form) + decimalHint(given, text, value),
      );
    }
    setField(c, item.field, value);
  }
  return c as ConfigInput;
}

/**
 * The `node:util` parseArgs options of every configuration flag.
 *
 * @returns options keyed by flag name without the dashes
 *
 * @example Usage
 * ```ts
 * import { configOptions } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(configOptions()["no-flush"], { type: "boolean" });
 * assert.deepEqual(configOptions()["max-rounds"], { type: "string" });
 * ```
 */
export function configOptions(): Record<string, { type: "string" | "boolean" }> {
  const o: Record<string, { type: "string" | "boolean" }> = {};
  for (const item of CONFIG_ITEMS) {
    for (const f of item.flags) {
      o[f.flag.slice(2)] = { type: f.syntax === "switch" ? "boolean" : "string" };
    }
  }
  return o;
}

/** A row of flag help: the flag(s) with argument, what it does, its default, what it sets. */
export interface FlagRow {
  /** The flag and its argument, aliases joined: `--start T, --warmup T`. */
  flags: string;
  /** What it does. */
  help: string;
  /** Its default as shown (none when it has none worth showing). */
  default?: string;
  /** The configuration field it sets (none for flags outside the configuration). */
  field?: string;
  /** What it accepts. */
  accepts?: string;
}

function exactSize(bytes: number): string {
  for (const [u, m] of [["TiB", 2 ** 40], ["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 1024]]) {
    if (bytes >= (m as number) && bytes % (m as number) === 0) {
      return `${bytes / (m as number)}${u}`;
    }
  }
  return String(bytes);
}

function exactDuration(ns: number): string {
  if (ns === 0) return "0s";
  for (const [u, m] of [["s", 1e9], ["ms", 1e6], ["us", 1e3]] as const) {
    if (ns % m === 0) return `${ns / m}${u}`;
  }
  return `${ns}ns`;
}

/** A flag's default in the flag's own unit. */
function shownDefault(item: ConfigItem, f: ConfigFlag): string | undefined {
  if (f.shown !== undefined) return f.shown ?? undefined;
  if (f.syntax === "switch") return undefined;
  const d = item.default;
  if (item.zeroIsOff && d === 0) return "off";
  if (typeof d !== "number") return String(d);
  const n = d * (f.scale ?? 1);
  if (f.syntax === "size") return n === 0 ? "0" : exactSize(n);
  if (f.syntax === "rate") return `${exactSize(n)}/s`;
  if (f.syntax === "duration") return exactDuration(n);
  return String(n);
}

/**
 * The configuration flags as rows of help, in table order, aliases joined to their flag.
 *
 * @returns one row per flag (aliases included in the row before)
 *
 * @example Usage
 * ```ts
 * import { configFlagRows } from "./config.ts";
 * import assert from "node:assert/strict";
 * const start = configFlagRows().find((r) => r.flags.startsWith("--start"))!;
 * assert.equal(start.flags, "--start T, --warmup T");
 * assert.equal(start.default, "1s");
 * ```
 */
export function configFlagRows(): FlagRow[] {
  const rows: FlagRow[] = [];
  for (const item of CONFIG_ITEMS) {
    for (const f of item.flags) {
      const spelled = f.arg ? `${f.flag} ${f.arg}` : f.flag;
      if (f.alias) {
        rows[rows.length - 1].flags += `, ${spelled}`;
        continue;
      }
      rows.push({
        flags: spelled,
        help: f.help,
        default: shownDefault(item, f),
        field: item.field,
        accepts: f.syntax === "switch"
          ? undefined
          : f.syntax === "text" && item.values
          ? item.values.join(", ")
          : f.form ?? item.form,
      });
    }
  }
  return rows;
}

/**
 * Formats rows of flag help for a terminal: flags in a 24-column margin, the help wrapped
 * beside them, the default in brackets at the right edge.
 *
 * @param rows the rows
 * @param width the right edge (default 93)
 * @returns the lines, each ending in a newline
 *
 * @example Usage
 * ```ts
 * import { flagHelp } from "./config.ts";
 * import assert from "node:assert/strict";
 * const t = flagHelp([{ flags: "--seed N", help: "the seed", default: "1" }], 40);
 * assert.equal(t, "  --seed N" + " ".repeat(16) + "the seed" + "   [1]\n");
 * ```
 */
export function flagHelp(rows: readonly FlagRow[], width = 93): string {
  const indent = 26;
  let out = "";
  for (const r of rows) {
    const head = `  ${r.flags}`;
    const lines: string[] = [];
    let line = head.length >= indent ? `${head} ` : head.padEnd(indent);
    let fresh = true;
    for (const word of r.help.split(" ")) {
      if (!fresh && line.length + 1 + word.length > width) {
        lines.push(line);
        line = " ".repeat(indent) + word;
      } else line += (fresh ? "" : " ") + word;
      fresh = false;
    }
    if (r.default !== undefined) {
      const tag = `[${r.default}]`;
      if (line.length + 2 + tag.length <= width) line += tag.padStart(width - line.length);
      else {
        lines.push(line);
        line = tag.padStart(width);
      }
    }
    lines.push(line);
    out += lines.map((l) => l + "\n").join("");
  }
  return out;
}

/**
 * Formats rows of flag help as a Markdown table (for the manual).
 *
 * @param rows the rows
 * @returns the table, one line per row after the header, each ending in a newline
 *
 * @example Usage
 * ```ts
 * import { flagTable } from "./config.ts";
 * import assert from "node:assert/strict";
 * const t = flagTable([{ flags: "--seed N", help: "the seed", default: "1", field: "seed" }]);
 * assert.match(t, /^\| Flag \|/);
 * assert.match(t, /\| `--seed N` \| `seed` \|/);
 * ```
 */
export function flagTable(rows: readonly FlagRow[]): string {
  const cell = (s: string | undefined) => (s ?? "").replaceAll("|", "\\|");
  const code = (s: string | undefined) => (s ? `\`${s}\`` : "");
  let out = "| Flag | Config field | Accepts | Default | What it does |\n" +
    "| --- | --- | --- | --- | --- |\n";
  for (const r of rows) {
    const flags = r.flags.split(", ").map(code).join(", ");
    out += `| ${cell(flags)} | ${code(r.field)} | ${cell(r.accepts)} | ${cell(r.default)} | ${
      cell(r.help)
    } |\n`;
  }
  return out;
}

/**
 * The configuration items without a flag (library callers only), as a Markdown table.
 *
 * @returns the table
 *
 * @example Usage
 * ```ts
 * import { libraryOnlyTable } from "./config.ts";
 * import assert from "node:assert/strict";
 * assert.match(libraryOnlyTable(), /`zeroMarker`/);
 * ```
 */
export function libraryOnlyTable(): string {
  let out = "| Config field | Unit | Accepts | Default | What it is |\n" +
    "| --- | --- | --- | --- | --- |\n";
  for (const item of CONFIG_ITEMS) {
    if (item.flags.length > 0) continue;
    out += `| \`${item.field}\` | ${item.unit} | ${item.form} | ${item.default} | ${item.help} |\n`;
  }
  return out;
}
