/* SPDX-License-Identifier: MIT */
/* The Firecracker test double's contract table: the endpoints it serves, with the required and
 * allowed body fields of each, derived from firecracker-api.yaml (v1.16.1). check-table.mjs
 * checks this table against the yaml, so a drift fails the tests. */
#pragma once

#include <stddef.h>

/* One body field: name and JSON type ('i' integer, 's' string, 'b' boolean, 'o' object). */
struct fake_field {
    const char *name;
    char type;
    int required;
};

#define FAKE_FIELDS_MAX 10

struct fake_endpoint {
    const char *method;   /* "GET" | "PUT" */
    const char *path;     /* spec path, with {drive_id}/{iface_id} */
    const char *def;      /* the yaml definition of the body, NULL for no body */
    const char *id_field; /* the body field that must equal the path id, or NULL */
    struct fake_field fields[FAKE_FIELDS_MAX];
};

static const struct fake_endpoint fake_endpoints[] = {
    {"GET", "/", NULL, NULL, {{0}}},
    {"GET", "/version", NULL, NULL, {{0}}},
    {"GET", "/machine-config", NULL, NULL, {{0}}},
    {"PUT",
     "/machine-config",
     "MachineConfiguration",
     NULL,
     {{"vcpu_count", 'i', 1},
      {"mem_size_mib", 'i', 1},
      {"smt", 'b', 0},
      {"track_dirty_pages", 'b', 0},
      {"cpu_template", 's', 0},
      {"huge_pages", 's', 0}}},
    {"PUT",
     "/boot-source",
     "BootSource",
     NULL,
     {{"kernel_image_path", 's', 1}, {"boot_args", 's', 0}, {"initrd_path", 's', 0}}},
    {"PUT",
     "/drives/{drive_id}",
     "Drive",
     "drive_id",
     {{"drive_id", 's', 1},
      {"is_root_device", 'b', 1},
      {"path_on_host", 's', 0},
      {"is_read_only", 'b', 0},
      {"partuuid", 's', 0},
      {"cache_type", 's', 0},
      {"io_engine", 's', 0},
      {"rate_limiter", 'o', 0},
      {"socket", 's', 0}}},
    {"PUT",
     "/vsock",
     "Vsock",
     NULL,
     {{"guest_cid", 'i', 1}, {"uds_path", 's', 1}, {"vsock_id", 's', 0}}},
    {"PUT",
     "/network-interfaces/{iface_id}",
     "NetworkInterface",
     "iface_id",
     {{"iface_id", 's', 1},
      {"host_dev_name", 's', 1},
      {"guest_mac", 's', 0},
      {"mtu", 'i', 0},
      {"rx_rate_limiter", 'o', 0},
      {"tx_rate_limiter", 'o', 0}}},
    {"PUT", "/actions", "InstanceActionInfo", NULL, {{"action_type", 's', 1}}},
    {"PUT",
     "/logger",
     "Logger",
     NULL,
     {{"level", 's', 0},
      {"log_path", 's', 0},
      {"show_level", 'b', 0},
      {"show_log_origin", 'b', 0},
      {"module", 's', 0}}},
};

#define FAKE_ACTIONS "FlushMetrics,InstanceStart,SendCtrlAltDel" /* InstanceActionInfo enum */
