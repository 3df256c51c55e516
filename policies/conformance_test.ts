// The conformance suite, run for every policy file in this folder: a new file is covered
// without editing any test. A file that does not load is one failing test named after it.
import { registerConformanceTests } from "../harness/policy/conformance.ts";

await registerConformanceTests(new URL("./", import.meta.url));
