// SPDX-License-Identifier: MIT
// Shared helpers for the contract checks: load openapi.yaml, match request paths to its
// path templates, follow $refs. No third-party code runs here except the YAML parser.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const here = dirname(fileURLToPath(import.meta.url));

/** Path of the spec: $BANGER_OPENAPI, else ../../openapi.yaml next to this file. */
export function specPath() {
    return process.env.BANGER_OPENAPI || resolve(here, '..', '..', 'openapi.yaml');
}

/** Parse the spec; YAML errors and warnings are fatal (a duplicate key is a bug). */
export function loadSpec(path = specPath()) {
    const text = readFileSync(path, 'utf8');
    const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true });
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length) {
        throw new Error(`${path}: ${problems.map((e) => e.message).join('\n')}`);
    }
    return doc.toJS({ maxAliasCount: -1 });
}

/** "/v1/vms/{name}" -> "/v1/vms/{}" so templates compare whatever the parameter names. */
export function normaliseTemplate(path) {
    return path.replace(/\{[^/{}]*\}/g, '{}');
}

/** Escape one JSON-pointer token and make it safe inside a URI fragment. */
export function pointerToken(s) {
    return encodeURIComponent(String(s).replace(/~/g, '~0').replace(/\//g, '~1'));
}

/** Follow a local $ref chain. Returns { node, pointer } with pointer the URI-fragment form. */
export function deref(doc, node, pointer) {
    const seen = new Set();
    while (node && typeof node === 'object' && typeof node.$ref === 'string') {
        const ref = node.$ref;
        if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${ref}`);
        if (seen.has(ref)) throw new Error(`$ref loop at ${ref}`);
        seen.add(ref);
        let cur = doc;
        for (const raw of ref.slice(2).split('/')) {
            const tok = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
            if (cur == null || typeof cur !== 'object' || !(tok in cur)) {
                throw new Error(`unresolvable $ref ${ref}`);
            }
            cur = cur[tok];
        }
        node = cur;
        pointer = '/' + ref.slice(2).split('/').map((t) =>
            pointerToken(decodeURIComponent(t).replace(/~1/g, '/').replace(/~0/g, '~'))).join('/');
    }
    return { node, pointer };
}

/**
 * The spec's routes: [{ template, norm, regex, literals, methods: Set('GET', ...) }],
 * most specific first (more literal segments win, so /v1/x/info beats /v1/x/{id}).
 */
export function specRoutes(doc) {
    const routes = [];
    for (const [template, item] of Object.entries(doc.paths || {})) {
        const methods = new Set(HTTP_METHODS.filter((m) => item && item[m]).map((m) => m.toUpperCase()));
        const segs = template.split('/');
        const regex = new RegExp('^' + segs.map((s) =>
            /^\{[^/{}]*\}$/.test(s) ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('/') + '$');
        const literals = segs.filter((s) => !/^\{.*\}$/.test(s)).length;
        routes.push({ template, norm: normaliseTemplate(template), regex, literals, methods });
    }
    routes.sort((a, b) => b.literals - a.literals || a.template.localeCompare(b.template));
    return routes;
}

/** The route whose template matches a concrete request path (query string ignored), or null. */
export function matchRoute(routes, rawPath) {
    const path = String(rawPath).split(/[?#]/, 1)[0];
    return routes.find((r) => r.regex.test(path)) || null;
}
