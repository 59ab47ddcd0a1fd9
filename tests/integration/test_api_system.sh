#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The system resource and the router: version and info shapes, where each config value came
# from (default, file line, environment, flag), the refusals of unknown routes, methods and
# query parameters, the Banger-Api-Version header, and bangerd --print-routes.
source "$(dirname "$0")/lib.sh"

kernel=$T/vmlinuz
make_file "$kernel" 16

# The header every response carries, checked after the api call before it.
expect_api_header() {
  expect_eq "$(header Banger-Api-Version)" 1 "Banger-Api-Version on ${1:-the last response}"
}

# --- bangerd's exit codes: 2 for a mistake in its command line (whatever the message says),
# 1 for a configuration that cannot be used
for args in "--bogus" "--log-level loud" "--shutdown-timeout 0" "--socket" "stray"; do
  rc=0
  # shellcheck disable=SC2086
  "$BANGERD" $args >"$T/usage.log" 2>&1 || rc=$?
  expect_eq "$rc" 2 "bangerd $args exits 2"
  expect_eq "$(grep -c '^bangerd: ' "$T/usage.log")" 1 "bangerd $args says why on one line"
done
rc=0
BANGERD_LOG_LEVEL=loud "$BANGERD" >"$T/config.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "a bad BANGERD_LOG_LEVEL exits 1"
rc=0
mkfifo "$T/fifo.toml"
timeout 10 "$BANGERD" --config "$T/fifo.toml" >"$T/fifo.log" 2>&1 || rc=$?
expect_eq "$rc" 1 "a FIFO as the config file is refused at once"
expect_eq "$(grep -c 'not a regular file' "$T/fifo.log")" 1 "the FIFO refusal says why"

start_daemon

# --- version
api GET /v1/system/version
expect_status 200 "version"
expect_api_header "version"
[[ "$CTYPE" == application/json* ]] && pass || fail "version content type '$CTYPE'"
expect_json .api_version v1
expect_json '.version | test("^[0-9]+\\.[0-9]+\\.[0-9]+")' true "version is x.y.z"
expect_json '.features | type' array "features type"
expect_json '.features | index("events.since") != null' true "features contains events.since"
for f in images.build vms.exec vms.exec.stream vms.workspace execs; do
  expect_json ".features | index(\"$f\") != null" true "features contains $f (it ships)"
done
expect_json '[.features[] | select(type != "string")] | length' 0 "features are strings"

# --- info on a fresh daemon
api GET /v1/system/info
expect_status 200 "info"
expect_api_header "info"
expect_json .mode user
expect_json .socket "$SOCK"
expect_json .pid "$DAEMON_PID"
expect_json .state_dir "$XDG_STATE_HOME/banger"
expect_json .runtime_dir "$XDG_RUNTIME_DIR/banger"
expect_json '.database | startswith("'"$XDG_STATE_HOME"'/")' true "database under XDG_STATE_HOME"
db=$(jq -r .database <<<"$BODY")
[[ -f "$db" ]] && pass || fail "database '$db' does not exist"
expect_json '.started_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")' true \
  "started_at is RFC 3339"
expect_json .counts.vms 0 "vm count on a fresh daemon"
expect_json .counts.images 0 "image count on a fresh daemon"
expect_json .config.vm_default_vcpus.value 2 "default vcpus"
expect_json .config.vm_default_vcpus.source default "vcpus source without configuration"
expect_json .config.socket.value "$SOCK" "config socket"
expect_json '[.config[] | .source] | unique | join(",")' default "every source is default"

# --- counts follow the records
import_image base "$kernel"
api POST /v1/vms '{"name":"one","image":"base"}'
expect_status 201 "create one"
api GET /v1/system/info
expect_json .counts.vms 1 "vm count after a create"
expect_json .counts.images 1 "image count after an import"
stop_daemon
expect_eq "$DAEMON_RC" 0 "first daemon exit"

# --- provenance: file line, environment and flag, and the rest default
cfg=$XDG_CONFIG_HOME/banger/bangerd.toml
mkdir -p "$(dirname "$cfg")"
printf '# test configuration\n\nvm_default_vcpus = 3\n' >"$cfg"
BANGERD_EVENT_HISTORY=500 start_daemon --shutdown-timeout 7
api GET /v1/system/info
expect_status 200 "info with configuration"
expect_json .config.vm_default_vcpus.value 3 "vcpus from the file"
expect_json .config.vm_default_vcpus.source "file:$cfg:3" "vcpus source"
expect_json .config.event_history.value 500 "event history from the environment"
expect_json .config.event_history.source env:BANGERD_EVENT_HISTORY "event history source"
expect_json .config.shutdown_timeout_s.value 7 "shutdown timeout from the flag"
expect_json .config.shutdown_timeout_s.source flag:--shutdown-timeout "shutdown timeout source"
expect_json .config.vm_default_memory_mib.source default "untouched key source"
expect_json .config.vm_default_memory_mib.value 1024 "untouched key value"
expect_json .config.config_file.value "$cfg" "config file path"

