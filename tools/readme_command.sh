#!/usr/bin/env bash
# Run one of the README's commands exactly as written there (CI calls this so README and CI cannot drift).
# Usage: tools/readme_command.sh main|tests   -- the ```bash block after '<!-- readme-command: NAME -->'.
set -euo pipefail
name=${1:?usage: readme_command.sh main|tests}
cd "$(dirname "$0")/.."
cmd=$(awk -v tag="<!-- readme-command: $name -->" '
  $0 == tag {found=1; next}
  found && /^```bash/ {inblock=1; next}
  inblock && /^```/ {exit}
  inblock {print}
' README.md)
[ -n "$cmd" ] || { echo "README.md has no command tagged '$name'" >&2; exit 2; }
echo "+ $cmd"
bash -euo pipefail -c "$cmd"
