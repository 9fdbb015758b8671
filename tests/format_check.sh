#!/usr/bin/env bash
# tests/format_check.sh — fails when a C file of the tree is not formatted as the repository's
# .clang-format says, and lists those files with the command that fixes them. The files are
# git's tracked *.c/*.h (every *.c/*.h below the root outside build trees when this is not a
# git checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format_check: clang-format is not installed (apt-get install clang-format)" >&2; exit 1; }
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files '*.c' '*.h')
else
    mapfile -t files < <(find . -path './build*' -prune -o -name '*.[ch]' -print)
fi
bad=()
for f in "${files[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]} > 0)); then
    echo "format_check: ${#bad[@]} of ${#files[@]} files are not clang-formatted:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    echo "fix: clang-format -i ${bad[*]}" >&2
    exit 1
fi
echo "format_check: ${#files[@]} files formatted as .clang-format says"
