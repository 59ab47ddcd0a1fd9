/* SPDX-License-Identifier: MIT */
/* The v1 route table: every route bangerd serves, and nothing else. Each path parameter is
 * typed (router.h), so no handler sees a name or id that is not valid. */
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
    {"GET", "/v1/system/version", bg_handle_system_version, 0, NULL},
    {"GET", "/v1/system/info", bg_handle_system_info, 0, NULL},
    {"GET", "/v1/images", bg_handle_images_list, 0, NULL},
    {"POST", "/v1/images", bg_handle_images_create, BG_ROUTE_BODY, NULL},
    {"POST", "/v1/images/build", bg_handle_images_build, BG_ROUTE_BODY, NULL},
    {"GET", "/v1/images/{name:image}", bg_handle_images_get, 0, NULL},
    {"DELETE", "/v1/images/{name:image}", bg_handle_images_delete, 0, NULL},
    {"GET", "/v1/vms", bg_handle_vms_list, 0, q_state},
    {"POST", "/v1/vms", bg_handle_vms_create, BG_ROUTE_BODY, NULL},
    {"GET", "/v1/vms/{name:vm}", bg_handle_vms_get, 0, NULL},
    {"PATCH", "/v1/vms/{name:vm}", bg_handle_vms_patch, BG_ROUTE_BODY, NULL},
    {"DELETE", "/v1/vms/{name:vm}", bg_handle_vms_delete, 0, q_force},
    {"POST", "/v1/vms/{name:vm}/start", bg_handle_vms_start, 0, NULL},
    {"POST", "/v1/vms/{name:vm}/stop", bg_handle_vms_stop, 0, q_timeout},
    {"GET", "/v1/vms/{name:vm}/console", bg_handle_vms_console, 0, q_tail},
    {"GET", "/v1/operations", bg_handle_operations_list, 0, NULL},
    {"GET", "/v1/operations/{id:operation}", bg_handle_operations_get, 0, q_wait},
    {"GET", "/v1/events", bg_handle_events_stream, 0, q_since},
    {"POST", "/v1/vms/{name:vm}/exec", bg_handle_vms_exec, BG_ROUTE_BODY, NULL},
    {"GET", "/v1/execs/{id:exec}", bg_handle_execs_get, 0, NULL},
    {"POST", "/v1/vms/{name:vm}/workspace", bg_handle_vms_workspace, BG_ROUTE_BODY, NULL},
    {"PUT", "/v1/vms/{name:vm}/files", bg_handle_vms_files_put, BG_ROUTE_STREAM, q_path},
    {"GET", "/v1/vms/{name:vm}/files", bg_handle_vms_files_get, 0, q_path},
    {"POST", "/v1/vms/{name:vm}/tunnel", bg_handle_vms_tunnel, BG_ROUTE_BODY, NULL},
};

void bg_rest_routes(const struct bg_route **ret_table, size_t *ret_n)
{
    *ret_table = routes;
    *ret_n = sizeof(routes) / sizeof(routes[0]);
}
