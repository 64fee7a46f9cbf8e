/*
 * store.c - the per-instance record on disk and small file helpers.
 *
 * <state_dir>/instances/<id>/state.json is written whole to a temporary file
 * and renamed over the old one (fsynced when state.fsync is on), so a kill
 * at any moment leaves either the old record or the new one, never a torn
 * one. Jobs write the record before they act (phase "applying") and after
 * (phase "done"); a restarted agent redoes whatever was applying.
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stratus/uuid.h"

const char *nd_inst_dir(const char *state_dir, const char *id)
{
    static __thread char buf[4096];
    snprintf(buf, sizeof buf, "%s/instances/%s", state_dir, id);
    return buf;
}

int nd_mkdirs(const char *path, mode_t mode)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, mode) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int nd_write_file_atomic(const char *path, const void *buf, size_t len, int do_fsync)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d.%lx", path, (int)getpid(), (unsigned long)pthread_self());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    const char *p = buf;
    size_t left = len;
    while (left) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = w < 0 ? -errno : -EIO;
            close(fd);
            unlink(tmp);
            return e;
        }
        p += w;
        left -= (size_t)w;
    }
    if (do_fsync && fdatasync(fd) < 0) {
        int e = -errno;
        close(fd);
        unlink(tmp);
        return e;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int e = -errno;
        unlink(tmp);
        return e;
    }
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int nd_rmtree(const char *path)
{
    if (access(path, F_OK) < 0)
        return 0;
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? -errno : 0;
}

static const char *const want_names[] = {"", "running", "stopped", "deleted"};
static const char *const actual_names[] = {"none", "running", "stopped", "error"};
static const char *const phase_names[] = {"done", "applying"};

/* The index of s in names[first..n), or -1. */
static int word_index(const char *const *names, int first, int n, const char *s)
{
    for (int i = first; s && i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

/* nd_<name>_name() and nd_<name>_parse() over one table; parse starts at
 * index first ("" is no order: never a word nd_want_parse accepts). */
#define STATE_WORDS(type, name, names, first)                                                      \
    const char *nd_##name##_name(type v)                                                           \
    {                                                                                              \
        return (unsigned)v < sizeof names / sizeof *names ? names[v] : names[0];                   \
    }                                                                                              \
    int nd_##name##_parse(const char *s, type *v)                                                  \
    {                                                                                              \
        int i = word_index(names, first, (int)(sizeof names / sizeof *names), s);                  \
        if (i >= 0)                                                                                \
            *v = (type)i;                                                                          \
        return i < 0 ? -1 : 0;                                                                     \
    }

STATE_WORDS(nd_want, want, want_names, 1)
STATE_WORDS(nd_actual, actual, actual_names, 0)
STATE_WORDS(nd_phase, phase, phase_names, 0)

int nd_record_save(const char *state_dir, const nd_record *r, int do_fsync)
{
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:b, s:i, s:i, s:i,"
        " s:{s:I, s:I, s:s, s:s}, s:s, s:s, s:b, s:s, s:s, s:b}",
        "id", r->o.id, "tenant_id", r->o.tenant_id, "image_id", r->o.image_id, "flavor",
        r->o.flavor, "target", nd_want_name(r->target), "phase", nd_phase_name(r->phase),
        "generation", (json_int_t)r->o.generation, "reboot_seq", (json_int_t)r->o.reboot_seq,
        "stop_force", r->o.stop_force, "reboot_hard", r->o.reboot_hard, "vcpus", r->o.vcpus,
        "memory_mib", r->o.memory_mib, "disk_gib", r->o.disk_gib, "vm", "pid",
        (json_int_t)r->vm.pid, "start", (json_int_t)r->vm.start, "boot_id", r->vm.boot_id, "domain",
        r->vm.domain, "actual", nd_actual_name(r->actual), "fault", r->fault, "launched_once",
        r->launched_once, "snapshot_image", r->o.snapshot_image, "snapshot_fault",
        r->snapshot_fault, "disk_rbd", r->o.rbd);
    if (!j)
        return -ENOMEM;
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return -ENOMEM;
    const char *dir = nd_inst_dir(state_dir, r->o.id);
    int rc = nd_mkdirs(dir, 0700);
    char path[4200];
    snprintf(path, sizeof path, "%s/state.json", dir);
    if (rc == 0)
        rc = nd_write_file_atomic(path, text, strlen(text), do_fsync);
    free(text);
    return rc;
}

static void cp(char *dst, size_t n, json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    snprintf(dst, n, "%s", s ? s : "");
}

int nd_record_load(const char *path, nd_record *r)
{
    memset(r, 0, sizeof *r);
    json_error_t e;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(j)) {
        json_decref(j);
        return -EINVAL;
    }
    cp(r->o.id, sizeof r->o.id, j, "id");
    cp(r->o.tenant_id, sizeof r->o.tenant_id, j, "tenant_id");
    cp(r->o.image_id, sizeof r->o.image_id, j, "image_id");
    cp(r->o.flavor, sizeof r->o.flavor, j, "flavor");
    cp(r->o.snapshot_image, sizeof r->o.snapshot_image, j, "snapshot_image");
    /* an unknown word reads safe: no target, applying (redone), no VM */
    if (nd_want_parse(json_string_value(json_object_get(j, "target")), &r->target) < 0)
        r->target = ND_WANT_NONE;
    if (nd_phase_parse(json_string_value(json_object_get(j, "phase")), &r->phase) < 0)
        r->phase = ND_PHASE_APPLYING;
    if (nd_actual_parse(json_string_value(json_object_get(j, "actual")), &r->actual) < 0)
        r->actual = ND_ACTUAL_NONE;
    cp(r->fault, sizeof r->fault, j, "fault");
    cp(r->snapshot_fault, sizeof r->snapshot_fault, j, "snapshot_fault");
    r->o.generation = json_integer_value(json_object_get(j, "generation"));
    r->o.reboot_seq = json_integer_value(json_object_get(j, "reboot_seq"));
    r->o.stop_force = json_is_true(json_object_get(j, "stop_force"));
    r->o.reboot_hard = json_is_true(json_object_get(j, "reboot_hard"));
    r->o.vcpus = (int)json_integer_value(json_object_get(j, "vcpus"));
    r->o.memory_mib = (int)json_integer_value(json_object_get(j, "memory_mib"));
    r->o.disk_gib = (int)json_integer_value(json_object_get(j, "disk_gib"));
    r->o.rbd = json_is_true(json_object_get(j, "disk_rbd"));
    r->launched_once = json_is_true(json_object_get(j, "launched_once"));
    json_t *vm = json_object_get(j, "vm");
    r->vm.pid = (pid_t)json_integer_value(json_object_get(vm, "pid"));
    r->vm.start = (unsigned long long)json_integer_value(json_object_get(vm, "start"));
    cp(r->vm.boot_id, sizeof r->vm.boot_id, vm, "boot_id");
    cp(r->vm.domain, sizeof r->vm.domain, vm, "domain");
    json_decref(j);
    if (!st_uuid_valid(r->o.id))
        return -EINVAL;
    return 0;
}