# The configured default applies to a VM created without vcpus; an explicit value wins.
api POST /v1/vms '{"name":"two","image":"base"}'
expect_status 201 "create with the configured default"
expect_json .vcpus 3 "vcpus from vm_default_vcpus"
api POST /v1/vms '{"name":"three","image":"base","vcpus":5}'
expect_json .vcpus 5 "explicit vcpus beats the configured default"
api GET /v1/vms/one
expect_json .vcpus 2 "an earlier VM keeps its vcpus"

# --- routing refusals
api GET /v1/nothing
expect_problem 404 not_found
expect_api_header "404"
expect_json .instance /v1/nothing "instance of the unknown route"
api GET /v2/vms
expect_problem 404 not_found
api GET /
expect_problem 404 not_found

api PUT /v1/vms
expect_problem 405 method_not_allowed
expect_api_header "405"
allow=$(header Allow)
expect_contains "$allow" GET "Allow header"
expect_contains "$allow" POST "Allow header"
[[ "$allow" != *DELETE* ]] && pass || fail "Allow header '$allow' lists DELETE"
api DELETE /v1/system/version
expect_problem 405 method_not_allowed
expect_eq "$(header Allow)" "GET, HEAD" "Allow on a GET-only route"

api GET /v1/vms/
expect_problem 404 not_found
api GET //v1/vms "" --path-as-is
expect_problem 404 not_found
api GET /v1//vms "" --path-as-is
expect_problem 404 not_found
api GET /v1/vms/one/
expect_problem 404 not_found

api GET '/v1/vms?foo=1'
expect_problem 400 invalid_query
expect_api_header "400"
expect_contains "$(jq -r .detail <<<"$BODY")" foo "invalid_query detail names the parameter"
api GET '/v1/vms?state=created'
expect_status 200 "a known query parameter"

# --- the header is on success, conditional and error answers alike
api GET /v1/vms
etag=$(header ETag)
api GET /v1/vms "" -H "If-None-Match: $etag"
expect_status 304 "conditional GET"
expect_eq "$BODY" "" "304 body"
expect_api_header "304"
api GET /v1/vms/nope
expect_problem 404 vm_not_found
expect_api_header "vm_not_found"
api POST /v1/vms '{"name":"bad"'
expect_problem 400 invalid_json
expect_api_header "invalid_json"
stop_daemon

# --- bangerd --print-routes needs no daemon and lists the v1 routes
rc=0
"$BANGERD" --print-routes >"$T/routes" 2>"$T/routes.err" || rc=$?
expect_eq "$rc" 0 "--print-routes exit code"
for r in "GET /v1/system/version" "GET /v1/system/info" "GET /v1/images" "POST /v1/images" \
  "GET /v1/images/{name}" "DELETE /v1/images/{name}" "GET /v1/vms" "POST /v1/vms" \
  "GET /v1/vms/{name}" "PATCH /v1/vms/{name}" "DELETE /v1/vms/{name}" "GET /v1/operations" \
  "GET /v1/operations/{id}" "GET /v1/events"; do
  grep -qxF "$r" "$T/routes" && pass || fail "--print-routes lacks '$r'"
done
n=$(wc -l <"$T/routes")
((n >= 14)) && pass || fail "--print-routes lists $n routes, want at least 14"
bad=$(grep -cvE '^(GET|HEAD|POST|PUT|PATCH|DELETE) /v1/[a-z{}/]+$' "$T/routes" || true)
expect_eq "$bad" 0 "lines of --print-routes that are not 'METHOD /v1/...'"
expect_eq "$(sort "$T/routes" | uniq -d)" "" "duplicate routes"

# Every printed route is served: none of them answers the router's not_found.
start_daemon
while read -r method pattern; do
  [[ "$pattern" == /v1/events ]] && continue # a stream; test_api_events.sh covers it
  path=${pattern//\{name\}/no-such-thing}
  path=${path//\{id\}/op-0000000000000000}
  api "$method" "$path"
  [[ $(jq -r .code <<<"$BODY" 2>/dev/null) != not_found && "$STATUS" != 405 ]] && pass ||
    fail "printed route '$method $pattern' is not served: $STATUS $BODY"
done <"$T/routes"
stop_daemon

finish
