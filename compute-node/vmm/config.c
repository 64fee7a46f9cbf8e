/*
 * config.c - loads and validates the JSON VM description (see config.h).
 *
 * Limits are generous but finite so that a config can never ask for more
 * than the struct holds: 64 vCPUs, 8 disks, 8 NICs, 1 TiB of memory.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_setup.h"
#include "dirty_ring.h"
#include "stratus/json.h"

#ifdef VMM_SANITIZED
#define SECCOMP_DEFAULT 0 /* sanitizer runtimes make syscalls no filter expects */
#else
#define SECCOMP_DEFAULT 1
#endif

int vmm_parse_mac(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (!s || strlen(s) != 17 ||
        sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) !=
            6)
        return -1;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return 0;
}

static char *dup_opt(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int parse_disks(vmm_config *c, json_t *arr, char *err, size_t errlen)
{
    static const char *const keys[] = {"id", "path", "read_only", "format", NULL};
    size_t i;
    json_t *d;
    if (!json_is_array(arr) || json_array_size(arr) > VMM_MAX_DISKS) {
        snprintf(err, errlen, "field 'disks' must be an array of at most %d disks", VMM_MAX_DISKS);
        return -1;
    }
    json_array_foreach(arr, i, d)
    {
        vmm_disk_cfg *dc = &c->disks[i];
        const char *path = NULL, *fmt = "raw", *id = NULL;
        int ro = 0;
        if (!json_is_object(d)) {
            snprintf(err, errlen, "disks[%zu] must be an object", i);
            return -1;
        }
        if (st_json_only_keys(d, keys, err, errlen) ||
            st_json_get_str(d, "path", ST_JSON_REQUIRED, 1, 4096, &path, err, errlen) ||
            st_json_get_str(d, "id", ST_JSON_OPTIONAL, 1, 31, &id, err, errlen) ||
            st_json_get_str(d, "format", ST_JSON_OPTIONAL, 1, 16, &fmt, err, errlen) ||
            st_json_get_bool(d, "read_only", ST_JSON_OPTIONAL, &ro, err, errlen))
            return -1;
        if (strcmp(fmt, "raw") && strcmp(fmt, "qcow2")) {
            snprintf(err, errlen, "disks[%zu].format must be \"raw\" or \"qcow2\"", i);
            return -1;
        }
        dc->path = strdup(path);
        dc->read_only = ro;
        dc->qcow2 = !strcmp(fmt, "qcow2");
        if (id)
            snprintf(dc->id, sizeof dc->id, "%s", id);
        else
            snprintf(dc->id, sizeof dc->id, "disk%zu", i);
        c->ndisks++;
    }
    return 0;
}

static int parse_nics(vmm_config *c, json_t *arr, char *err, size_t errlen)
{
    static const char *const keys[] = {"id", "tap", "mac", "mtu", "model", "rom", NULL};
    size_t i;
    json_t *n;
    if (!json_is_array(arr) || json_array_size(arr) > VMM_MAX_NICS) {
        snprintf(err, errlen, "field 'nics' must be an array of at most %d nics", VMM_MAX_NICS);
        return -1;
    }
    json_array_foreach(arr, i, n)
    {
        vmm_nic_cfg *nc = &c->nics[i];
        const char *tap = NULL, *mac = NULL, *id = NULL, *model = NULL, *rom = NULL;
        long long mtu = 0;
        if (!json_is_object(n)) {
            snprintf(err, errlen, "nics[%zu] must be an object", i);
            return -1;
        }
        if (st_json_only_keys(n, keys, err, errlen) ||
            st_json_get_str(n, "tap", ST_JSON_REQUIRED, 1, 15, &tap, err, errlen) ||
            st_json_get_str(n, "id", ST_JSON_OPTIONAL, 1, 31, &id, err, errlen) ||
            st_json_get_str(n, "mac", ST_JSON_OPTIONAL, 17, 17, &mac, err, errlen) ||
            st_json_get_int(n, "mtu", ST_JSON_OPTIONAL, 68, 65535, &mtu, err, errlen) ||
            st_json_get_str(n, "model", ST_JSON_OPTIONAL, 1, 16, &model, err, errlen) ||
            st_json_get_str(n, "rom", ST_JSON_OPTIONAL, 1, 4096, &rom, err, errlen))
            return -1;
        if (model && !strcmp(model, "e1000")) {
            nc->model = VMM_NIC_E1000;
        } else if (model && strcmp(model, "virtio")) {
            snprintf(err, errlen, "nics[%zu].model must be virtio or e1000", i);
            return -1;
        }
        nc->mtu = (uint16_t)mtu;
        snprintf(nc->tap, sizeof nc->tap, "%s", tap);
        if (id)
            snprintf(nc->id, sizeof nc->id, "%s", id);
        else
            snprintf(nc->id, sizeof nc->id, "net%zu", i);
        if (mac) {
            if (vmm_parse_mac(mac, nc->mac) || (nc->mac[0] & 1)) {
                snprintf(err, errlen, "nics[%zu].mac must be a unicast aa:bb:cc:dd:ee:ff", i);
                return -1;
            }
        } else {
            uint8_t def[6] = {0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + i)};
            memcpy(nc->mac, def, 6);
        }
        if (rom && !(nc->rom = strdup(rom))) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        c->nnics++;
    }
    return 0;
}

