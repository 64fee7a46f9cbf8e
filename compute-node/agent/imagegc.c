/*
 * imagegc.c - removes cached base images that no instance on this host uses.
 *
 * The cache (image.c) only grew: every image ever launched here stayed under
 * <state_dir>/images until the disk filled. Every interval.image_gc_ms a job
 * removes an image when
 *   - no instance directory on this host belongs to it (the instance's
 *     record names its image id; <image id>.json gives the image's SHA-256
 *     and the kernel and ramdisk images it boots with, whose records give
 *     theirs), so stopped instances, whose overlays still name the base as backing
 *     file, keep it), and
 *   - it was last used (prepared for a launch: the base file's mtime is
 *     touched then) images.cache_keep_s ago or longer, so a popular image
 *     is not fetched again for every new instance.
 * Removing an image removes <sha>.* (base, flattened kernel, download lock,
 * leftovers of an interrupted download) and the <image id>.json records
 * that point to it.
 *
 * Launches and the collector exclude each other with a process-wide rwlock:
 * preparing a launch (download, overlay creation) holds it shared, the
 * collector exclusive, and only when it can take it without waiting (it
 * skips its turn instead), so the collector never waits for a download and
 * a launch waits at most for one pass (directory scans and unlinks). A base is
 * therefore never removed between the moment a launch decides it is cached
 * and the moment the new overlay on disk names it. An instance whose image
 * cannot be told (its record or image record unreadable) stops the whole
 * pass: removing nothing is always safe.
 */
#include "agent.h"

#include "stratus/log.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_rwlock_t g_images = PTHREAD_RWLOCK_INITIALIZER;

void nd_images_use_begin(void)
{
    pthread_rwlock_rdlock(&g_images);
}
void nd_images_use_end(void)
{
    pthread_rwlock_unlock(&g_images);
}

typedef struct shaset {
    char (*v)[65];
    size_t n, cap;
} shaset;

static int shaset_has(const shaset *s, const char *sha)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], sha) == 0)
            return 1;
    return 0;
}

static int shaset_add(shaset *s, const char *sha)
{
    if (shaset_has(s, sha))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        void *g = realloc(s->v, cap * sizeof *s->v);
        if (!g)
            return -1;
        s->v = g;
        s->cap = cap;
    }
    snprintf(s->v[s->n++], 65, "%s", sha);
    return 0;
}

static int is_sha(const char *s, size_t n)
{
    if (n != 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

/* The SHA-256 an image record (<images>/<image id>.json) names; 0 or -1.
 * parts (may be NULL) gets the kernel_id and ramdisk_id it boots with, ""
 * for none: a disk booted by a separate kernel uses those images too. */
static int record_sha(const char *images, const char *image_id, char sha[65], char parts[2][40])
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.json", images, image_id);
    json_t *j = json_load_file(path, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "checksum"));
    int ok = s && is_sha(s, strlen(s));
    if (ok)
        snprintf(sha, 65, "%s", s);
    static const char *const keys[2] = {"kernel_id", "ramdisk_id"};
    for (int i = 0; parts && i < 2; i++) {
        const char *v = json_string_value(json_object_get(j, keys[i]));
        snprintf(parts[i], 40, "%s", v && strlen(v) < 40 ? v : "");
    }
    json_decref(j);
    return ok ? 0 : -1;
}

/* The images the host's instances use; -1 when one cannot be told. */
static int used_images(const char *state_dir, const char *images, shaset *used)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/instances", state_dir);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4500];
        snprintf(path, sizeof path, "%s/%s/state.json", dir, e->d_name);
        nd_record r;
        char sha[65], parts[2][40] = {"", ""};
        if (nd_record_load(path, &r) < 0) {
            st_warn("node.image_gc", "%s is unreadable: keeping every image", path);
            rc = -1;
        } else if (r.o.image_id[0] && record_sha(images, r.o.image_id, sha, parts) < 0) {
            /* never fetched here (the launch failed before), or unreadable:
             * the former uses nothing, but the two cannot be told apart */
            char disk[4500];
            snprintf(disk, sizeof disk, "%s/%s/disk.qcow2", dir, e->d_name);
            if (access(disk, F_OK) == 0) {
                st_warn("node.image_gc",
                        "instance %s: image %s has no record: keeping every "
                        "image",
                        r.o.id, r.o.image_id);
                rc = -1;
            }
        } else if (r.o.image_id[0] && shaset_add(used, sha) < 0) {
            rc = -1;
        }
        /* its kernel and ramdisk: fetched before its disk was made
         * (image.c), so a disk without their records is a mystery */
        for (int i = 0; rc == 0 && i < 2; i++) {
            if (!parts[i][0])
                continue;
            if (record_sha(images, parts[i], sha, NULL) < 0 || shaset_add(used, sha) < 0) {
                st_warn("node.image_gc", "instance %s: image %s has no record: keeping every image",
                        r.o.id, parts[i]);
                rc = -1;
            }
        }
    }
    closedir(d);
    return rc;
}

