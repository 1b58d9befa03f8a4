#!/usr/bin/env python3
"""The import graph of src/, drawn from the code: floors, imports running back up, loops between files,
the largest files.

Usage: tools/layers.py [--check] [SRC]

Reads every `crate::...` and `super::...` path in src/ (use lines, grouped `use crate::{a::b, c}` trees and
paths written inline), resolves each to the file it names, and prints
- the folders in the order DESIGN.md "Layers" gives them and every import from a folder to one above it;
- every loop between files (strongly connected components of the file graph);
- the files over 800 lines and the ten largest.
With --check it exits 1 when an import runs back up or a loop exists that no module doc explains (a loop is
explained when one of its files' opening `//!` paragraph contains the words "import loop").
Test code (`#[cfg(test)]` items, and files declared `#[cfg(test)] mod x;`) is left out: a test may
reach anything.
"""

import os
import re
import sys

# bin -> server -> net -> command -> control -> core -> persist -> storage -> runtime / protocol -> config
# (persist/, to come: the core logs what it applies; the logs and snapshots read storage's entries).
# A new folder must be given its floor here (the check refuses a folder it does not know).
# Same number = side by side on one floor: those may not import each other in either direction
# unless listed in SIDEWAYS.
FLOORS = {
    "bin": 10,
    "server": 9,
    "loadgen": 8,
    "net": 8,
    "command": 7,
    "control": 6,
    "core": 5,
    "persist": 4,
    "storage": 3,
    "runtime": 2,
    "protocol": 2,
    "config": 1,
    "lib": 11,
}
# Imports across one floor that are allowed, and why (printed with the report).
SIDEWAYS = {}


def module_of(path, src):
    rel = os.path.relpath(path, src)[:-3]
    parts = rel.split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    if parts == ["lib"]:
        return []
    return parts


def folder_of(mod):
    return mod[0] if mod else "lib"


def strip_tests(text):
    """Drops every `#[cfg(test)]` item (a test module, or a test-only function anywhere in a file)."""
    out, pos = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]", text):
        if m.start() < pos:
            continue
        out.append(text[pos : m.start()])
        i = m.end()
        while i < len(text) and text[i] not in "{;":
            i += 1
        if i < len(text) and text[i] == "{":
            depth = 0
            while i < len(text):
                depth += {"{": 1, "}": -1}.get(text[i], 0)
                i += 1
                if depth == 0:
                    break
        else:
            i += 1
        pos = i
    out.append(text[pos:])
    return "".join(out)


def test_children(text):
    """Modules declared `#[cfg(test)] mod name;`: files that hold only tests."""
    return re.findall(r"#\[cfg\(test\)\]\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", text)


def strip_comments(text):
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def expand_use_tree(tree):
    """`a::{b::C, d}` -> ["a::b::C", "a::d"] (nesting allowed)."""
    tree = tree.strip()
    depth = 0
    for i, ch in enumerate(tree):
        if ch == "{":
            if depth == 0:
                head = tree[:i].rstrip(":").strip()
                inner = tree[i + 1 : tree.rindex("}")]
                out = []
                for piece in split_top(inner):
                    for sub in expand_use_tree(piece):
                        out.append(f"{head}::{sub}" if head else sub)
                return out
            depth += 1
    return [tree] if tree else []