int vmm_config_parse(vmm_config *c, const char *text, size_t len, char *err, size_t errlen)
{
    static const char *const keys[] = {"vcpus",
                                       "memory_mib",
                                       "kernel",
                                       "initrd",
                                       "cmdline",
                                       "serial_log",
                                       "disks",
                                       "nics",
                                       "rng",
                                       "control_socket",
                                       "seccomp",
                                       "on_reset",
                                       "boot_protocol",
                                       "assign_bars",
                                       "cpuid_disable",
                                       "boot",
                                       "firmware",
                                       "memory_shared",
                                       "firmware_sha256",
                                       "dirty_ring",
                                       NULL};
    const char *kernel = NULL, *initrd = NULL, *cmdline = "", *serial = NULL, *sock = NULL;
    const char *on_reset = "shutdown", *proto = "auto", *boot = "kernel";
    const char *firmware = VMM_DEFAULT_FIRMWARE, *fw_sha = NULL;
    long long vcpus = 1, mem = 128;
    int rng = 0, sc = SECCOMP_DEFAULT, assign = 1, shared = -1;
    json_t *j, *v;

    memset(c, 0, sizeof *c);
    j = st_json_parse_object(text, len, err, errlen);
    if (!j)
        return -1;
    if (st_json_only_keys(j, keys, err, errlen) ||
        st_json_get_int(j, "vcpus", ST_JSON_OPTIONAL, 1, VMM_MAX_VCPUS, &vcpus, err, errlen) ||
        st_json_get_int(j, "memory_mib", ST_JSON_OPTIONAL, 16, 1 << 20, &mem, err, errlen) ||
        st_json_get_str(j, "kernel", ST_JSON_OPTIONAL, 1, 4096, &kernel, err, errlen) ||
        st_json_get_str(j, "boot", ST_JSON_OPTIONAL, 1, 16, &boot, err, errlen) ||
        st_json_get_str(j, "firmware", ST_JSON_OPTIONAL, 1, 4096, &firmware, err, errlen) ||
        st_json_get_str(j, "firmware_sha256", ST_JSON_OPTIONAL, 64, 64, &fw_sha, err, errlen) ||
        st_json_get_str(j, "initrd", ST_JSON_OPTIONAL, 1, 4096, &initrd, err, errlen) ||
        st_json_get_str(j, "cmdline", ST_JSON_OPTIONAL, 0, 2047, &cmdline, err, errlen) ||
        st_json_get_str(j, "serial_log", ST_JSON_OPTIONAL, 1, 4096, &serial, err, errlen) ||
        st_json_get_str(j, "control_socket", ST_JSON_OPTIONAL, 1, 107, &sock, err, errlen) ||
        st_json_get_str(j, "on_reset", ST_JSON_OPTIONAL, 1, 16, &on_reset, err, errlen) ||
        st_json_get_str(j, "boot_protocol", ST_JSON_OPTIONAL, 1, 16, &proto, err, errlen) ||
        st_json_get_bool(j, "rng", ST_JSON_OPTIONAL, &rng, err, errlen) ||
        st_json_get_bool(j, "seccomp", ST_JSON_OPTIONAL, &sc, err, errlen) ||
        st_json_get_bool(j, "assign_bars", ST_JSON_OPTIONAL, &assign, err, errlen) ||
        st_json_get_bool(j, "memory_shared", ST_JSON_OPTIONAL, &shared, err, errlen))
        goto fail;
    int fw = !strcmp(boot, "firmware");
    if (!fw && strcmp(boot, "kernel")) {
        snprintf(err, errlen, "field 'boot' must be \"kernel\" or \"firmware\"");
        goto fail;
    }
    if (!fw && !kernel) {
        snprintf(err, errlen, "field 'kernel' is required (or \"boot\": \"firmware\")");
        goto fail;
    }
    if (fw && (kernel || initrd || json_object_get(j, "cmdline"))) {
        snprintf(err, errlen, "a firmware boot takes no 'kernel', 'initrd' or 'cmdline'");
        goto fail;
    }
    if (!fw && json_object_get(j, "firmware")) {
        snprintf(err, errlen, "field 'firmware' needs \"boot\": \"firmware\"");
        goto fail;
    }
    if (fw_sha && (!fw || strspn(fw_sha, "0123456789abcdef") != 64)) {
        snprintf(err, errlen,
                 "field 'firmware_sha256' must be 64 lowercase hex digits, with \"boot\": "
                 "\"firmware\"");
        goto fail;
    }
    if (strcmp(on_reset, "shutdown") && strcmp(on_reset, "restart")) {
        snprintf(err, errlen, "field 'on_reset' must be \"shutdown\" or \"restart\"");
        goto fail;
    }
    if (strcmp(proto, "auto") && strcmp(proto, "pvh") && strcmp(proto, "linux")) {
        snprintf(err, errlen, "field 'boot_protocol' must be \"auto\", \"pvh\" or \"linux\"");
        goto fail;
    }
    if ((v = json_object_get(j, "cpuid_disable"))) {
        size_t i;
        json_t *f;
        if (!json_is_array(v)) {
            snprintf(err, errlen, "field 'cpuid_disable' must be an array of feature names");
            goto fail;
        }
        json_array_foreach(v, i, f)
        {
            uint32_t bit = json_is_string(f) ? vmm_cpuid_feature_bit(json_string_value(f)) : 0;
            if (!bit) {
                snprintf(err, errlen, "cpuid_disable[%zu] is not a feature stratus-vmm can hide",
                         i);
                goto fail;
            }
            c->cpuid_disable |= bit;
        }
    }
    c->dirty_ring = -1;
    if ((v = json_object_get(j, "dirty_ring"))) {
        json_int_t e = json_is_integer(v) ? json_integer_value(v) : 0;
        if (json_is_boolean(v))
            c->dirty_ring = json_is_true(v) ? -1 : 0;
        else if (e >= VMM_DRING_MIN && e <= VMM_DRING_MAX && !(e & (e - 1)))
            c->dirty_ring = (int)e;
        else {
            snprintf(err, errlen,
                     "field 'dirty_ring' must be true, false or a power of two from %d to %d",
                     VMM_DRING_MIN, VMM_DRING_MAX);
            goto fail;
        }
    }
    if ((v = json_object_get(j, "disks")) && parse_disks(c, v, err, errlen))
        goto fail;
    if ((v = json_object_get(j, "nics")) && parse_nics(c, v, err, errlen))
        goto fail;
    c->vcpus = (int)vcpus;
    c->memory_mib = (uint64_t)mem;
    c->memory_shared = shared;
    c->kernel = dup_opt(kernel);
    c->firmware = fw ? strdup(firmware) : NULL;
    if (fw_sha)
        memcpy(c->firmware_sha256, fw_sha, 65);
    c->initrd = dup_opt(initrd);
    c->cmdline = strdup(cmdline);
    c->serial_log = dup_opt(serial);
    c->control_socket = dup_opt(sock);
    c->rng = rng;
    c->seccomp = sc;
    c->assign_bars = assign;
    c->restart_on_reset = !strcmp(on_reset, "restart");
    /* the text as given (a snapshot keeps it); not strndup: text need not be NUL-terminated,
     * and strndup may look one byte past len for the NUL (ASan reports it, as the fuzzer
     * found) */
    if (!(c->json = malloc(len + 1))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(c->json, text, len);
    c->json[len] = 0;
    c->boot_protocol = !strcmp(proto, "pvh")     ? VMM_PROTO_PVH
                       : !strcmp(proto, "linux") ? VMM_PROTO_LINUX
                                                 : VMM_PROTO_AUTO;
    json_decref(j);
    return 0;
fail:
    json_decref(j);
    vmm_config_free(c);
    return -1;
}

int vmm_config_load(vmm_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = vmm_config_parse(c, buf, n, err, errlen);
    free(buf);
    return rc;
}

void vmm_config_free(vmm_config *c)
{
    free(c->kernel);
    free(c->firmware);
    free(c->initrd);
    free(c->cmdline);
    free(c->serial_log);
    free(c->control_socket);
    free(c->json);
    for (int i = 0; i < c->ndisks; i++)
        free(c->disks[i].path);
    for (int i = 0; i < c->nnics; i++)
        free(c->nics[i].rom);
    memset(c, 0, sizeof *c);
}
