// SPDX-License-Identifier: MIT
// Checks the Firecracker test double's endpoint table (`fake-firecracker --fake-dump-table`)
// against Firecracker's contract (firecracker-api.yaml): for every endpoint the double serves,
// the method and path exist in the spec, the body definition is the one the spec names, and
// the required and allowed fields (with their JSON types, $refs followed) agree. Prints every
// difference and exits 1; exits 77 with "skip: ..." when the yaml is absent.
//
// usage: node check-table.mjs FIRECRACKER_API_YAML FAKE_FIRECRACKER
// Run from tests/contract, whose node_modules holds the pinned `yaml` package.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [yamlPath, fake] = process.argv.slice(2);
if (!yamlPath || !fake) {
    console.error("usage: check-table.mjs FIRECRACKER_API_YAML FAKE_FIRECRACKER");
    process.exit(2);
}
if (!existsSync(yamlPath)) {
    console.log(`skip: ${yamlPath} is absent (the Firecracker contract lives in ../shared)`);
    process.exit(77);
}

// `yaml` comes from tests/contract/node_modules: resolve it from the working directory.
const require = createRequire(path.join(process.cwd(), "package.json"));
const YAML = require("yaml");
const spec = YAML.parse(readFileSync(yamlPath, "utf8"));
const table = JSON.parse(execFileSync(fake, ["--fake-dump-table"], { encoding: "utf8" }));

const TYPES = { integer: "i", string: "s", boolean: "b", object: "o" };
const diffs = [];

function deref(schema, seen = new Set()) {
    while (schema && schema.$ref) {
        if (seen.has(schema.$ref)) break;
        seen.add(schema.$ref);
        const name = schema.$ref.replace(/^#\/definitions\//, "");
        schema = spec.definitions?.[name];
        if (!schema) {
            diffs.push(`spec: dangling $ref ${name}`);
            return {};
        }
    }
    return schema ?? {};
}

function typeOf(schema) {
    const s = deref(schema);
    if (s.type) return TYPES[s.type] ?? `?${s.type}`;
    if (s.properties) return "o";
    return "?";
}

function bodyRef(op) {
    const p = (op.parameters ?? []).find((x) => x.in === "body");
    return p ? p.schema : null;
}

for (const e of table.endpoints) {
    const where = `${e.method} ${e.path}`;
    const item = spec.paths?.[e.path];
    const op = item?.[e.method.toLowerCase()];
    if (!op) {
        diffs.push(`${where}: not in the spec`);
        continue;
    }
    const ref = bodyRef(op);
    const specDef = ref?.$ref ? ref.$ref.replace(/^#\/definitions\//, "") : null;
    if ((specDef ?? null) !== (e.definition ?? null)) {
        diffs.push(`${where}: body definition is ${e.definition} in the table, ${specDef} in the spec`);
        if (!ref) continue;
    }
    if (!ref) {
        if (Object.keys(e.fields).length)
            diffs.push(`${where}: the table lists fields but the spec takes no body`);
        continue;
    }
    const def = deref(ref);
    const props = def.properties ?? {};
    const required = new Set(def.required ?? []);
    for (const [name, s] of Object.entries(props)) {
        const f = e.fields[name];
        if (!f) {
            diffs.push(`${where}: field '${name}' allowed by the spec is missing from the table`);
            continue;
        }
        const want = typeOf(s);
        if (f.type !== want)
            diffs.push(`${where}: field '${name}' has type '${f.type}' in the table, '${want}' in the spec`);
        if (Boolean(f.required) !== required.has(name))
            diffs.push(`${where}: field '${name}' is ${f.required ? "" : "not "}required in the table, ` +
                `${required.has(name) ? "" : "not "}in the spec`);
    }
    for (const name of Object.keys(e.fields))
        if (!(name in props)) diffs.push(`${where}: field '${name}' is not in the spec's ${specDef}`);
    for (const name of required)
        if (!(name in props)) diffs.push(`spec: ${specDef} requires '${name}' but does not define it`);
    // the path id must be a path parameter of the spec, and the table must name its body field
    const pathParams = (op.parameters ?? []).filter((x) => x.in === "path").map((x) => x.name);
    const tpl = [...e.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const p of tpl)
        if (!pathParams.includes(p)) diffs.push(`${where}: path parameter '${p}' not declared in the spec`);
}

// the action enum
const actionEnum = deref(spec.definitions?.InstanceActionInfo?.properties?.action_type).enum ?? [];
const tableActions = table.actions.split(",");
for (const a of actionEnum)
    if (!tableActions.includes(a)) diffs.push(`actions: '${a}' in the spec, not in the table`);
for (const a of tableActions)
    if (!actionEnum.includes(a)) diffs.push(`actions: '${a}' in the table, not in the spec`);

if (diffs.length) {
    console.log(`fake-firecracker table disagrees with ${yamlPath}:`);
    for (const d of diffs) console.log(`  - ${d}`);
    process.exit(1);
}
console.log(`ok: ${table.endpoints.length} endpoints and ${tableActions.length} actions agree with the spec`);
