#!/usr/bin/env python3
"""Checks the Dockerfile without a container engine (none runs on our machines).

1. Lints it with hadolint (`.hadolint.yaml` lists each rule we ignore, with the reason).
2. Replays its build stage: a scratch directory stands in for the image's filesystem, WORKDIR
   and COPY act on it (COPY takes exactly what the build context gives, after .dockerignore),
   and every RUN line runs there with `sh -c`, unchanged. So the same `cargo build --locked
   --no-default-features ...` runs over exactly the files the COPY lines bring in: a workspace
   member whose manifest is not copied, or a source file the build needs but the context
   leaves out, fails here as it would in `docker build`.
3. Checks that every `COPY --from=<build stage>` of the final stage finds its file, and that the
   binary the image runs starts (`--version`).

Usage: scripts/check-dockerfile.py [--hadolint PATH] [--keep]
RUN lines get the caller's environment without CARGO_TARGET_DIR (an image build has none), and
must not write outside WORKDIR: the scratch directory only maps paths that WORKDIR and COPY use.
"""

import argparse
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def instructions(text):
    """The Dockerfile's instructions as (keyword, arguments), continuation lines joined."""
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comments inside a continued instruction are dropped, as Docker does
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        lines.append(current)
        current = ""
    if current:
        lines.append(current)
    result = []
    for line in lines:
        keyword, _, rest = line.partition(" ")
        result.append((keyword.upper(), rest.strip()))
    return result


def ignore_patterns(path):
    """The .dockerignore patterns as (exclude?, pattern) in order."""
    patterns = []
    if not os.path.exists(path):
        return patterns
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip("/"))
            patterns.append((not negate, pattern))
    return patterns


def pattern_matches(pattern, rel):
    """Whether a .dockerignore pattern matches `rel` or one of its parent directories."""
    regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
    regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    parts = rel.split("/")
    return any(
        re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1)
    )


def context_files(patterns):
    """Every file of the build context (relative paths), as Docker sends it."""
    files = []
    for directory, dirs, names in os.walk(ROOT):
        dirs.sort()
        for name in sorted(names):
            full = os.path.join(directory, name)
            rel = os.path.relpath(full, ROOT)
            excluded = False
            for exclude, pattern in patterns:
                if pattern_matches(pattern, rel):
                    excluded = exclude
            if not excluded:
                files.append(rel)
    return files


def copy_into(sources, dest, cwd, image_root, files):
    """COPY `sources` (context paths, globs allowed) to `dest` inside the image."""
    target = os.path.join(image_root, dest.lstrip("/")) if dest.startswith("/") else os.path.join(cwd, dest)
    to_dir = dest.endswith("/") or dest in (".", "./") or len(sources) > 1
    for source in sources:
        source = os.path.normpath(source)
        if source == ".":
            matched = [(f, f) for f in files]
        else:
            matched = []
            for f in files:
                if f == source or fnmatch.fnmatch(f, source):
                    matched.append((f, os.path.basename(f) if to_dir else ""))
                elif f.startswith(source + "/"):
                    matched.append((f, os.path.relpath(f, source)))
        if not matched:
            sys.exit(f"COPY {source}: no such file in the build context (check .dockerignore)")
        for rel, inside in matched:
            out = os.path.join(target, inside) if inside else target
            os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hadolint", default=os.path.join(ROOT, ".tools/venv/bin/hadolint"))
    parser.add_argument("--keep", action="store_true", help="keep the scratch image directory")
    args = parser.parse_args()
    dockerfile = os.path.join(ROOT, "Dockerfile")

    lint = subprocess.run(
        [args.hadolint, "--config", os.path.join(ROOT, ".hadolint.yaml"), dockerfile],
        capture_output=True,
        text=True,
    )
    if lint.returncode != 0 or lint.stdout.strip():
        sys.exit(f"hadolint found problems:\n{lint.stdout}{lint.stderr}")
    print("hadolint: no warnings")

    with open(dockerfile) as f:
        steps = instructions(f.read())
    stages, current = {}, None
    for keyword, rest in steps:
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            current = name
            stages[name] = {"base": words[0], "steps": []}
        elif current is not None:
            stages[current]["steps"].append((keyword, rest))
    names = list(stages)
    if len(names) < 2:
        sys.exit("expected a build stage and a final stage")
    build, final = names[0], names[-1]

    files = context_files(ignore_patterns(os.path.join(ROOT, ".dockerignore")))
    image_root = tempfile.mkdtemp(prefix="dockerfile-replay-")
    cwd = image_root
    env = {k: v for k, v in os.environ.items() if k != "CARGO_TARGET_DIR"}
    try:
        for keyword, rest in stages[build]["steps"]:
            if keyword == "WORKDIR":
                cwd = os.path.join(image_root, rest.lstrip("/"))
                os.makedirs(cwd, exist_ok=True)
            elif keyword == "COPY":
                words = shlex.split(rest)
                if any(w.startswith("--") for w in words):
                    sys.exit(f"COPY flags are not replayed in the build stage: {rest}")
                copy_into(words[:-1], words[-1], cwd, image_root, files)
            elif keyword == "ENV":
                key, _, value = rest.partition("=")
                env[key.strip()] = value.strip().strip('"')
            elif keyword == "RUN":
                print(f"RUN {rest}", flush=True)
                subprocess.run(["sh", "-c", rest], cwd=cwd, env=env, check=True)
            else:
                sys.exit(f"{keyword} is not replayed in the build stage")
        binary = None
        for keyword, rest in stages[final]["steps"]:
            words = shlex.split(rest)
            if keyword == "COPY" and words and words[0] == f"--from={build}":
                source = os.path.join(image_root, words[1].lstrip("/"))
                if not os.path.exists(source):
                    sys.exit(f"COPY {rest}: the build stage made no {words[1]}")
                binary = binary or source
        if binary is None:
            sys.exit(f"the final stage copies nothing from the {build} stage")
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
        print(f"replayed the {build} stage; the image's binary runs: {version.stdout.strip()}")
    finally:
        if args.keep:
            print(f"kept {image_root}")
        else:
            shutil.rmtree(image_root, ignore_errors=True)


if __name__ == "__main__":
    main()
