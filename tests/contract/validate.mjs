#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// usage: node validate.mjs [--require-headers] [--coverage] RECORD_FILE
//
// Checks recorded HTTP exchanges against openapi.yaml. RECORD_FILE is JSON Lines, one
// exchange a line:
//   {"method":"GET","path":"/v1/vms/web1?x=1","status":200,
//    "content_type":"application/json","headers":{"location":"..."},
//    "body":<parsed JSON or null>,"ndjson":[...objects, event streams only]}
// For each: find the operation by method + path template (query ignored), the response
// for the status (else its NXX range, else "default"; none is "undocumented status"),
// check the content type is one the response lists (parameters such as charset ignored),
// then validate the body, or each ndjson line, with Ajv (JSON Schema 2020-12) against
// the schema the spec gives, $refs resolved within the whole document. Headers the record
// carries are checked against the response's header schemas; with --require-headers a
// required header the record lacks is a failure too (only use it when the recorder keeps
// every header). A request the spec has no operation for must have been answered 404
// not_found (unknown path) or 405 method_not_allowed (known path; Allow must then list
// the spec's methods for it), with a valid Problem body.
//
// Prints one line per failing record, then "N passed, M failed"; exits 1 when M > 0,
// 2 on bad usage or an unreadable spec. --coverage adds, on stderr, the documented
// (operation, status) pairs no record exercised.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { deref, loadSpec, matchRoute, pointerToken, specRoutes } from './spec.mjs';

const SPEC_ID = 'openapi.json';
const PROBLEM_TYPE = 'application/problem+json';
const STREAM_TYPES = new Set(['application/x-ndjson', 'application/jsonl', 'application/json-seq']);
const MAX_ERRORS_SHOWN = 4;

function mediaType(ct) {
    return typeof ct === 'string' ? ct.split(';', 1)[0].trim().toLowerCase() : '';
}

function mediaMatches(pattern, actual) {
    const p = mediaType(pattern);
    if (p === '*/*' || p === actual) return true;
    return p.endsWith('/*') && actual.startsWith(p.slice(0, -1));
}

function lowerKeys(obj) {
    const out = {};
    if (obj && typeof obj === 'object') {
        for (const [k, v] of Object.entries(obj)) out[k.toLowerCase()] = v;
    }
    return out;
}

