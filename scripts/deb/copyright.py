#!/usr/bin/env python3
"""Writes the Debian package's copyright file (DEP-5) for the hearth binary
built for TRIPLE: Hearth's own licence, then every crate compiled into the
binary (normal dependencies for that platform; proc-macro crates run only at
build time and are left out) with its authors, licence expression and the
licence and notice files it ships. Apache-2.0 and MPL-2.0 texts are not
copied: Debian ships them in /usr/share/common-licenses.

Usage: scripts/deb/copyright.py TRIPLE > copyright
"""

import json
import os
import subprocess
import sys

COMMON = {
    "Apache-2.0": "/usr/share/common-licenses/Apache-2.0",
    "MPL-2.0": "/usr/share/common-licenses/MPL-2.0",
}
MIT_TEXT = """Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE."""
PREFIXES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "UNLICENSE", "COPYRIGHT")


def crates(triple):
    meta = json.loads(
        subprocess.check_output(
            ["cargo", "metadata", "--format-version", "1", "--locked",
             "--filter-platform", triple]))
    packages = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    root = meta["resolve"]["root"]
    seen, stack = set(), [root]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        package = packages[node]
        if node != root and all("proc-macro" in t["kind"] for t in package["targets"]):
            continue
        seen.add(node)
        for dep in nodes[node]["deps"]:
            if any(k["kind"] is None for k in dep["dep_kinds"]):
                stack.append(dep["pkg"])
    seen.discard(root)
    return packages[root], sorted((packages[i] for i in seen),
                                  key=lambda p: (p["name"], p["version"]))


def is_common_text(text):
    head = text[:4000]
    return ("Apache License" in head and "Version 2.0" in head
            and "TERMS AND CONDITIONS" in head) or \
        ("Mozilla Public License Version 2.0" in head)


def licence_files(package):
    folder = os.path.dirname(package["manifest_path"])
    names = sorted(n for n in os.listdir(folder)
                   if n.upper().startswith(PREFIXES) and os.path.isfile(os.path.join(folder, n)))
    texts = []
    for name in names:
        with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
            text = f.read().strip()
        if text and not is_common_text(text):
            texts.append((name, text))
    return texts


def block(text):
    """A DEP-5 continuation: each line indented, blank lines as ' .'."""
    return "\n".join(" " + line.rstrip() if line.strip() else " ." for line in text.splitlines())


def dep5_licence(expression):
    return " ".join(w.lower() if w in ("OR", "AND", "WITH") else w
                    for w in expression.replace("/", " OR ").split())


def main():
    triple = sys.argv[1]
    hearth, bundled = crates(triple)
    out = [
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
        "Upstream-Name: hearth",
        "Comment: /usr/bin/hearth is one Rust program (linked only to glibc); the crates",
        " below are compiled into it (crates/NAME-VERSION is the crate as published",
        " on crates.io). Apache-2.0 and MPL-2.0 licence texts are in",
        " /usr/share/common-licenses.",
        "",
        "Files: *",
        "Copyright: the Hearth developers",
        f"License: {dep5_licence(hearth['license'])}",
        "",
    ]
    for package in bundled:
        authors = ", ".join(package["authors"]) or f"the {package['name']} authors"
        expression = package["license"] or "see the crate's licence file"
        out += [f"Files: crates/{package['name']}-{package['version']}/*",
                f"Copyright: {authors}",
                f"License: {dep5_licence(expression)}"]
        references = [path for spdx, path in COMMON.items() if spdx in expression]
        texts = licence_files(package)
        body = [f"{name}:\n\n{text}" for name, text in texts]
        if not texts and "MIT" in expression:
            body.append("The crate ships no licence file: the MIT licence's text is in the "
                        "standalone MIT paragraph at the end.")
        body += [f"On Debian systems the full text of {os.path.basename(p)} is in {p}."
                 for p in references]
        if body:
            out.append(block("\n\n".join(body)))
        out.append("")
    out += ["License: MIT", block(MIT_TEXT), ""]
    for spdx, path in COMMON.items():
        out += [f"License: {spdx}",
                f" On Debian systems the full text of the {spdx} licence is in {path}.", ""]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
