#!/bin/sh
# build.sh [OUTPUT]: builds mongowire (default ./mongowire) on FerretDB v1.24.0
# with one file replaced by _patch/sqlite_metadata.go, so that its SQLite
# backend finds documents by _id with its _id index instead of scanning the
# whole table (see README.md). It copies the module from the module cache,
# patches the copy and builds with a go.mod that points at it (-modfile):
# go build's -overlay may not replace files in the module cache. A plain
# "go build ." still works and gives stock FerretDB, only slower.
set -eu
out=${1:-mongowire}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "$(dirname "$0")"
ferret=$(go list -m -f '{{.Dir}}' github.com/FerretDB/FerretDB)
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
cp -R "$ferret" "$tmp/ferretdb"
chmod -R u+w "$tmp/ferretdb"
cp _patch/sqlite_metadata.go "$tmp/ferretdb/internal/backends/sqlite/metadata/metadata.go"
cp go.mod go.sum "$tmp/"
go mod edit -modfile="$tmp/go.mod" -replace github.com/FerretDB/FerretDB="$tmp/ferretdb"
go build -modfile="$tmp/go.mod" -o "$out" .
