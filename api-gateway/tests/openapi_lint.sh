#!/usr/bin/env bash
# gateway_openapi_lint: @redocly/cli lint (pinned in api-gateway/tools/lint,
# installed by deploy/install-deps.sh with `npm ci`) passes on
# api-gateway/openapi.json with no error and no warning, under the rules of
# api-gateway/tools/lint/redocly.yaml. Skips (77) only when node is missing;
# a missing @redocly/cli is a failure. First it shows it would catch a
# problem: the same document with two operations sharing an operationId
# must fail.
set -euo pipefail
src=${1:?usage: openapi_lint.sh SOURCE_DIR}
lint=$src/api-gateway/tools/lint
doc=$src/api-gateway/openapi.json
if ! command -v node >/dev/null; then
  echo "SKIP: node is not installed (deploy/packages.txt has nodejs)"
  exit 77
fi
redocly=$lint/node_modules/.bin/redocly
if [ ! -x "$redocly" ]; then
  echo "FAIL: $redocly is missing: run deploy/install-deps.sh (npm ci in api-gateway/tools/lint)"
  exit 1
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "errors warnings" of one lint run, from its JSON report
count() {
  (cd "$lint" && "$redocly" lint "$1" --config redocly.yaml --format=json 2>/dev/null || true) >"$tmp/report.json"
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.totals.errors + " " + r.totals.warnings);' "$tmp/report.json"
}

# 1. the judge judges: a duplicated operationId is an error
node -e '
  const fs = require("fs");
  const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const ops = [];
  for (const p of Object.values(d.paths)) for (const o of Object.values(p)) ops.push(o);
  ops[1].operationId = ops[0].operationId;
  fs.writeFileSync(process.argv[2], JSON.stringify(d));' "$doc" "$tmp/broken.json"
read -r e w < <(count "$tmp/broken.json")
if [ "$e" -lt 1 ]; then
  echo "FAIL: lint found no error in a document with a duplicated operationId"
  exit 1
fi
echo "ok: a duplicated operationId is caught ($e error(s))"

# 2. the document itself: no error, no warning
read -r e w < <(count "$doc")
if [ "$e" != 0 ] || [ "$w" != 0 ]; then
  (cd "$lint" && "$redocly" lint "$doc" --config redocly.yaml --max-problems 200) || true
  echo "FAIL: redocly lint: $e error(s), $w warning(s) in api-gateway/openapi.json"
  exit 1
fi
ops=$(node -e '
  const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  let n = 0; for (const p of Object.values(d.paths)) n += Object.keys(p).length;
  console.log(n);' "$doc")
echo "ok: redocly lint: 0 errors, 0 warnings in $ops operations"
