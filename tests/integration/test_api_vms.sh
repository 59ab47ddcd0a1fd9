#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# VM records through the API: create with defaults and with every field, each field's
# refusal (status, code and field), listing with ?state and ETag/If-None-Match, merge-patch
# updates and their refusals, delete, and many VMs at once.
source "$(dirname "$0")/lib.sh"

kernel=$T/vmlinuz
make_file "$kernel" 16
start_daemon
import_image base "$kernel"
import_image other "$kernel"

# --- create with defaults
api POST /v1/vms '{"name":"web","image":"base"}'
expect_status 201 "create web"
expect_eq "$(header Location)" /v1/vms/web "Location of the VM"
expect_json .name web
expect_json .image base
expect_json .state created
expect_json .vcpus 2 "default vcpus"
expect_json .memory_mib 1024 "default memory_mib"
expect_json .disk_mib 8192 "default disk_mib"
expect_json .nat false "default nat"
expect_json '.created_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}")' true \
  "created_at is RFC 3339"
expect_json '.updated_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")' true "updated_at"

# --- create with every field, at the edges of their ranges
api POST /v1/vms '{"name":"db","image":"other","vcpus":32,"memory_mib":65536,"disk_mib":512,"nat":true}'
expect_status 201 "create db with every field"
expect_json .image other
expect_json .vcpus 32
expect_json .memory_mib 65536
expect_json .disk_mib 512
expect_json .nat true
api POST /v1/vms '{"name":"small","image":"base","vcpus":1,"memory_mib":128,"disk_mib":1048576,"nat":false}'
expect_status 201 "create small at the lower limits"
expect_json .vcpus 1
expect_json .memory_mib 128
expect_json .disk_mib 1048576

# --- refusals of a create
refuse() { # BODY STATUS CODE [FIELD]
  api POST /v1/vms "$1"
  expect_problem "$2" "$3" "${4:-}"
  expect_json .instance /v1/vms "instance of $3 ($1)"
}
refuse '{"name":"x","image":"base","vcpus":0}' 400 invalid_field vcpus
refuse '{"name":"x","image":"base","vcpus":33}' 400 invalid_field vcpus
refuse '{"name":"x","image":"base","vcpus":"2"}' 400 invalid_field vcpus
refuse '{"name":"x","image":"base","vcpus":2.5}' 400 invalid_field vcpus
refuse '{"name":"x","image":"base","vcpus":-1}' 400 invalid_field vcpus
refuse '{"name":"x","image":"base","memory_mib":127}' 400 invalid_field memory_mib
refuse '{"name":"x","image":"base","memory_mib":65537}' 400 invalid_field memory_mib
refuse '{"name":"x","image":"base","disk_mib":511}' 400 invalid_field disk_mib
refuse '{"name":"x","image":"base","disk_mib":1048577}' 400 invalid_field disk_mib
refuse '{"name":"x","image":"base","nat":"yes"}' 400 invalid_field nat
refuse '{"name":"x","image":"base","nat":1}' 400 invalid_field nat
refuse '{"name":"Web","image":"base"}' 400 invalid_name name
refuse '{"name":"-a","image":"base"}' 400 invalid_name name
refuse '{"name":"a-","image":"base"}' 400 invalid_name name
refuse '{"name":"'"$(printf 'a%.0s' {1..64})"'","image":"base"}' 400 invalid_name name
refuse '{"name":"a_b","image":"base"}' 400 invalid_name name
refuse '{"name":"","image":"base"}' 400 invalid_name name
refuse '{"name":5,"image":"base"}' 400 invalid_field name
refuse '{"image":"base"}' 400 missing_field name
# without an image the daemon's vm_default_image ("default") is asked for; it is not there
refuse '{"name":"x"}' 404 image_not_found image
expect_contains "$(jq -r .detail <<<"$BODY")" "make it with 'banger image build'" \
  "a missing default image names the command that makes it"
refuse '{"name":"x","image":"base","cpus":2}' 400 unknown_field cpus
refuse '{"name":"x","image":"nosuch"}' 404 image_not_found image
refuse '{"name":"web","image":"base"}' 409 vm_exists
refuse '{"name":"x",' 400 invalid_json
api POST /v1/vms '{"name":"x","image":"base"}' -H 'Content-Type: text/plain'
expect_problem 415 unsupported_media_type
api GET /v1/vms/x
expect_problem 404 vm_not_found
expect_json .instance /v1/vms/x "instance of vm_not_found"

# --- list, sorted by name, filtered by state
api GET /v1/vms
expect_status 200 "list VMs"
expect_json '[.vms[].name] | join(",")' "db,small,web" "VMs sorted by name"
api GET '/v1/vms?state=created'
expect_status 200 "list created VMs"
expect_json '[.vms[].name] | join(",")' "db,small,web" "created VMs"
api GET '/v1/vms?state=running'
expect_status 200 "list running VMs"
expect_json '.vms | length' 0 "no running VMs"
api GET '/v1/vms?state=bogus'
expect_problem 400 invalid_query
api GET '/v1/vms?state='
expect_problem 400 invalid_query

