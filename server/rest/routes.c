/* SPDX-License-Identifier: MIT */
/* The v1 route table: every route bangerd serves, and nothing else. Each path parameter is
 * typed (router.h), so no handler sees a name or id that is not valid. The last member is the
 * scope a token needs for the route over TCP (banger/token.h): read for what only shows,
 * write for what creates, changes, starts, stops or deletes, exec for what runs in or puts
 * files into a VM, admin for tokens, BG_SCOPE_ANY for the version. 0 (or leaving it out) serves
 * the route on the unix socket only (403 local_only over TCP), so none is open remotely by
 * accident; that is also the scope of what reads files of the daemon's own host by path (an
 * image import, a workspace of a host repository), which a remote client cannot name. */
#include "banger/token.h"
#include "http/http.h"
#include "rest/handlers.h"

static const char *const q_state[] = {"state", NULL};
static const char *const q_wait[] = {"wait", NULL};
static const char *const q_since[] = {"since", NULL};
static const char *const q_force[] = {"force", NULL};
static const char *const q_timeout[] = {"timeout", NULL};
static const char *const q_tail[] = {"tail", NULL};
static const char *const q_path[] = {"path", NULL};

static const struct bg_route routes[] = {
    {"GET", "/v1/system/version", bg_handle_system_version, 0, NULL, BG_SCOPE_ANY},
    {"GET", "/v1/system/info", bg_handle_system_info, 0, NULL, BG_SCOPE_READ},
    {"GET", "/v1/system/doctor", bg_handle_system_doctor, 0, NULL, BG_SCOPE_READ},
    {"GET", "/v1/images", bg_handle_images_list, 0, NULL, BG_SCOPE_READ},
    {"POST", "/v1/images", bg_handle_images_create, BG_ROUTE_BODY, NULL, 0},
    {"POST", "/v1/images/build", bg_handle_images_build, BG_ROUTE_BODY, NULL, BG_SCOPE_WRITE},
    {"GET", "/v1/images/{name:image}", bg_handle_images_get, 0, NULL, BG_SCOPE_READ},
    {"DELETE", "/v1/images/{name:image}", bg_handle_images_delete, 0, NULL, BG_SCOPE_WRITE},
    {"GET", "/v1/vms", bg_handle_vms_list, 0, q_state, BG_SCOPE_READ},
    {"POST", "/v1/vms", bg_handle_vms_create, BG_ROUTE_BODY, NULL, BG_SCOPE_WRITE},
    {"GET", "/v1/vms/{name:vm}", bg_handle_vms_get, 0, NULL, BG_SCOPE_READ},
    {"PATCH", "/v1/vms/{name:vm}", bg_handle_vms_patch, BG_ROUTE_BODY, NULL, BG_SCOPE_WRITE},
    {"DELETE", "/v1/vms/{name:vm}", bg_handle_vms_delete, 0, q_force, BG_SCOPE_WRITE},
    {"POST", "/v1/vms/{name:vm}/start", bg_handle_vms_start, 0, NULL, BG_SCOPE_WRITE},
    {"POST", "/v1/vms/{name:vm}/stop", bg_handle_vms_stop, 0, q_timeout, BG_SCOPE_WRITE},
    {"GET", "/v1/vms/{name:vm}/console", bg_handle_vms_console, 0, q_tail, BG_SCOPE_READ},
    {"GET", "/v1/operations", bg_handle_operations_list, 0, NULL, BG_SCOPE_READ},
    {"GET", "/v1/operations/{id:operation}", bg_handle_operations_get, 0, q_wait, BG_SCOPE_READ},
    {"GET", "/v1/events", bg_handle_events_stream, 0, q_since, BG_SCOPE_READ},
    {"POST", "/v1/vms/{name:vm}/exec", bg_handle_vms_exec, BG_ROUTE_BODY, NULL, BG_SCOPE_EXEC},
    {"GET", "/v1/execs/{id:exec}", bg_handle_execs_get, 0, NULL, BG_SCOPE_EXEC},
    {"POST", "/v1/vms/{name:vm}/workspace", bg_handle_vms_workspace, BG_ROUTE_BODY, NULL, 0},
    {"PUT", "/v1/vms/{name:vm}/files", bg_handle_vms_files_put, BG_ROUTE_STREAM, q_path,
     BG_SCOPE_EXEC},
    {"GET", "/v1/vms/{name:vm}/files", bg_handle_vms_files_get, 0, q_path, BG_SCOPE_EXEC},
    {"POST", "/v1/vms/{name:vm}/tunnel", bg_handle_vms_tunnel, BG_ROUTE_BODY, NULL, BG_SCOPE_EXEC},
    {"POST", "/v1/tokens", bg_handle_tokens_create, BG_ROUTE_BODY, NULL, BG_SCOPE_ADMIN},
    {"GET", "/v1/tokens", bg_handle_tokens_list, 0, NULL, BG_SCOPE_ADMIN},
    {"GET", "/v1/tokens/{id:token}", bg_handle_tokens_get, 0, NULL, BG_SCOPE_ADMIN},
    {"DELETE", "/v1/tokens/{id:token}", bg_handle_tokens_delete, 0, NULL, BG_SCOPE_ADMIN},
};

void bg_rest_routes(const struct bg_route **ret_table, size_t *ret_n)
{
    *ret_table = routes;
    *ret_n = sizeof(routes) / sizeof(routes[0]);
}
