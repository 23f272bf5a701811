#!/usr/bin/env bash
# build.sh DIR [cmake options...]: configures and builds Fieldbook into DIR with 2 jobs.
set -euo pipefail
dir="$1"; shift
root="$(cd "$(dirname "$0")/.." && pwd)"
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$dir" -j"${FIELDBOOK_JOBS:-2}"
