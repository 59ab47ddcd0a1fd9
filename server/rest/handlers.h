/* SPDX-License-Identifier: MIT */
/* Request handlers, one file per resource. Each takes a routed request and replies. */
#pragma once

#include "http/http.h"

/* The route table bangerd serves, for the server, --print-routes and the contract check. */
void bg_rest_routes(const struct bg_route **ret_table, size_t *ret_n);

int bg_handle_system_version(struct bg_http_request *req);
int bg_handle_system_info(struct bg_http_request *req);
int bg_handle_system_doctor(struct bg_http_request *req);

int bg_handle_images_list(struct bg_http_request *req);
int bg_handle_images_get(struct bg_http_request *req);
int bg_handle_images_create(struct bg_http_request *req);
int bg_handle_images_build(struct bg_http_request *req);
int bg_handle_images_delete(struct bg_http_request *req);

int bg_handle_vms_list(struct bg_http_request *req);
int bg_handle_vms_get(struct bg_http_request *req);
int bg_handle_vms_create(struct bg_http_request *req);
int bg_handle_vms_patch(struct bg_http_request *req);
int bg_handle_vms_delete(struct bg_http_request *req);
int bg_handle_vms_start(struct bg_http_request *req);
int bg_handle_vms_stop(struct bg_http_request *req);
int bg_handle_vms_console(struct bg_http_request *req);

int bg_handle_operations_list(struct bg_http_request *req);
int bg_handle_operations_get(struct bg_http_request *req);

int bg_handle_events_stream(struct bg_http_request *req);

int bg_handle_vms_exec(struct bg_http_request *req);
int bg_handle_execs_get(struct bg_http_request *req);
int bg_handle_vms_workspace(struct bg_http_request *req);
int bg_handle_vms_files_put(struct bg_http_request *req);
int bg_handle_vms_files_get(struct bg_http_request *req);
int bg_handle_vms_tunnel(struct bg_http_request *req);

int bg_handle_tokens_create(struct bg_http_request *req);
int bg_handle_tokens_list(struct bg_http_request *req);
int bg_handle_tokens_get(struct bg_http_request *req);
int bg_handle_tokens_delete(struct bg_http_request *req);