# --- ETag and If-None-Match
api GET /v1/vms
etag=$(header ETag)
[[ -n "$etag" ]] && pass || fail "GET /v1/vms has no ETag"
api GET /v1/vms "" -H "If-None-Match: $etag"
expect_status 304 "If-None-Match with the current ETag"
expect_eq "$BODY" "" "304 body"
expect_eq "$(header ETag)" "$etag" "ETag on the 304"
api GET /v1/vms "" -H 'If-None-Match: "not-the-etag"'
expect_status 200 "If-None-Match with another ETag"
# RFC 9110 13.1.2: "*" matches any current representation, and a list matches if any
# member does (weak comparison).
api GET /v1/vms "" -H 'If-None-Match: *'
expect_status 304 "If-None-Match: *"
api GET /v1/vms "" -H "If-None-Match: \"other\", $etag"
expect_status 304 "If-None-Match list holding the current ETag"
api GET /v1/vms "" -H "If-None-Match: W/$etag"
expect_status 304 "If-None-Match with the weak form of the current ETag"
api PATCH /v1/vms/web '{"nat":true}'
expect_status 200 "a change"
api GET /v1/vms "" -H "If-None-Match: $etag"
expect_status 200 "old ETag after a change"
expect_json '.vms | length' 3 "full body after a change"
new_etag=$(header ETag)
[[ -n "$new_etag" && "$new_etag" != "$etag" ]] && pass || fail "ETag '$new_etag' did not change"
api GET /v1/vms "" -H "If-None-Match: $new_etag"
expect_status 304 "the new ETag"

# --- get one
api GET /v1/vms/db
expect_status 200 "get db"
expect_json .name db
expect_json .vcpus 32
api GET /v1/vms/nosuch
expect_problem 404 vm_not_found
api GET /v1/vms/NotAName
expect_problem 400 invalid_path

# --- patch
api PATCH /v1/vms/web '{"vcpus":4,"memory_mib":2048}' -H 'Content-Type: application/merge-patch+json'
expect_status 200 "merge-patch"
expect_json .vcpus 4
expect_json .memory_mib 2048
expect_json .nat true "an absent field is unchanged"
expect_json .disk_mib 8192 "an absent disk_mib is unchanged"
api PATCH /v1/vms/web '{"nat":false,"vcpus":3}'
expect_status 200 "patch with application/json"
expect_json .nat false
expect_json .vcpus 3
expect_json .memory_mib 2048 "memory kept"
api PATCH /v1/vms/web '{"disk_mib":16384}'
expect_status 200 "grow the disk"
expect_json .disk_mib 16384
api PATCH /v1/vms/web '{"disk_mib":16384}'
expect_status 200 "same disk size"
api PATCH /v1/vms/web '{}'
expect_status 200 "empty patch"
expect_json .vcpus 3 "empty patch changes nothing"
api GET /v1/vms/web
expect_json '[.vcpus,.memory_mib,.disk_mib,.nat] | map(tostring) | join(",")' "3,2048,16384,false" \
  "patched values persist"

patch_refuse() { # BODY STATUS CODE [FIELD]
  api PATCH /v1/vms/web "$1"
  expect_problem "$2" "$3" "${4:-}"
}
patch_refuse '{"name":"web2"}' 400 field_immutable name
patch_refuse '{"image":"other"}' 400 field_immutable image
patch_refuse '{"disk_mib":8192}' 400 invalid_field disk_mib
expect_contains "$(jq -r .detail <<<"$BODY")" "only grow" "disk shrink detail"
patch_refuse '{"cpus":4}' 400 unknown_field cpus
patch_refuse '{"vcpus":null}' 400 invalid_field vcpus
patch_refuse '{"vcpus":33}' 400 invalid_field vcpus
patch_refuse '{"memory_mib":"big"}' 400 invalid_field memory_mib
patch_refuse '{"nat":"no"}' 400 invalid_field nat
patch_refuse '{"state":"running"}' 400 unknown_field state
patch_refuse '[1]' 400 invalid_json
api PATCH /v1/vms/web '{"vcpus":2}' -H 'Content-Type: text/plain'
expect_problem 415 unsupported_media_type
api GET /v1/vms/web
expect_json '[.vcpus,.memory_mib,.disk_mib,.nat] | map(tostring) | join(",")' "3,2048,16384,false" \
  "refused patches change nothing"
api PATCH /v1/vms/nosuch '{"vcpus":2}'
expect_problem 404 vm_not_found

# --- delete
api DELETE /v1/vms/small
expect_status 204 "delete small"
expect_eq "$BODY" "" "204 body"
api GET /v1/vms/small
expect_problem 404 vm_not_found
api DELETE /v1/vms/small
expect_problem 404 vm_not_found
api DELETE /v1/vms/never-was
expect_problem 404 vm_not_found
api GET /v1/vms
expect_json '[.vms[].name] | join(",")' "db,web" "VMs after the delete"

# --- a 63-character name is the longest allowed
long=$(printf 'b%.0s' {1..63})
api POST /v1/vms "{\"name\":\"$long\",\"image\":\"base\"}"
expect_status 201 "63-character name"
expect_eq "$(header Location)" "/v1/vms/$long" "Location of the long name"
api GET "/v1/vms/$long"
expect_json .name "$long"

# --- many VMs
for i in $(seq -w 1 50); do
  api POST /v1/vms "{\"name\":\"many-$i\",\"image\":\"base\"}"
  [[ "$STATUS" == 201 ]] || fail "create many-$i: $STATUS $BODY"
done
api GET /v1/vms
expect_json '.vms | length' 53 "VM count after 50 creates"
expect_json '[.vms[].name | select(startswith("many-"))] | length' 50 "the 50 VMs"
expect_json '[.vms[].name] == ([.vms[].name] | sort)' true "50 VMs sorted"
api GET /v1/system/info
expect_json .counts.vms 53 "info counts the VMs"
api DELETE /v1/images/base
expect_problem 409 image_in_use
expect_contains "$(jq -r .detail <<<"$BODY")" many-01 "image_in_use names a VM"

stop_daemon
finish
