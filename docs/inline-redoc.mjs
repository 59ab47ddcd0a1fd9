#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// usage: node inline-redoc.mjs IN.html REDOC_PACKAGE_DIR OUT.html
//
// Redocly's build-docs prerenders the reference but loads Redoc's standalone bundle from
// cdn.redocly.com, and has no option to inline it. This replaces that one <script src> with
// the same version's bundle from REDOC_PACKAGE_DIR (node_modules/redoc), then refuses the
// page if anything it would load (script, stylesheet, font, image) is still a URL with a
// host, so the written page renders offline. Exit 1 with the reason when it cannot.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function fail(msg) {
    console.error(`inline-redoc.mjs: ${msg}`);
    process.exit(1);
}

const [input, redocDir, output] = process.argv.slice(2);
if (!input || !redocDir || !output) {
    fail('usage: node inline-redoc.mjs IN.html REDOC_PACKAGE_DIR OUT.html');
}

const html = readFileSync(input, 'utf8');
const { version } = JSON.parse(readFileSync(join(redocDir, 'package.json'), 'utf8'));
const tag = `<script src="https://cdn.redocly.com/redoc/v${version}/bundles/redoc.standalone.js"></script>`;
const at = html.indexOf(tag);
if (at < 0 || html.indexOf(tag, at + 1) >= 0) {
    const found = html.match(/<script[^>]*\ssrc=[^>]*>/gi) || [];
    fail(`want exactly one ${tag} in ${input}; its script tags: ${found.join(' ') || 'none'}`);
}

// Inside <script>, only "</script" (any case) and "<!--" can end or upset the element.
const bundle = readFileSync(join(redocDir, 'bundles', 'redoc.standalone.js'), 'utf8')
    .replace(/<\/(script)/gi, '<\\/$1')
    .replace(/<!--/g, '<\\!--');
let page = html.slice(0, at) + `<script>${bundle}</script>` + html.slice(at + tag.length);

// And the page may not fetch anything when it runs either: Redoc's sidebar shows Redocly's
// logo from cdn.redoc.ly (hidden again when it fails to load), and a description could name
// an image. Inline scripts and styles, data: images and fonts, blob: workers; nothing else.
const csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; " +
    "img-src data:; font-src data:; worker-src blob:; connect-src 'none'; base-uri 'none'; " +
    "form-action 'none'";
const head = page.search(/<head>/i);
if (head < 0) fail(`no <head> in ${input}`);
page = page.slice(0, head + 6) + `\n  <meta http-equiv="Content-Security-Policy" content="${csp}">` +
    page.slice(head + 6);

// What the markup around the bundle would fetch: src= and href= of script, link, img,
// iframe, source, and CSS url(...) and @import. In-page anchors (#...) and data: URIs are
// fine. (What the bundle's code fetches when it runs, the test in Chromium watches.)
const rest = html.slice(0, at) + html.slice(at + tag.length);
const remote = [];
for (const m of rest.matchAll(/<(script|link|img|iframe|source|video|audio|embed)\b[^>]*>/gi)) {
    for (const a of m[0].matchAll(/\s(src|href|srcset)\s*=\s*["']?([^"'\s>]+)/gi)) {
        if (!a[2].startsWith('#') && !a[2].startsWith('data:')) remote.push(`${m[1]} ${a[1]}=${a[2]}`);
    }
}
for (const m of rest.matchAll(/<style[^>]*>([\s\S]*?)<\/style>/gi)) {
    for (const u of m[1].matchAll(/(?:url\(\s*["']?|@import\s+["'])([^"')\s]+)/gi)) {
        if (!u[1].startsWith('data:') && !u[1].startsWith('#')) remote.push(`css ${u[1]}`);
    }
}
if (remote.length) fail(`the page still loads ${remote.join(', ')}`);

writeFileSync(`${output}.tmp`, page);
renameSync(`${output}.tmp`, output);
