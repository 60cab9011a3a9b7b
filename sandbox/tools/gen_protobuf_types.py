#!/usr/bin/env python3
"""Generate sandbox/src/protobuf/types.rs, the field tables the protobuf request decoder uses.

Run once by hand when the Kubernetes API version the sandbox mimics changes; the build never
runs it. It reads two kinds of source from k8s.io/api and k8s.io/apimachinery:

* `generated.proto`: message names, field numbers, wire types, repeated/map labels;
* the Go types (`types.go` and friends): the JSON name of each field (`json:"..."` tag, matched
  to the proto field by the number in its `protobuf:"..."` tag), `omitempty`/`omitzero`, whether
  the Go field is a pointer, and embedded structs that Go's JSON encoder inlines (Volume's
  VolumeSource). The decoder needs these to produce the JSON the Go encoder would.

Sources are bare git directories (read at HEAD) or plain checkouts:

    python3 sandbox/tools/gen_protobuf_types.py \\
        --api /path/to/kubernetes/api --apimachinery /path/to/kubernetes/apimachinery \\
        > sandbox/src/protobuf/types.rs

Only stable API versions (no alpha/beta) are emitted, plus meta/v1, resource, intstr and runtime.
apiextensions.k8s.io is left out: its JSONSchemaProps uses JSON names that are not proto names
(`x-kubernetes-*`), and clients only ever send CustomResourceDefinitions as JSON.
"""

import argparse
import os
import re
import subprocess
import sys

# Messages whose JSON form is not an object of their fields (custom MarshalJSON in Go).
SPECIAL_SHAPES = {
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "Time",
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "MicroTime",
    "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "Duration",
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "FieldsV1",
    "k8s.io.apimachinery.pkg.api.resource.Quantity": "Quantity",
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": "Quantity",
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "IntOrString",
    "k8s.io.apimachinery.pkg.runtime.RawExtension": "RawExtension",
}

