// The manual stays whole and inside the repository: every relative link in a Markdown file
// leads to a file (and heading) that exists, no file of the repository points outside it, and
// every page of docs/ can be reached from docs/README.md.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const SELF = new URL(import.meta.url).pathname;
/** Folders that are not part of the repository's content. */
// Folders git ignores (outputs such as bench/results/ and ci-artifacts/) are not the
// repository's; .gitignore is the one list of them.
const SKIP_DIRS = new Set([
  ".git",
  ...Deno.readTextFileSync(new URL("../.gitignore", import.meta.url)).split("\n")
    .map((l) => l.trim()).filter((l) => l.endsWith("/") && !l.startsWith("#"))
    .map((l) => l.replace(/^\/|\/$/g, "")),
]);
/** Files read as text for mentions of paths. */
const TEXT = /\.(md|ts|js|json|c|sh|txt)$|^\.ci\/run$/;

/** Repository files, as paths relative to the root with "/" separators. */
function listFiles(dir = "", out: string[] = []): string[] {
  for (const e of Deno.readDirSync(new URL(dir || ".", ROOT))) {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (SKIP_DIRS.has(rel)) continue;
    if (e.isDirectory) listFiles(rel, out);
    else if (e.isFile) out.push(rel);
  }
  return out;
}

const files = listFiles().sort();
const fileSet = new Set(files);
const basenames = new Set(files.map((f) => f.slice(f.lastIndexOf("/") + 1)));
const read = (rel: string) => Deno.readTextFileSync(new URL(rel, ROOT));

/** Resolves `target` (already without its fragment) against the folder of `from`. */
function resolve(from: string, target: string): string | null {
  const parts = from.split("/").slice(0, -1);
  for (const seg of target.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (parts.length === 0) return null; // above the repository's root
      parts.pop();
    } else parts.push(seg);
  }
  return parts.join("/");
}

const isDir = (rel: string) => rel === "" || files.some((f) => f.startsWith(`${rel}/`));