/* One file of the cache, read once per pass. */
typedef struct cache_file {
    char name[256];
    char sha[65]; /* the image it belongs to */
    int record;   /* an <image id>.json record (not part of last use) */
    time_t mtime;
    long long size;
} cache_file;

/* The cache's files: <sha>.* and the image records naming a SHA-256;
 * malloc'd array in *out, count returned, -1 on failure (ENOENT: 0). */
static int scan_cache(const char *images, cache_file **out)
{
    *out = NULL;
    DIR *d = opendir(images);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        cache_file f = {0};
        size_t l = strlen(e->d_name);
        if (l >= sizeof f.name)
            continue;
        if (is_sha(e->d_name, strnlen(e->d_name, 64)) && e->d_name[64] == '.') {
            snprintf(f.sha, sizeof f.sha, "%.64s", e->d_name);
        } else if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
            char id[256];
            snprintf(id, sizeof id, "%.*s", (int)(l - 5), e->d_name);
            if (record_sha(images, id, f.sha, NULL) < 0)
                continue;
            f.record = 1;
        } else {
            continue;
        }
        char p[4500];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", images, e->d_name);
        if (stat(p, &st) < 0)
            continue;
        snprintf(f.name, sizeof f.name, "%s", e->d_name);
        f.mtime = st.st_mtime;
        f.size = st.st_size;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            cache_file *g = realloc(*out, sizeof **out * (size_t)cap);
            if (!g) {
                n = -1;
                break;
            }
            *out = g;
        }
        (*out)[n++] = f;
    }
    closedir(d);
    return n;
}

int nd_image_gc(const nd_conf *c, long long keep_s, int *removed, long long *bytes)
{
    *removed = 0;
    *bytes = 0;
    if (pthread_rwlock_trywrlock(&g_images) != 0)
        return 0; /* a launch is preparing: next turn */
    char images[4200];
    snprintf(images, sizeof images, "%s/images", c->state_dir);
    shaset used = {0}, cached = {0};
    cache_file *files = NULL;
    int rc = used_images(c->state_dir, images, &used);
    int n = rc == 0 ? scan_cache(images, &files) : 0;
    if (n < 0)
        rc = -1;
    /* the cached images (records alone do not make one) */
    for (int i = 0; rc == 0 && i < n; i++)
        if (!files[i].record && shaset_add(&cached, files[i].sha) < 0)
            rc = -1;
    time_t now = time(NULL);
    for (size_t k = 0; rc == 0 && k < cached.n; k++) {
        const char *sha = cached.v[k];
        if (shaset_has(&used, sha))
            continue;
        /* the newest mtime among its files: the base's is touched per launch */
        time_t last = 0;
        for (int i = 0; i < n; i++)
            if (!files[i].record && !strcmp(files[i].sha, sha) && files[i].mtime > last)
                last = files[i].mtime;
        if (now - last < keep_s)
            continue;
        for (int i = 0; i < n; i++) {
            char p[4500];
            snprintf(p, sizeof p, "%s/%s", images, files[i].name);
            if (!strcmp(files[i].sha, sha) && unlink(p) == 0)
                *bytes += files[i].size;
        }
        (*removed)++;
        st_log_fields(
            ST_LOG_INFO, "node.image_gc",
            json_pack("{s:s, s:I}", "removed", sha, "unused_for_s", (json_int_t)(now - last)));
    }
    pthread_rwlock_unlock(&g_images);
    free(files);
    free(used.v);
    free(cached.v);
    return rc;
}