# The scalar types Kubernetes messages use; the generator stops on any other.
SCALARS = {
    "string": "Str",
    "bool": "Bool",
    "int32": "I32",
    "int64": "I64",
    "bytes": "Bytes",
}
UNSUPPORTED_SCALARS = {"double", "float", "uint32", "uint64", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"}

APIMACHINERY_DIRS = [
    "pkg/apis/meta/v1",
    "pkg/api/resource",
    "pkg/util/intstr",
    "pkg/runtime",
]


class Source:
    """Files of one repository, from a bare git dir (HEAD) or a checkout."""

    def __init__(self, path):
        self.path = path
        self.bare = os.path.isfile(os.path.join(path, "HEAD")) and os.path.isdir(
            os.path.join(path, "objects")
        )

    def git(self, *args):
        return subprocess.run(
            ["git", "--git-dir", self.path, *args], check=True, capture_output=True, text=True
        ).stdout

    def commit(self):
        if self.bare:
            return self.git("rev-parse", "HEAD").strip()
        try:
            return subprocess.run(
                ["git", "-C", self.path, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
            ).stdout.strip()
        except (subprocess.CalledProcessError, FileNotFoundError):
            return "unknown"

    def files(self):
        if self.bare:
            if not hasattr(self, "_files"):
                self._files = self.git("ls-tree", "-r", "--name-only", "HEAD").split()
            return self._files
        out = []
        for root, _, names in os.walk(self.path):
            for n in names:
                out.append(os.path.relpath(os.path.join(root, n), self.path))
        return out

    def read(self, rel):
        if self.bare:
            return self.git("show", "HEAD:" + rel)
        with open(os.path.join(self.path, rel), encoding="utf-8") as f:
            return f.read()


# ---------------------------------------------------------------- proto parsing

FIELD_RE = re.compile(r"^\s*(optional|repeated|required)\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)")
MAP_RE = re.compile(r"^\s*map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>\s+(\w+)\s*=\s*(\d+)")


def parse_proto(text):
    """Returns (package, {message: [(label, type, name, number, map_value)]})."""
    package = None
    messages = {}
    current = None
    depth = 0
    for raw in text.splitlines():
        line = raw.split("//")[0]
        if not line.strip():
            continue
        m = re.match(r"^\s*package\s+([\w.]+)\s*;", line)
        if m:
            package = m.group(1)
            continue
        m = re.match(r"^\s*message\s+(\w+)\s*\{", line)
        if m:
            if current is not None:
                sys.exit(f"nested message {m.group(1)} not supported")
            current = m.group(1)
            messages[current] = []
            depth = 1
            continue
        if current is None:
            continue
        m = FIELD_RE.match(line)
        if m:
            messages[current].append((m.group(1), m.group(2), m.group(3), int(m.group(4)), None))
        else:
            m = MAP_RE.match(line)
            if m:
                if m.group(1) != "string":
                    sys.exit(f"{current}: map key {m.group(1)} not supported")
                messages[current].append(("map", m.group(1), m.group(3), int(m.group(4)), m.group(2)))
        depth += line.count("{") - line.count("}")
        if depth == 0:
            current = None
    return package, messages


def resolve(type_name, package):
    if type_name in UNSUPPORTED_SCALARS:
        sys.exit(f"scalar type {type_name} ({package}) is not supported by the decoder")
    if type_name in SCALARS:
        return type_name
    if type_name.startswith("."):
        return type_name[1:]
    return package + "." + type_name


# ---------------------------------------------------------------- Go parsing

TAG_RE = re.compile(r'(\w+):"([^"]*)"')


class GoField:
    def __init__(self, name, go_type, embedded, tags):
        self.name = name
        self.go_type = go_type
        self.embedded = embedded
        json_tag = tags.get("json")
        parts = json_tag.split(",") if json_tag is not None else [name]
        self.json = parts[0]
        self.omitempty = "omitempty" in parts[1:]
        self.omitzero = "omitzero" in parts[1:]
        self.inline = "inline" in parts[1:] or (embedded and self.json == "")
        self.skip = self.json == "-" and len(parts) == 1
        self.number = None
        pb = tags.get("protobuf")
        if pb and pb != "-":
            self.number = int(pb.split(",")[1])


def parse_go(text, structs, named):
    """Collects struct fields (with protobuf tags) and named slice/map types of one file."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^type\s+(\w+)\s+struct\s*\{", line)
        if m:
            name = m.group(1)
            fields = []
            depth = line.count("{") - line.count("}")
            i += 1
            while i < len(lines) and depth > 0:
                body = lines[i]
                code = re.sub(r"//.*$", "", body) if "`" not in body else body
                stripped = code.strip()
                if stripped.startswith("//"):
                    i += 1
                    continue
                depth += stripped.count("{") - stripped.count("}")
                fm = re.match(r"^\s*([^`]+?)\s*`([^`]*)`", code)
                if depth == 1 and fm:
                    decl = fm.group(1).split()
                    tags = dict(TAG_RE.findall(fm.group(2)))
                    if len(decl) == 1:
                        fields.append(GoField(decl[0].lstrip("*").split(".")[-1], decl[0], True, tags))
                    else:
                        fields.append(GoField(decl[0], " ".join(decl[1:]), False, tags))
                i += 1
            structs.setdefault(name, fields)
            continue
        m = re.match(r"^type\s+(\w+)\s+(\[\]|map\[)", line)
        if m:
            named[m.group(1)] = "slice" if m.group(2) == "[]" else "map"
        i += 1


# ---------------------------------------------------------------- model


class Pkg:
    def __init__(self, proto_package, group, version, structs, named, messages):
        self.proto_package = proto_package
        self.group = group
        self.version = version
        self.structs = structs
        self.named = named
        self.messages = messages


def load(source, directory, group, version):
    proto_package, messages = parse_proto(source.read(directory + "/generated.proto"))
    structs, named = {}, {}
    for f in sorted(source.files()):
        if os.path.dirname(f) != directory or not f.endswith(".go"):
            continue
        base = os.path.basename(f)
        if base.endswith("_test.go") or base.startswith("zz_generated") or base.startswith("generated."):
            continue
        parse_go(source.read(f), structs, named)
    return Pkg(proto_package, group, version, structs, named, messages)


def registered_kinds(source, directory, proto_package):
    """Kinds `register.go` adds to the scheme, as (kind, full message name)."""
    text = source.read(directory + "/register.go")
    kinds = []
    for qualifier, name in re.findall(r"&(?:(\w+)\.)?(\w+)\{\}", text):
        package = "k8s.io.apimachinery.pkg.apis.meta.v1" if qualifier == "metav1" else proto_package
        if qualifier not in ("", "metav1"):
            sys.exit(f"{directory}/register.go: unexpected &{qualifier}.{name}{{}}")
        kinds.append((name, package + "." + name))
    return kinds


def group_of(source, directory):
    text = source.read(directory + "/register.go")
    m = re.search(r'GroupName\s*=\s*"([^"]*)"', text)
    if not m:
        sys.exit(f"no GroupName in {directory}/register.go")
    return m.group(1)


def reachable(all_messages, roots):
    """Names of the messages of `roots` and every message their fields refer to."""
    seen = set()
    todo = [p.proto_package + "." + n for p in roots for n in p.messages]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in all_messages:
            sys.exit(f"unknown message type {name}")
        seen.add(name)
        p, _, fields = all_messages[name]
        for _, type_name, _, _, map_value in fields:
            for t in (type_name, map_value):
                if t is not None and resolve(t, p.proto_package) not in SCALARS:
                    todo.append(resolve(t, p.proto_package))
    return seen


def rust_kind(type_name, index):
    if type_name in SCALARS:
        return SCALARS[type_name]
    if type_name not in index:
        sys.exit(f"unknown message type {type_name}")
    return f"Msg({index[type_name]})"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--api", required=True, help="k8s.io/api: bare git dir or checkout")
    ap.add_argument("--apimachinery", required=True, help="k8s.io/apimachinery: bare git dir or checkout")
    args = ap.parse_args()
    api = Source(args.api)
    machinery = Source(args.apimachinery)

    pkgs = []
    for f in sorted(api.files()):
        if not f.endswith("/generated.proto"):
            continue
        directory = os.path.dirname(f)
        version = os.path.basename(directory)
        pkg = load(api, directory, group_of(api, directory), version)
        # Unstable versions are loaded only for the messages stable ones refer to.
        pkg.stable = "alpha" not in version and "beta" not in version
        pkg.kinds = registered_kinds(api, directory, pkg.proto_package) if pkg.stable else []
        pkgs.append(pkg)
    for directory in APIMACHINERY_DIRS:
        group, version = ("meta.k8s.io", "v1") if directory.endswith("meta/v1") else (None, None)
        pkg = load(machinery, directory, group, version)
        pkg.stable = True
        pkg.kinds = registered_kinds(machinery, directory, pkg.proto_package) if group else []
        pkgs.append(pkg)

    # Full message name -> (pkg, proto fields); sorted so the Rust side can binary-search.
    all_messages = {}
    for p in pkgs:
        for name, fields in p.messages.items():
            all_messages[p.proto_package + "." + name] = (p, name, fields)
    names = sorted(reachable(all_messages, [p for p in pkgs if p.stable]))
    index = {n: i for i, n in enumerate(names)}

    notes = []
    out = []
    for full in names:
        p, short, proto_fields = all_messages[full]
        shape = SPECIAL_SHAPES.get(full, "Struct")
        go_fields = {f.number: f for f in p.structs.get(short, []) if f.number is not None}
        if (
            shape == "Struct"
            and p.named.get(short) == "slice"
            and len(proto_fields) == 1
            and proto_fields[0][0] == "repeated"
            and proto_fields[0][2] == "items"
        ):
            shape = "Items"
        if shape == "Struct" and short not in p.structs:
            notes.append(f"{full}: no Go struct; fields emitted when present")
        # Go declaration order decides nothing on the wire, but keeps the table readable
        # next to types.go; proto order for fields Go does not know.
        order = {f.number: i for i, f in enumerate(p.structs.get(short, [])) if f.number is not None}
        rows = []
        for label, type_name, proto_name, number, map_value in sorted(
            proto_fields, key=lambda f: (order.get(f[3], 10_000), f[3])
        ):
            resolved = resolve(type_name, p.proto_package)
            gf = go_fields.get(number)
            flags = []
            if shape != "Struct":
                json_name = proto_name
                rust_label = {"repeated": "Rep", "map": None}.get(label, "Opt")
            elif gf is None:
                json_name = proto_name
                rust_label = {"repeated": "Rep", "map": None}.get(label, "Opt")
                flags.append("E")
                if short in p.structs:
                    notes.append(f"{full}.{proto_name} ({number}): not in the Go struct")
            else:
                if gf.skip:
                    notes.append(f"{full}.{proto_name}: json:\"-\", dropped")
                    continue
                json_name = gf.json
                if gf.inline:
                    flags.append("I")
                    if not gf.embedded:
                        sys.exit(f"{full}.{proto_name}: inline on a named field")
                elif json_name != proto_name:
                    notes.append(f"{full}.{proto_name}: JSON name {json_name!r}")
                go_type = gf.go_type
                pointer = go_type.startswith("*")
                base = go_type.lstrip("*").split(".")[-1]
                is_slice_like = (
                    go_type.startswith("[]")
                    or go_type.startswith("map[")
                    or p.named.get(base) in ("slice", "map")
                    or any(q.named.get(base) in ("slice", "map") for q in pkgs if "." in go_type)
                )
                is_struct = resolved not in SCALARS and not is_slice_like
                if label == "repeated":
                    rust_label = "Rep"
                elif label == "map":
                    rust_label = None
                elif pointer:
                    rust_label = "Opt"
                else:
                    rust_label = "One"
                # omitempty has no effect on a non-pointer struct in Go's encoder.
                if gf.omitempty and not (is_struct and not pointer):
                    flags.append("E")
                if gf.omitzero:
                    flags.append("Z")
            if label == "map":
                rust_label = f"Map({rust_kind(resolve(map_value, p.proto_package), index)})"
            flag_expr = "|".join(flags) if flags else "0"
            rows.append(f'f({number}, "{json_name}", {rust_kind(resolved, index)}, {rust_label}, {flag_expr})')
        out.append(f'/* {index[full]} */ m("{full}", {shape}, &[{", ".join(rows)}]),')

    kinds = []
    for p in pkgs:
        for kind, full in p.kinds:
            if full not in index:
                # Table and InternalEvent: Go cannot marshal them as protobuf either.
                notes.append(f"{p.group}/{p.version} {kind}: registered but not a proto message")
                continue
            kinds.append((p.group, p.version, kind, index[full]))
    kinds = sorted(set(kinds))

    print("//! Message tables for the protobuf request decoder: every message of the stable API")
    print("//! versions (and what they refer to), with JSON names and Go struct-tag facts.")
    print("//!")
    print("//! Generated by sandbox/tools/gen_protobuf_types.py; do not edit by hand. Sources:")
    print(f"//! k8s.io/api {api.commit()}, k8s.io/apimachinery {machinery.commit()}.")
    print()
    print("// Generator notes (JSON names that differ from proto names, types without Go structs):")
    for n in notes:
        print(f"// - {n}")
    print()
    print("use super::schema::{E, I, Kind::*, Label::*, Message, Shape::*, Z, f, m};")
    print()
    print("/// Kinds each group/version registers (register.go), sorted, with their message.")
    print("pub static KINDS: &[(&str, &str, &str, usize)] = &[")
    for g, v, k, i in kinds:
        print(f'    ("{g}", "{v}", "{k}", {i}),')
    print("];")
    print()
    print("/// Every message, sorted by full name; `Msg(n)` is an index into this table.")
    print("pub static MESSAGES: &[Message] = &[")
    for line in out:
        print("    " + line)
    print("];")


if __name__ == "__main__":
    main()