/** Markdown text without fenced code blocks and inline code, where links are not links. */
function prose(md: string): string {
  return md
    .replace(/^( {0,3})(`{3,}|~{3,})[^\n]*\n[\s\S]*?\n {0,3}\2[`~]*[ \t]*(?=\n|$)/gm, "")
    .replace(/`+[^`\n]*`+/g, "");
}

/** Link targets of a Markdown text: inline links, images and reference definitions. */
function links(md: string): string[] {
  const text = prose(md);
  const out: string[] = [];
  for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
    out.push(m[1]);
  }
  for (const m of text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)) out.push(m[1]);
  return out;
}

/** GitHub's heading anchors of a Markdown text. */
function anchors(md: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const text = md.replace(
    /^( {0,3})(`{3,}|~{3,})[^\n]*\n[\s\S]*?\n {0,3}\2[`~]*[ \t]*(?=\n|$)/gm,
    "",
  );
  for (const m of text.matchAll(/^ {0,3}#{1,6}[ \t]+(.*?)[ \t#]*$/gm)) {
    const slug = m[1]
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link's text only
      .replace(/<[^>]+>/g, "")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, "")
      .replace(/ /g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

const markdown = files.filter((f) => f.endsWith(".md"));

Deno.test("Markdown links lead to files and headings inside the repository", () => {
  const problems: string[] = [];
  for (const file of markdown) {
    const md = read(file);
    for (const raw of links(md)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(raw)) continue; // https:, mailto: …
      const hash = raw.indexOf("#");
      const path = decodeURI(hash < 0 ? raw : raw.slice(0, hash));
      const frag = hash < 0 ? "" : decodeURIComponent(raw.slice(hash + 1));
      if (path.startsWith("/")) {
        problems.push(`${file}: link '${raw}' is an absolute path; link relative to the file`);
        continue;
      }
      const target = path === "" ? file : resolve(file, path);
      if (target === null) {
        problems.push(`${file}: link '${raw}' leads outside the repository`);
        continue;
      }
      if (!fileSet.has(target) && !isDir(target)) {
        problems.push(`${file}: link '${raw}': ${target} does not exist`);
        continue;
      }
      if (frag !== "" && target.endsWith(".md") && fileSet.has(target)) {
        if (!anchors(read(target)).has(frag)) {
          problems.push(`${file}: link '${raw}': ${target} has no heading '#${frag}'`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("no file of the repository refers to a path outside it", () => {
  const problems: string[] = [];
  for (const file of files) {
    if (!TEXT.test(file) || new URL(file, ROOT).pathname === SELF) continue;
    const lines = read(file).split("\n");
    lines.forEach((line, i) => {
      const at = `${file}:${i + 1}`;
      if (/(^|[^\w.])\/work\//.test(line)) problems.push(`${at}: an absolute path of this machine`);
      if (/(\.\.\/)+shared\b|\bshared\/(DESIGN|ARCHITECTURE|reference)/.test(line)) {
        problems.push(`${at}: a path outside the repository`);
      }
      // A Markdown file named anywhere (comment, text, string) must be one of ours.
      for (const m of line.matchAll(/(?<![\w.\/-])((?:\.{1,2}\/)*[\w-]+(?:\/[\w.-]+)*\.md)\b/g)) {
        const name = m[1];
        const base = name.slice(name.lastIndexOf("/") + 1);
        const rel = name.includes("/") ? resolve(file, name) : null;
        const known = (rel !== null && fileSet.has(rel)) || fileSet.has(name) ||
          (!name.includes("/") && basenames.has(base));
        if (!known) problems.push(`${at}: names '${name}', which is not in the repository`);
      }
    });
  }
  assert.deepEqual(problems, []);
});

Deno.test("every page of docs/ is reachable from docs/README.md", () => {
  const pages = markdown.filter((f) => f.startsWith("docs/"));
  const reached = new Set<string>(["docs/README.md"]);
  const queue = ["docs/README.md"];
  while (queue.length > 0) {
    const page = queue.shift()!;
    for (const raw of links(read(page))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(raw)) continue;
      const path = raw.split("#")[0];
      if (path === "") continue;
      const target = resolve(page, decodeURI(path));
      if (target === null || !target.startsWith("docs/") || !fileSet.has(target)) continue;
      if (!reached.has(target)) {
        reached.add(target);
        if (target.endsWith(".md")) queue.push(target);
      }
    }
  }
  assert.deepEqual(pages.filter((p) => !reached.has(p)), []);
});

Deno.test("the README's layout table names every folder, and only paths that exist", () => {
  const readme = read("README.md");
  const table = readme.slice(readme.indexOf("## Layout"));
  const named = [...table.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]);
  const folders = new Set<string>();
  for (const f of files) {
    const parts = f.split("/");
    // top-level folders, and the rooms of harness/
    if (parts.length > 1) folders.add(`${parts[0]}/`);
    if (parts[0] === "harness" && parts.length > 2) folders.add(`harness/${parts[1]}/`);
  }
  folders.delete(".git/");
  assert.deepEqual(
    [...folders].filter((d) => !named.some((n) => n.startsWith(d))),
    [],
    "folders missing from README",
  );
  const missing = named.filter((n) =>
    n.includes("*")
      ? !files.some((f) => new RegExp(`^${n.replace(/\./g, "\\.").replace("*", "[^/]+")}$`).test(f))
      : n.endsWith("/")
      ? !isDir(n.slice(0, -1))
      : !fileSet.has(n)
  );
  assert.deepEqual(missing, [], "README layout names paths that do not exist");
});

Deno.test("the link checker itself: anchors, resolution and code blocks", () => {
  assert.ok(anchors("# The EPT accessed/dirty model\n").has("the-ept-accesseddirty-model"));
  assert.ok(anchors("## `sim` flags\n## `sim` flags\n").has("sim-flags-1"));
  assert.equal(resolve("docs/model.md", "../fixtures/TRACE_FORMAT.md"), "fixtures/TRACE_FORMAT.md");
  assert.equal(resolve("README.md", "../elsewhere.md"), null);
  assert.deepEqual(links("see [a](a.md) and `[b](b.md)`\n```\n[c](c.md)\n```\n[d]: d.md\n"), [
    "a.md",
    "d.md",
  ]);
});
