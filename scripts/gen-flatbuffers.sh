#!/usr/bin/env bash
# Regenerates the FlatBuffers code for schema/sluice.fbs with the pinned flatc.
#
#   Rust:       crates/sluice-core/src/codec/sluice_generated.rs
#   TypeScript: ts/batch/fb/   (whole directory is generated; do not edit by hand)
#
# flatc is not taken from PATH: the version must match the Rust `flatbuffers` crate pinned in
# Cargo.toml (see schema/FLATC_VERSION). If the pinned flatc is not in the tools cache it is
# built from the crates.io crate `flatc-fork` (=FLATC_CRATE_VERSION below), which vendors the
# FlatBuffers C++ sources of that release. Cargo fetches and checksums the crate; cmake and a
# C++ compiler build flatc. Nothing is written into the repository except the generated files.
#
# Environment:
#   SLUICE_TOOLS_DIR  cache directory for tools (default: $HOME/.cache/sluice-tools);
#                     flatc ends up in $SLUICE_TOOLS_DIR/flatc-<version>/bin/flatc
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SCHEMA="schema/sluice.fbs"
RUST_OUT="crates/sluice-core/src/codec/sluice_generated.rs"
TS_OUT="ts/batch/fb"

# First line of schema/FLATC_VERSION is the version; the rest is commentary.
FLATC_VERSION="$(head -n 1 schema/FLATC_VERSION | tr -d '[:space:]')"
# crates.io crate that vendors the FlatBuffers sources of exactly that release
# (its build metadata, after the '+', is the FlatBuffers version).
FLATC_CRATE="flatc-fork"
FLATC_CRATE_VERSION="0.5.0+25.12.19"
if [[ "${FLATC_CRATE_VERSION#*+}" != "$FLATC_VERSION" ]]; then
  echo "gen-flatbuffers: schema/FLATC_VERSION says '$FLATC_VERSION' but this script pins" \
    "$FLATC_CRATE $FLATC_CRATE_VERSION; update FLATC_CRATE_VERSION as well" >&2
  exit 1
fi

TOOLS_DIR="${SLUICE_TOOLS_DIR:-$HOME/.cache/sluice-tools}"
FLATC_DIR="$TOOLS_DIR/flatc-$FLATC_VERSION"
FLATC="$FLATC_DIR/bin/flatc"

need() {
  command -v "$1" >/dev/null 2>&1 || {
    echo "gen-flatbuffers: '$1' is required to build flatc $FLATC_VERSION" >&2
    exit 1
  }
}

build_flatc() {
  need cargo
  need cmake
  need node
  local work="$FLATC_DIR/build"
  rm -rf "$work"
  mkdir -p "$work/src" "$FLATC_DIR/bin"

  # A throwaway crate whose only purpose is to make cargo fetch (and checksum) the pinned crate.
  # Cargo ignores build metadata in requirements (crates.io allows one 0.5.0), so the metadata
  # is checked on the resolved package below.
  cat >"$work/Cargo.toml" <<EOF
[package]
name = "sluice-flatc-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
$FLATC_CRATE = "=${FLATC_CRATE_VERSION%%+*}"

[workspace]
EOF
  echo 'fn main() {}' >"$work/src/main.rs"

  echo "gen-flatbuffers: fetching $FLATC_CRATE $FLATC_CRATE_VERSION from crates.io" >&2
  cargo fetch --manifest-path "$work/Cargo.toml" >&2
  local manifest
  manifest="$(cargo metadata --format-version 1 --manifest-path "$work/Cargo.toml" |
    node -e '
      let s = "";
      process.stdin.on("data", (d) => (s += d)).on("end", () => {
        const [name, version] = process.argv.slice(1);
        const p = JSON.parse(s).packages.find((p) => p.name === name && p.version === version);
        if (!p) { console.error(`package ${name} ${version} not in cargo metadata`); process.exit(1); }
        console.log(p.manifest_path);
      });' "$FLATC_CRATE" "$FLATC_CRATE_VERSION")"
  local src
  src="$(dirname "$manifest")/flatbuffers"
  [[ -f "$src/CMakeLists.txt" ]] || {
    echo "gen-flatbuffers: no FlatBuffers sources at $src" >&2
    exit 1
  }

  echo "gen-flatbuffers: building flatc $FLATC_VERSION (cmake, Release, flatc target only)" >&2
  cmake -S "$src" -B "$work/cmake" \
    -DCMAKE_BUILD_TYPE=Release \
    -DFLATBUFFERS_BUILD_TESTS=OFF \
    -DFLATBUFFERS_BUILD_FLATLIB=OFF \
    -DFLATBUFFERS_BUILD_FLATHASH=OFF \
    -DFLATBUFFERS_BUILD_FLATC=ON \
    -DFLATBUFFERS_INSTALL=OFF >&2
  local jobs
  jobs="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
  cmake --build "$work/cmake" --target flatc --parallel "$jobs" >&2

  install -m 0755 "$work/cmake/flatc" "$FLATC.tmp"
  mv -f "$FLATC.tmp" "$FLATC"
  rm -rf "$work"
}

check_flatc() {
  local out
  out="$("$FLATC" --version 2>&1)" || return 1
  [[ "$out" == "flatc version $FLATC_VERSION" ]]
}

if [[ ! -x "$FLATC" ]] || ! check_flatc; then
  build_flatc
fi
if ! check_flatc; then
  echo "gen-flatbuffers: $FLATC reports '$("$FLATC" --version 2>&1 || true)'," \
    "expected 'flatc version $FLATC_VERSION'" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Rust: one file, module tree sluice::fb inside it.
"$FLATC" --rust -o "$tmp/rust/" "$SCHEMA"
# TypeScript: one file per type plus namespace entry points. Relative imports carry `.js`
# extensions (flatc's default; --ts-no-import-ext would drop them), as NodeNext requires.
"$FLATC" --ts -o "$tmp/ts/" "$SCHEMA"

mkdir -p "$(dirname "$RUST_OUT")"
cp "$tmp/rust/sluice_generated.rs" "$RUST_OUT"

# Replace the whole TS output directory so files of removed types do not linger.
rm -rf "$TS_OUT"
mkdir -p "$TS_OUT"
cp -R "$tmp/ts/." "$TS_OUT/"

echo "gen-flatbuffers: flatc $FLATC_VERSION -> $RUST_OUT, $TS_OUT/" >&2
