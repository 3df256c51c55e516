// Hostile: reads a file while being imported.
import { definePolicy } from "../../../../policy.ts";

const home = Deno.env.get("HOME");
const text = Deno.readTextFileSync(`${home}/.bashrc`);

export default definePolicy({
  meta: { name: "read-at-import", description: `Read ${text.length} bytes.`, defaults: {} },
  create: () => ({ order: (round) => round.offered }),
});
