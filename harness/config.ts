/**
 * The migration configuration: its items, their defaults and their validation. Library
 * callers ({@link resolveConfig}) and the command line get the same checks.
 *
 * @module
 */

import { PrecopyError } from "./errors.ts";
import { DEFAULT_TRACKER_COSTS, type TrackerCosts } from "./trackers/tracker.ts";

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
  trackerCosts?: Partial<TrackerCosts>;
};

/** Defaults of {@link MigrationConfig} (1 GiB guest). */
export const DEFAULT_CONFIG: Readonly<MigrationConfig> = Object.freeze({
  pages: 262144,
  pageSize: 4096,
  bandwidth: 128 * 1024 * 1024,
  pageHeader: 8,
  zeroMarker: 9,
  deviceState: 0,
  downtimeLimitNs: 300e6,
  maxRounds: 30,
  minPending: 0,
  maxTransferFactor: 0,
  clear: "send",
  iteration: "drain",
  qemuMaxWaitNs: 50e6,
  startNs: 1e9,
  pauseResumeNs: 0,
  tracker: "ept-ad",
  eptLeafFrames: 1,
  flush: true,
  verify: "error",
  autoConverge: false,
  trackerCosts: DEFAULT_TRACKER_COSTS,
  profileIntervalNs: 100e6,
  historyLength: 16,
  oracleHorizonNs: 120e9,
  seed: 1,
});

function cfgErr(msg: string): never {
  throw new PrecopyError("config", msg);
}

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
  if (text === "round" || text === "send") return { mode: text, chunk: 0 };
  const m = /^chunk(?::(\d+))?$/.exec(text);
  if (m) {
    const chunk = m[1] === undefined ? 1 << 18 : Number(m[1]);
    if (chunk >= 1 && Number.isSafeInteger(chunk)) return { mode: "chunk", chunk };
  }
  return cfgErr(`--clear: '${text}' is not round, send, chunk or chunk:N (N ≥ 1 frames)`);
}

/**
 * Fills in defaults and rejects impossible configurations.
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
 * assert.throws(() => resolveConfig({ bandwidth: 0 }), /bandwidth/);
 * ```
 */
export function resolveConfig(c: ConfigInput = {}): MigrationConfig {
  const cfg: MigrationConfig = {
    ...DEFAULT_CONFIG,
    ...c,
    trackerCosts: { ...DEFAULT_TRACKER_COSTS, ...c.trackerCosts },
  };
  const int = (v: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (!Number.isInteger(v) || v < min || v > max) {
      cfgErr(`${name}: ${v} is not a whole number from ${min} to ${max}`);
    }
  };
  const nonNeg = (v: number, name: string) => {
    if (!(v >= 0) || !Number.isFinite(v)) cfgErr(`${name}: ${v} must be a finite number ≥ 0`);
  };
  int(cfg.pages, "pages (--memory / --pages)", 1, 1 << 28);
  int(cfg.pageSize, "pageSize", 64, 1 << 30);
  if (!(cfg.bandwidth > 0) || !Number.isFinite(cfg.bandwidth)) {
    cfgErr(`--bandwidth: ${cfg.bandwidth} must be greater than 0`);
  }
  int(cfg.pageHeader, "--page-header", 0);
  int(cfg.zeroMarker, "zeroMarker", 0);
  if (cfg.zeroMarker > cfg.pageSize + cfg.pageHeader) {
    cfgErr(`zeroMarker: ${cfg.zeroMarker} bytes is more than a full page on the wire`);
  }
  int(cfg.deviceState, "--device-state", 0);
  nonNeg(cfg.downtimeLimitNs, "--downtime-limit");
  int(cfg.maxRounds, "--max-rounds", 1, 1e6);
  int(cfg.minPending, "--min-pending", 0);
  nonNeg(cfg.maxTransferFactor, "--max-transfer-factor");
  parseClear(cfg.clear);
  if (cfg.iteration !== "drain" && cfg.iteration !== "qemu") {
    cfgErr(`--iteration: '${cfg.iteration}' is not drain or qemu`);
  }
  nonNeg(cfg.qemuMaxWaitNs, "--qemu-max-wait");
  if (cfg.eptLeafFrames !== 1 && cfg.eptLeafFrames !== 512) {
    cfgErr(`--ept-leaf: ${cfg.eptLeafFrames} frames is not 4KiB (1) or 2MiB (512)`);
  }
  if (typeof cfg.flush !== "boolean") cfgErr("flush must be true or false");
  if (cfg.verify !== "error" && cfg.verify !== "count") cfgErr("verify must be error or count");
  nonNeg(cfg.startNs, "--start");
  nonNeg(cfg.pauseResumeNs, "--pause-resume");
  if (!(cfg.profileIntervalNs >= 1)) cfgErr("--profile-interval: must be at least 1ns");
  int(cfg.historyLength, "--history", 1, 32);
  nonNeg(cfg.oracleHorizonNs, "oracleHorizonNs");
  int(cfg.seed, "--seed", 0, 0xffffffff);
  for (const [k, v] of Object.entries(cfg.trackerCosts)) nonNeg(v, `trackerCosts.${k}`);
  int(cfg.trackerCosts.vcpus, "--vcpus", 1, 4096);
  int(cfg.trackerCosts.ringEntries, "--ring-entries", 128, 1 << 24);
  return cfg;
}