/** What a schema cannot say about a (schema-valid) problem body: it matches its request. */
function problemConsistency(rec) {
    const p = rec.body;
    const fails = [];
    if (p.status !== rec.status) fails.push(`body /status ${p.status} is not the HTTP status ${rec.status}`);
    if (p.type !== `urn:banger:problem:${p.code}`) fails.push(`body /type ${p.type} does not end in the code ${p.code}`);
    const path = String(rec.path).split(/[?#]/, 1)[0];
    if (p.instance !== path) fails.push(`body /instance ${p.instance} is not the request path ${path}`);
    return fails;
}

class Checker {
    constructor(doc) {
        this.doc = doc;
        this.routes = specRoutes(doc);
        // Strict schema mode: a typo'd keyword or an unknown format in the spec is an error
        // here. strictTypes is off: it objects to the usual allOf/if/then subschemas that
        // constrain properties without repeating "type".
        this.ajv = new Ajv2020({
            allErrors: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true,
        });
        addFormats(this.ajv);
        // Keywords that carry no validation: OpenAPI's own schema keywords, and the
        // document's top-level fields (the whole document is added as one schema so that
        // its local $refs resolve; only the fragments we point at are compiled).
        for (const kw of ['example', 'discriminator', 'xml', 'externalDocs',
            'openapi', 'info', 'jsonSchemaDialect', 'servers', 'paths', 'webhooks',
            'components', 'security', 'tags']) {
            this.ajv.addKeyword({ keyword: kw });
        }
        this.ajv.addSchema({ ...doc, $id: SPEC_ID });
        this.validators = new Map();
        this.exercised = new Set();
    }

    /** A compiled validator for the schema at a URI-fragment pointer into the spec. */
    validator(pointer) {
        let v = this.validators.get(pointer);
        if (!v) {
            v = this.ajv.compile({ $ref: `${SPEC_ID}#${pointer}` });
            this.validators.set(pointer, v);
        }
        return v;
    }

    check(pointer, value, what) {
        const v = this.validator(pointer);
        if (v(value)) return null;
        const seen = new Set();
        const msgs = [];
        // An if/then failure is reported again as "must match then schema": drop that.
        const errors = v.errors.filter((e) => e.keyword !== 'if');
        for (const e of errors.length ? errors : v.errors) {
            let m = `${e.instancePath || '/'} ${e.message}`;
            if (e.keyword === 'additionalProperties') m += ` '${e.params.additionalProperty}'`;
            if (e.keyword === 'enum' || e.keyword === 'const') {
                m += ` ${JSON.stringify(e.params.allowedValues ?? e.params.allowedValue)}`;
            }
            if (!seen.has(m)) {
                seen.add(m);
                msgs.push(m);
            }
        }
        const extra = msgs.length > MAX_ERRORS_SHOWN ? ` (+${msgs.length - MAX_ERRORS_SHOWN} more)` : '';
        return `${what}: ${msgs.slice(0, MAX_ERRORS_SHOWN).join('; ')}${extra}`;
    }

    /** Returns a list of failure messages for one record (empty: it conforms). */
    record(rec, opts) {
        const method = String(rec.method || '').toUpperCase();
        const status = rec.status;
        const ct = mediaType(rec.content_type);
        const headers = lowerKeys(rec.headers);
        const route = matchRoute(this.routes, rec.path);

        if (!route || !route.methods.has(method)) {
            return this.unrouted(rec, route, method, ct, headers, opts);
        }

        const opPtr = `/paths/${pointerToken(route.template)}/${method.toLowerCase()}`;
        const op = this.doc.paths[route.template][method.toLowerCase()];
        const responses = op.responses || {};
        const key = [String(status), `${String(status)[0]}XX`, 'default'].find((k) => k in responses);
        if (key === undefined) {
            return [`undocumented status (${op.operationId || route.template} documents ` +
                `${Object.keys(responses).join(', ')})`];
        }
        this.exercised.add(`${op.operationId} ${key}`);
        const { node: resp, pointer: respPtr } = deref(this.doc, responses[key],
            `${opPtr}/responses/${pointerToken(key)}`);

        const fails = [];
        fails.push(...this.headers(resp, respPtr, headers, opts));

        const content = resp.content || {};
        const types = Object.keys(content);
        const hasBody = rec.body !== null && rec.body !== undefined;
        const hasLines = Array.isArray(rec.ndjson) && rec.ndjson.length > 0;
        if (types.length === 0) {
            if (hasBody || hasLines) fails.push(`response ${key} documents no body, but one was recorded`);
            return fails;
        }
        if (!ct) {
            fails.push(`no content type; response ${key} lists ${types.join(', ')}`);
            return fails;
        }
        const type = types.find((t) => mediaMatches(t, ct));
        if (type === undefined) {
            fails.push(`content type ${ct} not in response ${key}'s ${types.join(', ')}`);
            return fails;
        }
        const media = content[type];
        if (!media || !media.schema) return fails;
        const schemaPtr = `${respPtr}/content/${pointerToken(type)}/schema`;

        if (STREAM_TYPES.has(mediaType(type))) {
            if (rec.ndjson !== undefined && !Array.isArray(rec.ndjson)) {
                fails.push('ndjson is not an array');
                return fails;
            }
            (rec.ndjson || []).forEach((line, i) => {
                const f = this.check(schemaPtr, line, `line ${i + 1}`);
                if (f) fails.push(f);
            });
            if (hasBody) fails.push(`a ${type} stream must be recorded in "ndjson", not "body"`);
            return fails;
        }
        const f = this.check(schemaPtr, rec.body === undefined ? null : rec.body, 'body');
        if (f) fails.push(f);
        else if (ct === PROBLEM_TYPE) fails.push(...problemConsistency(rec));
        return fails;
    }

    headers(resp, respPtr, headers, opts) {
        const fails = [];
        for (const [name, h] of Object.entries(resp.headers || {})) {
            const { node: hdr, pointer: hPtr } = deref(this.doc, h,
                `${respPtr}/headers/${pointerToken(name)}`);
            const lname = name.toLowerCase();
            if (!(lname in headers)) {
                if (hdr.required && opts.requireHeaders) fails.push(`missing header ${name}`);
                continue;
            }
            if (hdr.schema) {
                const f = this.check(`${hPtr}/schema`, headers[lname], `header ${name}`);
                if (f) fails.push(f);
            }
        }
        return fails;
    }

    /** No operation in the spec: only 404 (unknown path) or 405 (known path) is right. */
    unrouted(rec, route, method, ct, headers, opts) {
        const expected = route ? 405 : 404;
        const code = route ? 'method_not_allowed' : 'not_found';
        const what = route ? `${method} is not an operation of ${route.template}` : 'route not in openapi.yaml';
        if (rec.status !== expected) return [`${what}; expected ${expected} ${code}`];

        this.exercised.add(`(unrouted) ${expected}`);
        const fails = [];
        if (ct !== PROBLEM_TYPE) fails.push(`content type ${ct || '(none)'}, expected ${PROBLEM_TYPE}`);
        const f = this.check('/components/schemas/Problem', rec.body ?? null, 'body');
        if (f) fails.push(f);
        else if (rec.body.code !== code) fails.push(`body /code is ${JSON.stringify(rec.body.code)}, expected "${code}"`);
        else fails.push(...problemConsistency(rec));
        if ('banger-api-version' in headers) {
            const v = this.check('/components/headers/BangerApiVersion/schema', headers['banger-api-version'],
                'header Banger-Api-Version');
            if (v) fails.push(v);
        } else if (opts.requireHeaders) {
            fails.push('missing header Banger-Api-Version');
        }
        if (route && 'allow' in headers) {
            const listed = String(headers.allow).split(',').map((s) => s.trim().toUpperCase())
                .filter((s) => s && s !== 'OPTIONS');
            const want = [...route.methods].sort().join(', ');
            const got = [...new Set(listed)].sort().join(', ');
            if (got !== want) fails.push(`header Allow lists ${got || '(nothing)'}, spec has ${want}`);
        } else if (route && opts.requireHeaders) {
            fails.push('missing header Allow');
        }
        return fails;
    }

    coverage() {
        const missing = [];
        for (const item of Object.values(this.doc.paths || {})) {
            for (const op of Object.values(item)) {
                if (!op || !op.responses) continue;
                for (const key of Object.keys(op.responses)) {
                    if (!this.exercised.has(`${op.operationId} ${key}`)) missing.push(`${op.operationId} ${key}`);
                }
            }
        }
        return missing;
    }
}

function main(argv) {
    const opts = { requireHeaders: false, coverage: false };
    const files = [];
    for (const a of argv) {
        if (a === '--require-headers') opts.requireHeaders = true;
        else if (a === '--coverage') opts.coverage = true;
        else if (a.startsWith('-')) {
            console.error(`validate.mjs: unknown option ${a}`);
            return 2;
        } else files.push(a);
    }
    if (files.length !== 1) {
        console.error('usage: node validate.mjs [--require-headers] [--coverage] RECORD_FILE');
        return 2;
    }

    let checker, text;
    try {
        checker = new Checker(loadSpec());
        text = readFileSync(files[0], 'utf8');
    } catch (e) {
        console.error(`validate.mjs: ${e.message}`);
        return 2;
    }

    let passed = 0;
    let failed = 0;
    text.split('\n').forEach((raw, i) => {
        if (!raw.trim()) return;
        let rec;
        try {
            rec = JSON.parse(raw);
            if (!rec || typeof rec !== 'object' || Array.isArray(rec)) throw new Error('not an object');
        } catch (e) {
            failed++;
            console.log(`FAIL ${files[0]}:${i + 1}: unreadable record: ${e.message}`);
            return;
        }
        let fails;
        try {
            fails = checker.record(rec, opts);
        } catch (e) {
            fails = [`checker error: ${e.message}`];
        }
        if (fails.length) {
            failed++;
            console.log(`FAIL ${rec.method} ${rec.path} ${rec.status}: ${fails.join(' | ')}`);
        } else {
            passed++;
        }
    });

    if (opts.coverage) {
        for (const m of checker.coverage()) console.error(`not exercised: ${m}`);
    }
    console.log(`${passed} passed, ${failed} failed`);
    return failed > 0 ? 1 : 0;
}

process.exitCode = main(process.argv.slice(2));
