#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check bangerd's layer rule (docs/architecture.md, section "Layers") against the code.

Reads the table of folders and the folders each may use, and the list of allowed file cycles,
from the document itself; then checks, for every file under server/:
  - each #include of another folder's header names a folder the table allows;
  - each call into a function defined in another folder (read from the object files with nm,
    so calls through extern declarations count too) goes to an allowed folder;
  - the allowed edges between folders have no cycle;
  - calls between files of one folder form no cycle, unless the document lists it with why.
It also checks the binaries' rule: api/ includes no binary's directory, and no binary
includes another's.
Usage: check_layers.py SOURCE_DIR OBJECT_DIR   (OBJECT_DIR: bangerd_core's CMakeFiles dir)
"""
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def read_rules(doc):
    """{folder: set(allowed folders)}, [set(files) of allowed cycles]."""
    text = open(doc, encoding='utf-8').read()
    sect = text.split('\n## Layers', 1)
    if len(sect) < 2:
        sys.exit(f'{doc}: no "## Layers" section')
    body = sect[1].split('\n## ', 1)[0]
    rules, cycles = {}, []
    for line in body.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) >= 2 and cells[0].startswith('`') and cells[0].endswith('/`'):
            folder = cells[0].strip('`').rstrip('/')
            uses = set(re.findall(r'`([a-z/]+)/`', cells[1]))
            rules[folder] = uses
        m = re.match(r'\s*-\s*cycle:\s*(.+?)\s+[-—]+\s', line)
        if m:
            cycles.append(set(re.findall(r'`([^`]+)`', m.group(1))))
    if not rules:
        sys.exit(f'{doc}: the Layers section has no table of folders')
    return rules, cycles


def folder_of(rel):
    """server/vmm/qemu/qemu.c -> vmm/qemu; server/main.c -> '' (the top)."""
    parts = rel.split('/')[1:-1]
    return '/'.join(parts)


def table_acyclic(rules, problems):
    state = {}

    def visit(f, path):
        if state.get(f) == 1:
            problems.append('the layer table has a cycle: ' + ' -> '.join(path + [f]))
            return
        if state.get(f) == 2:
            return
        state[f] = 1
        for g in sorted(rules.get(f, ())):
            visit(g, path + [f])
        state[f] = 2

    for f in sorted(rules):
        visit(f, [])


def sources(src):
    out = []
    for d, _, files in os.walk(os.path.join(src, 'server')):
        for f in files:
            if f.endswith(('.c', '.h')):
                out.append(os.path.relpath(os.path.join(d, f), src))
    return sorted(out)


def check_includes(src, files, rules, problems):
    for rel in files:
        me = folder_of(rel)
        if me == '':
            continue  # main.c wires everything
        for inc in INCLUDE.findall(open(os.path.join(src, rel), encoding='utf-8').read()):
            if inc.startswith('banger/'):
                continue
            target = os.path.dirname(inc)
            if not os.path.exists(os.path.join(src, 'server', inc)):
                problems.append(f'{rel}: includes "{inc}", which is not a path under server/')
                continue
            if target != me and target not in rules.get(me, ()):
                problems.append(f'{rel}: includes "{inc}": {me}/ may not use {target}/')


def nm(path, defined):
    args = ['nm', '--defined-only' if defined else '--undefined-only', '-P', path]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    syms = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and (not defined or f[1] in 'TtDdBbRr'):
            if defined and f[1].islower():
                continue  # static: not reachable from another file
            syms.add(f[0])
    return syms


def objects(objdir, src):
    """{server-relative source path: object file}."""
    out = {}
    for d, _, files in os.walk(objdir):
        for f in files:
            if f.endswith('.c.o'):
                obj = os.path.join(d, f)
                rel = os.path.relpath(obj, objdir)[:-2]
                # CMake mirrors the source path below the target dir
                if os.path.exists(os.path.join(src, 'server', rel)):
                    out['server/' + rel] = obj
    return out


def sccs(nodes, edges):
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in sorted(nodes):
        if v not in index:
            strong(v)
    return out


def check_calls(src, objdir, rules, cycles, problems):
    objs = objects(objdir, src)
    if not objs:
        problems.append(f'{objdir}: no object files; build bangerd_core first')
        return
    where = {}
    for rel, obj in objs.items():
        for s in nm(obj, True):
            where[s] = rel
    edges = {}
    for rel, obj in objs.items():
        me = folder_of(rel)
        for s in nm(obj, False):
            other = where.get(s)
            if not other or other == rel:
                continue
            them = folder_of(other)
            if them == me:
                edges.setdefault(rel, set()).add(other)
            elif me != '' and them not in rules.get(me, ()):
                problems.append(f'{rel}: calls {s}() of {other}: {me}/ may not use {them}/')
    for comp in sccs(list(objs), edges):
        names = {os.path.basename(f) for f in comp}
        if not any(names == allowed for allowed in cycles):
            problems.append('files of one folder call each other in a cycle, and '
                            'docs/architecture.md does not say why: ' + ', '.join(sorted(comp)))


def check_binaries(src, problems):
    dirs = ['server', 'client', 'agent', 'helper']
    for top in ['api'] + dirs:
        for d, _, files in os.walk(os.path.join(src, top)):
            for f in files:
                if not f.endswith(('.c', '.h')):
                    continue
                p = os.path.join(d, f)
                for inc in INCLUDE.findall(open(p, encoding='utf-8').read()):
                    bad = [b for b in dirs if b != top and (inc.startswith(b + '/') or
                                                            inc.startswith('../' + b + '/'))]
                    if bad:
                        problems.append(f'{os.path.relpath(p, src)}: includes "{inc}" of '
                                        f'{bad[0]}/, another program')


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, objdir = sys.argv[1], sys.argv[2]
    rules, cycles = read_rules(os.path.join(src, 'docs', 'architecture.md'))
    problems = []
    table_acyclic(rules, problems)
    files = sources(src)
    for rel in files:
        f = folder_of(rel)
        if f and f not in rules:
            problems.append(f'{rel}: folder {f}/ is not in the layer table')
    check_includes(src, files, rules, problems)
    check_calls(src, objdir, rules, cycles, problems)
    check_binaries(src, problems)
    for p in sorted(set(problems)):
        print(p)
    if problems:
        print(f'{len(set(problems))} layer rule problem(s); see docs/architecture.md, "Layers"')
        return 1
    print(f'layer rule holds: {len(files)} files, {len(rules)} folders')
    return 0


if __name__ == '__main__':
    sys.exit(main())
