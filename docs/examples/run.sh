#!/usr/bin/env bash
# run.sh FILE runs one walkthrough of the README with its checks, stopping at
# the first command or check that fails. Start a server first (the
# walkthrough's first line says how), and run it in an empty directory: the
# walkthroughs write cookie jars and small files where they run.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
trap 'rm -rf "$_answer"' EXIT
. "$1"
