// The tracker conformance suite, run for every tracker in the registry: a new tracker is
// covered by its registry line, with no test written. Below, the suite itself is tested:
// a tracker registered by a test alone is covered the same way, and broken trackers fail.
import assert from "node:assert/strict";
import { GuestMemory } from "../memory.ts";
import { BaseTracker, type DirtyTracker, type TrackerEntry } from "./base.ts";
import { trackerConformanceChecks } from "./conformance.ts";
import { eptAd } from "./ept_ad.ts";
import { pml } from "./pml.ts";
import { createTracker, TRACKERS } from "./tracker.ts";
import { WpTracker } from "./wp.ts";

/** Registers one Deno test per tracker of `registry`, one step per check. */
function conformanceTests(registry: Readonly<Record<string, TrackerEntry>>, label = "") {
  for (const kind of Object.keys(registry)) {
    Deno.test(`tracker conformance${label}: ${kind}`, async (t) => {
      for (const check of trackerConformanceChecks(kind, registry)) {
        await t.step({
          name: check.skip ? `${check.name} (skipped: ${check.skip})` : check.name,
          ignore: check.skip !== undefined,
          fn: () => check.run(),
        });
      }
    });
  }
}

conformanceTests(TRACKERS);

// A fifth tracker that exists only here: it sees every access at no cost (no hardware
// does). Adding it to a registry is all it takes for the suite to cover it.
class Omniscient extends BaseTracker {
  readonly kind = "omniscient";
  readonly perFrame = true;
  onAccess(p: number, write: boolean): void {
    this.seen(p, write);
  }
  protected syncCost(): number {
    return 0;
  }
  protected rearm(): void {} // every write is recorded at the access: nothing to re-arm
  protected profileScan(): void {}
}
const omniscient: TrackerEntry = {
  description: "every access seen for free (a test's toy)",
  seesReads: true,
  granule: () => 1,
  validate: () => {},
  create: (m, c, o) => new Omniscient(m, c, o),
  skips: { stats: "a toy: its costs are not the ones the stats identity describes" },
};
conformanceTests({ omniscient }, " (a tracker only a test registers)");

Deno.test("the suite enumerates a registry: a tracker registered by a test alone gets every check", () => {
  const checks = trackerConformanceChecks("omniscient", { ...TRACKERS, omniscient });
  const ids = new Set(checks.filter((c) => !c.skip).map((c) => c.id));
  assert.deepEqual([...ids].sort(), ["entry", "perFrame", "profile", "rearm", "sync"]);
  assert.ok(checks.some((c) => c.id === "stats" && /a toy/.test(c.skip ?? "")));
  // ... and createTracker builds it from that registry, not from TRACKERS
  const t = createTracker("omniscient", new GuestMemory(4, null), undefined, undefined, {
    omniscient,
  });
  assert.equal(t.kind, "omniscient");
  assert.throws(() => createTracker("omniscient", new GuestMemory(4, null)), /not available/);
});

// Broken trackers: each must fail at least one check. (What the suite is for.)

/** Wraps a tracker, replacing some of its methods; everything else is forwarded. */
function wrap(t: DirtyTracker, over: Partial<DirtyTracker>): DirtyTracker {
  return {
    get kind() {
      return t.kind;
    },
    get stats() {
      return t.stats;
    },
    get stallNs() {
      return t.stallNs;
    },
    perFrame: t.perFrame,
    onAccess: (p, w, v) => t.onAccess(p, w, v),
    sync: () => t.sync(),
    clearAll: () => t.clearAll(),
    clear: (p) => t.clear(p),
    flush: () => t.flush(),
    profile: () => t.profile(),
    ...over,
  };
}

/** A broken variant of `base`, registered under the base's kind. */
function broken(base: TrackerEntry, make: (t: DirtyTracker) => DirtyTracker): TrackerEntry {
  return { ...base, create: (m, c, o) => make(base.create(m, c, o)) };
}

class NoRearmWp extends WpTracker {
  protected override rearm(): void {} // a clear forgets to re-protect
}

const mutants: [string, string, TrackerEntry][] = [
  [
    "ept-ad",
    "a sync drops its last frame",
    broken(eptAd, (t) =>
      wrap(t, {
        sync: () => {
          const r = t.sync();
          return { ...r, newly: r.newly.subarray(0, Math.max(0, r.newly.length - 1)) };
        },
      })),
  ],
  ["wp", "a clear does not re-protect", {
    ...TRACKERS["wp"],
    create: (m, c, o) => new NoRearmWp(m, c, o),
  }],
  ["ept-ad", "a clear is lost", broken(eptAd, (t) => wrap(t, { clear: () => {} }))],
  ["pml", "2 MiB leaves without saying so", { ...pml, granule: () => 1 }],
  [
    "pml",
    "perFrame claimed, but buffer-full exits stall the guest",
    broken(pml, (t) => wrap(t, { perFrame: true })),
  ],
  [
    "ept-ad",
    "profiling forgets the first written frame",
    broken(eptAd, (t) =>
      wrap(t, {
        profile: () => {
          const r = t.profile();
          return { written: r.written.subarray(1), accessed: r.accessed };
        },
      })),
  ],
  [
    "wp",
    "statistics run backwards",
    broken(TRACKERS["wp"], (t) => {
      let syncs = 0;
      return wrap(t, {
        sync: () => (syncs++, t.sync()),
        get stats() {
          const s = t.stats;
          return syncs % 2 ? { ...s, hostCpuNs: 0 } : s;
        },
      });
    }),
  ],
];

for (const [kind, what, entry] of mutants) {
  Deno.test(`the suite catches a broken ${kind}: ${what}`, () => {
    const failed: string[] = [];
    for (
      const check of trackerConformanceChecks(kind, { [kind]: entry }, {
        numRuns: 40,
        endOnFailure: true,
      })
    ) {
      if (check.skip) continue;
      try {
        check.run();
      } catch (e) {
        failed.push(`${check.name}: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    assert.ok(failed.length > 0, `no check failed for '${what}'`);
  });
}