def split_top(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return [p.strip() for p in out if p.strip()]


def references(text):
    """Every path starting with crate:: or super:: (use trees expanded)."""
    refs = []
    for m in re.finditer(r"\buse\s+((?:crate|super)::[^;]*);", text, re.S):
        refs.extend(expand_use_tree(re.sub(r"\s+", " ", m.group(1))))
    body = re.sub(r"\buse\s+(?:crate|super)::[^;]*;", "", text, flags=re.S)
    refs.extend(re.findall(r"\b(?:crate|super)(?:::[A-Za-z_][A-Za-z0-9_]*)+", body))
    return refs


def resolve(ref, mod, files):
    parts = [p.strip() for p in ref.split("::")]
    parts = [p.split(" as ")[0].strip() for p in parts]
    if parts[0] == "crate":
        base, rest = [], parts[1:]
    else:
        base = list(mod)
        rest = parts
        # `super` from a file is its folder's module; from a mod.rs it is the parent.
        while rest and rest[0] == "super":
            base = base[:-1]
            rest = rest[1:]
    # The longest prefix that names a file.
    target = None
    for n in range(len(rest), -1, -1):
        cand = tuple(base + rest[:n])
        if cand in files:
            target = cand
            break
    return target


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    check = "--check" in sys.argv
    src = args[0] if args else os.path.join(os.path.dirname(__file__), "..", "src")
    src = os.path.normpath(src)
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                p = os.path.join(root, n)
                files[tuple(module_of(p, src))] = p
    # Files that hold only tests (declared `#[cfg(test)] mod x;`) are no rooms: a test may reach anything.
    for m, p in list(files.items()):
        for child in test_children(open(p).read()):
            base = list(m) if p.endswith("mod.rs") or p.endswith("lib.rs") else list(m)
            files.pop(tuple(base + [child]), None)
    lines = {m: sum(1 for _ in open(p)) for m, p in files.items()}
    docs = {}
    edges = {m: set() for m in files}
    for m, p in files.items():
        text = open(p).read()
        docs[m] = "\n".join(l for l in text.splitlines() if l.startswith("//!"))
        for ref in references(strip_comments(strip_tests(text))):
            t = resolve(ref, list(m), files)
            if t is not None and t != m and t != ():
                edges[m].add(t)
    name = lambda m: os.path.relpath(files[m], os.path.dirname(src))

    # Folders, top floor first.
    folders = {}
    for m in files:
        folders.setdefault(folder_of(m), []).append(m)
    print("FLOORS (top first; folder: files, lines)")
    for f in sorted(folders, key=lambda f: -FLOORS.get(f.removesuffix(".rs") if False else f, 0)):
        total = sum(lines[m] for m in folders[f])
        print(f"  {FLOORS.get(f, '?'):>2}  {f:<9} {len(folders[f]):>3} files {total:>6} lines")

    up = []
    for a in sorted(edges):
        fa = folder_of(a)
        for b in sorted(edges[a]):
            fb = folder_of(b)
            if fa == fb or fa == "lib":
                continue
            la, lb = FLOORS.get(fa), FLOORS.get(fb)
            if la is None or lb is None:
                up.append((a, b, "folder not on DESIGN.md's floors"))
            elif lb > la or (lb == la and (fa, fb) not in SIDEWAYS):
                up.append((a, b, f"floor {la} imports floor {lb}"))
    print(f"\nIMPORTS RUNNING BACK UP OR SIDEWAYS: {len(up)}")
    for a, b, why in up:
        print(f"  {name(a)} -> {name(b)}  ({why})")

    # Tarjan's strongly connected components.
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(files):
        if v not in index:
            strong(v)
    unexplained = 0
    print(f"\nLOOPS BETWEEN FILES: {len(comps)}")
    for comp in comps:
        explained = any("import loop" in docs[m] for m in comp)
        unexplained += 0 if explained else 1
        tag = "explained in a module doc" if explained else "UNEXPLAINED"
        print(f"  {len(comp)} files ({tag}): " + ", ".join(name(m) for m in comp))
        for a in comp:
            for b in sorted(edges[a]):
                if b in comp:
                    print(f"      {name(a)} -> {name(b)}")

    big = [m for m in files if lines[m] > 800]
    print(f"\nFILES OVER 800 LINES: {len(big)}; the ten largest (tests in the file included):")
    for m in sorted(files, key=lambda m: -lines[m])[:10]:
        print(f"  {lines[m]:>5}  {name(m)}")
    print(f"\n{len(files)} files, {sum(len(e) for e in edges.values())} imports between files")
    if check and (up or unexplained):
        sys.exit(1)


if __name__ == "__main__":
    main()
