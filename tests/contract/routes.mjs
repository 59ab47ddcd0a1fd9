#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// usage: node routes.mjs ROUTES_FILE
//
// ROUTES_FILE holds the daemon's route table, one "METHOD /v1/path/{param} [SCOPE]" a line
// (what `bangerd --print-routes` prints; blank lines and lines starting with # are skipped).
// Exits 0 when its set of (method, path) equals exactly the set in openapi.yaml, with
// path parameters compared as "{}" whatever their names, and each route's SCOPE (when given)
// is the operation's x-banger-scope, which its security requirements name; else prints each
// difference and exits 1. Exit 2: bad usage or unreadable input.
import { readFileSync } from 'node:fs';
import { HTTP_METHODS, loadSpec, normaliseTemplate } from './spec.mjs';

/** What is wrong with an operation's scope: it must say x-banger-scope, that must be the
 * daemon's (when known), and its security requirements must be the unix socket alone for
 * "local", else the socket or a bearer token naming the scope ("any": naming none). */
function scopeProblems(op, shown, daemonScope) {
    const scope = op['x-banger-scope'];
    if (!['read', 'write', 'exec', 'admin', 'any', 'local'].includes(scope)) {
        return [`${shown}: x-banger-scope is ${JSON.stringify(scope)}, not read, write, exec, admin, any or local`];
    }
    const problems = [];
    if (daemonScope !== undefined && daemonScope !== scope) {
        problems.push(`${shown}: x-banger-scope ${scope}, but the daemon's route needs ${daemonScope}`);
    }
    const roles = scope === 'any' ? [] : [scope];
    const sec = JSON.stringify(op.security || null);
    const want = JSON.stringify(scope === 'local' ? [{}]
        : [{}, { bearerToken: roles }, { bearerToken: roles, clientCertificate: [] }]);
    if (sec !== want) problems.push(`${shown}: security ${sec}, want ${want} for scope ${scope}`);
    return problems;
}

function main(argv) {
    if (argv.length !== 1 || argv[0] === '-h' || argv[0] === '--help') {
        console.error('usage: node routes.mjs ROUTES_FILE');
        return 2;
    }
    const file = argv[0];
    let text, doc;
    try {
        text = readFileSync(file, 'utf8');
        doc = loadSpec();
    } catch (e) {
        console.error(`routes.mjs: ${e.message}`);
        return 2;
    }

    const problems = [];
    const daemon = new Map(); // "GET /v1/vms/{}" -> "GET /v1/vms/{name}" as written
    const scopes = new Map(); // "GET /v1/vms/{}" -> "read", when the file gives scopes
    text.split('\n').forEach((raw, i) => {
        const line = raw.trim();
        if (!line || line.startsWith('#')) return;
        const m = /^([A-Za-z]+)\s+(\/\S*)(?:\s+(\S+))?$/.exec(line);
        if (!m || !HTTP_METHODS.includes(m[1].toLowerCase())) {
            problems.push(`${file}:${i + 1}: not "METHOD /path [SCOPE]": ${JSON.stringify(raw)}`);
            return;
        }
        const key = `${m[1].toUpperCase()} ${normaliseTemplate(m[2])}`;
        if (daemon.has(key)) {
            problems.push(`${file}:${i + 1}: listed twice: ${line} (first as ${daemon.get(key)})`);
            return;
        }
        daemon.set(key, `${m[1].toUpperCase()} ${m[2]}`);
        if (m[3] !== undefined) scopes.set(key, m[3]);
    });

    const spec = new Map();
    for (const [path, item] of Object.entries(doc.paths || {})) {
        for (const method of HTTP_METHODS) {
            if (item && item[method]) {
                const key = `${method.toUpperCase()} ${normaliseTemplate(path)}`;
                const shown = `${method.toUpperCase()} ${path}`;
                spec.set(key, shown);
                problems.push(...scopeProblems(item[method], shown, scopes.get(key)));
            }
        }
    }

    for (const [key, shown] of [...spec].sort()) {
        if (!daemon.has(key)) problems.push(`missing from the daemon: ${shown}`);
    }
    for (const [key, shown] of [...daemon].sort()) {
        if (!spec.has(key)) problems.push(`not in openapi.yaml: ${shown}`);
    }

    for (const p of problems) console.log(p);
    if (problems.length) {
        console.log(`routes differ: ${problems.length} difference(s); daemon ${daemon.size}, spec ${spec.size}`);
        return 1;
    }
    console.log(`routes match: ${spec.size} routes`);
    return 0;
}

process.exitCode = main(process.argv.slice(2));
