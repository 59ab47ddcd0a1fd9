#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The checks of contract/api-docs (api-docs.sh runs Chromium between them):
//   node api-docs.mjs bare PAGE OUT
//     writes PAGE without Redoc's prerendered markup, so whatever the browser shows of it,
//     the inlined bundle rendered (offline: the page may not load it from anywhere).
//   node api-docs.mjs check DOM NETLOG CONSOLE
//     DOM: Chromium's --dump-dom of a page; NETLOG: its --log-net-log; CONSOLE: its stderr.
//     Exits 0 when the operations the page shows (Redoc's "METHOD /path" endpoint bars) are
//     exactly the routes of openapi.yaml, the page asked the network for nothing (no request
//     made from it, no fetch its Content-Security-Policy blocked, but Redocly's own logo, which
//     Redoc hides when it does not load); else prints each difference and exits 1.
// Exit 2: bad usage or unreadable input.
import { readFileSync, writeFileSync } from 'node:fs';
import { HTTP_METHODS, loadSpec, specRoutes } from './spec.mjs';

// Redoc's sidebar footer shows this image, and hides it when it fails to load.
const KNOWN_BLOCKED = ['https://cdn.redoc.ly/redoc/logo-mini.svg'];

function bare(page, out) {
    const html = readFileSync(page, 'utf8');
    const open = '<div id="redoc">';
    const start = html.indexOf(open);
    const state = html.indexOf('const __redoc_state');
    const end = state < 0 ? -1 : html.lastIndexOf('</div>', state);
    if (start < 0 || end < start) {
        console.error(`api-docs.mjs: ${page} has no <div id="redoc"> before __redoc_state: not build-docs output?`);
        return 2;
    }
    writeFileSync(out, html.slice(0, start + open.length) + html.slice(end));
    return 0;
}

const decode = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'").replace(/&amp;/g, '&');

/** The "METHOD /path" of each endpoint bar in the rendered DOM (scripts left out). */
function shownRoutes(dom) {
    const body = dom.replace(/<script\b[^>]*>[\s\S]*?<\/script>/gi, '');
    const shown = new Set();
    const bar = /<span\b[^>]*class="[^"]*\bhttp-verb ([a-z]+)"[^>]*>[^<]*<\/span>\s*<span\b[^>]*>([^<]+)<\/span>/g;
    for (const m of body.matchAll(bar)) shown.add(`${m[1].toUpperCase()} ${decode(m[2]).trim()}`);
    return shown;
}

/** Requests the page itself made to anything but file:, data: or blob: URLs. */
function pageRequests(netlog) {
    const log = JSON.parse(netlog);
    const start = log.constants.logEventTypes.URL_REQUEST_START_JOB;
    const out = new Set();
    for (const e of log.events || []) {
        const p = e.params || {};
        if (e.type !== start || typeof p.url !== 'string') continue;
        // The browser's own background requests (blocked by the resolver rules) have no
        // file:// isolation key; the page's do.
        if (!String(p.network_isolation_key || '').startsWith('file://')) continue;
        if (!/^(file|data|blob):/.test(p.url)) out.add(p.url);
    }
    return [...out];
}

/** What the page's Content-Security-Policy blocked, from Chromium's console lines (their
 * first quoted URL, else the whole line), less KNOWN_BLOCKED. */
function cspBlocked(consoleText) {
    const out = new Set();
    for (const line of consoleText.split('\n')) {
        if (!line.includes('Content Security Policy')) continue;
        const url = /'([a-z][a-z0-9+.-]*:[^']*)'/i.exec(line);
        out.add(url ? url[1] : line.trim());
    }
    return [...out].filter((u) => !KNOWN_BLOCKED.includes(u));
}

function check(domFile, netlogFile, consoleFile) {
    let dom, netlog, consoleText, doc;
    try {
        dom = readFileSync(domFile, 'utf8');
        netlog = readFileSync(netlogFile, 'utf8');
        consoleText = readFileSync(consoleFile, 'utf8');
        doc = loadSpec();
    } catch (e) {
        console.error(`api-docs.mjs: ${e.message}`);
        return 2;
    }
    const want = new Set();
    for (const [path, item] of Object.entries(doc.paths || {})) {
        for (const m of HTTP_METHODS) if (item && item[m]) want.add(`${m.toUpperCase()} ${path}`);
    }
    if (specRoutes(doc).length === 0 || want.size === 0) {
        console.error('api-docs.mjs: openapi.yaml has no routes');
        return 1;
    }
    const shown = shownRoutes(dom);
    const problems = [];
    for (const r of [...want].sort()) if (!shown.has(r)) problems.push(`not in the rendered page: ${r}`);
    for (const r of [...shown].sort()) if (!want.has(r)) problems.push(`in the page but not in openapi.yaml: ${r}`);
    let requests;
    try {
        requests = pageRequests(netlog);
    } catch (e) {
        problems.push(`${netlogFile}: not a Chromium net log: ${e.message}`);
        requests = [];
    }
    for (const u of requests) problems.push(`the page requested ${u}`);
    for (const u of cspBlocked(consoleText)) problems.push(`the page tried to load ${u} (blocked by its CSP)`);
    if (problems.length) {
        for (const p of problems) console.error(p);
        const found = [...want].filter((r) => shown.has(r)).length;
        console.error(`api-docs.mjs: ${domFile}: ${found} of the spec's ${want.size} routes shown; ${problems.length} problem(s)`);
        return 1;
    }
    console.log(`api-docs.mjs: ${domFile}: all ${want.size} routes of openapi.yaml rendered, no network use`);
    return 0;
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'bare' && args.length === 2) process.exit(bare(...args));
if (cmd === 'check' && args.length === 3) process.exit(check(...args));
console.error('usage: node api-docs.mjs bare PAGE OUT | check DOM NETLOG CONSOLE');
process.exit(2);
