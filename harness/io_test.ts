import assert from "node:assert/strict";
import { ioError, sameFile, withAtomicFile, writeFileAtomic } from "./io.ts";
import { reportError } from "./cli/kit.ts";
import { runTrace } from "./cli/trace.ts";
import { PrecopyError } from "./errors.ts";

function capture() {
  const io = {
    text: "",
    out: (_: string) => {},
    err: (t: string) => {
      io.text += t;
    },
    interactive: false,
  };
  return io;
}

Deno.test("an atomic write that fails leaves the old file and no temporary file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    writeFileAtomic(`${dir}/r.json`, "old\n");
    assert.throws(
      () =>
        withAtomicFile(`${dir}/r.json`, (tmp) => {
          Deno.writeTextFileSync(tmp, "half");
          throw Object.assign(new Error("No space left on device (os error 28)"), {
            code: "ENOSPC",
          });
        }),
      (e: Error) =>
        e instanceof PrecopyError && e.message === `${dir}/r.json: no space left on device`,
    );
    assert.equal(Deno.readTextFileSync(`${dir}/r.json`), "old\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["r.json"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("I/O failures are one line naming the path, exit 2, never 'a bug'", () => {
  const cases: [unknown, RegExp][] = [
    [
      Object.assign(
        new Deno.errors.NotFound("No such file or directory (os error 2): open '/a/b'"),
      ),
      /^error: \/a\/b: no such file or directory\n$/,
    ],
    [
      new Deno.errors.PermissionDenied("Permission denied (os error 13): open '/p'"),
      /^error: \/p: permission denied\n$/,
    ],
    [
      new Deno.errors.IsADirectory("Is a directory (os error 21): open '/d'"),
      /^error: \/d: is a directory\n$/,
    ],
    [new Deno.errors.BrokenPipe("Broken pipe (os error 32)"), /^error: broken pipe/],
    [
      Object.assign(new Error("No space left on device (os error 28)"), { code: "ENOSPC" }),
      /^error: no space left/,
    ],
    [
      ioError("stdout", new Deno.errors.BrokenPipe("Broken pipe (os error 32)")),
      /^error: stdout: broken pipe/,
    ],
  ];
  for (const [e, want] of cases) {
    const io = capture();
    assert.equal(reportError(e, io), 2);
    assert.match(io.text, want);
    assert.equal(io.text.split("\n").length, 2, io.text);
  }
  const io = capture();
  assert.equal(reportError(new TypeError("x is undefined"), io), 1);
  assert.match(io.text, /internal error/);
});

Deno.test("trace export refuses to write over its input, by any spelling", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const csv = `${dir}/t.csv`;
    Deno.writeTextFileSync(csv, "t_ns,frame,op\n0,1,w\n5,2,w\n");
    Deno.symlinkSync("t.csv", `${dir}/link.jsonl`);
    for (
      const out of [
        csv,
        `${dir}/./t.csv`,
        `${dir}/../${dir.split("/").pop()}/t.csv`,
        `${dir}/link.jsonl`,
      ]
    ) {
      const io = capture();
      assert.equal(await runTrace(["export", csv, out], io), 2);
      assert.match(io.text, /^error: trace export: '.*' is the input file itself/);
    }
    assert.equal(Deno.readTextFileSync(csv), "t_ns,frame,op\n0,1,w\n5,2,w\n");
    assert.ok(sameFile(csv, `${dir}/link.jsonl`));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("trace import/export: a bad output path is one line naming it; a failed run keeps the old file", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const csv = `${dir}/t.csv`;
    Deno.writeTextFileSync(csv, "t_ns,frame,op\n0,1,w\n5,2,w\n");
    const cases: [string[], RegExp][] = [
      [
        ["export", csv, `${dir}/missing/x.jsonl`],
        /^error: .*missing\/x\.jsonl: the directory '.*missing' does not exist\n$/,
      ],
      [["export", csv, dir + "/sub.jsonl"], /^error: .*sub\.jsonl: is a directory\n$/],
      [
        ["import", csv, `${csv}/x.pctrace`],
        /^error: .*x\.pctrace: '.*t\.csv' is not a directory\n$/,
      ],
      [["export", `${dir}/none.csv`, `${dir}/o.jsonl`], /^error: .*none\.csv/],
    ];
    Deno.mkdirSync(`${dir}/sub.jsonl`);
    for (const [args, want] of cases) {
      const io = capture();
      assert.equal(await runTrace(args, io), 2, io.text);
      assert.match(io.text, want);
    }
    // A bad input half-way: the old output stays as it was, and nothing else is left.
    Deno.writeTextFileSync(`${dir}/o.jsonl`, "old\n");
    Deno.writeTextFileSync(`${dir}/bad.csv`, "t_ns,frame,op\n0,1,w\n5,2,x\n");
    const io = capture();
    assert.equal(await runTrace(["export", `${dir}/bad.csv`, `${dir}/o.jsonl`], io), 2);
    assert.equal(Deno.readTextFileSync(`${dir}/o.jsonl`), "old\n");
    assert.ok(![...Deno.readDirSync(dir)].some((e) => e.name.startsWith(".tmp-")));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
