/*
 * imagegc.c - removes cached base images that no instance on this host uses.
 *
 * The cache (image.c) only grew: every image ever launched here stayed under
 * <state_dir>/images until the disk filled. Every interval.image_gc_ms a job
 * removes an image when
 *   - no instance directory on this host belongs to it (the instance's
 *     record names its image id; <image id>.json gives the image's SHA-256,
 *     so stopped instances, whose overlays still name the base as backing
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

void nd_images_use_begin(void) { pthread_rwlock_rdlock(&g_images); }
void nd_images_use_end(void) { pthread_rwlock_unlock(&g_images); }

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

/* The SHA-256 an image record (<images>/<image id>.json) names; 0 or -1. */
static int record_sha(const char *images, const char *image_id, char sha[65])
{
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.json", images, image_id);
    json_t *j = json_load_file(path, 0, NULL);
    const char *s = json_string_value(json_object_get(j, "checksum"));
    int ok = s && is_sha(s, strlen(s));
    if (ok)
        snprintf(sha, 65, "%s", s);
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
        char sha[65];
        if (nd_record_load(path, &r) < 0) {
            st_warn("node.image_gc", "%s is unreadable: keeping every image", path);
            rc = -1;
        } else if (r.image_id[0] && record_sha(images, r.image_id, sha) < 0) {
            /* never fetched here (the launch failed before), or unreadable:
             * the former uses nothing, but the two cannot be told apart */
            char disk[4500];
            snprintf(disk, sizeof disk, "%s/%s/disk.qcow2", dir, e->d_name);
            if (access(disk, F_OK) == 0) {
                st_warn("node.image_gc", "instance %s: image %s has no record: keeping every "
                        "image", r.id, r.image_id);
                rc = -1;
            }
        } else if (r.image_id[0] && shaset_add(used, sha) < 0) {
            rc = -1;
        }
    }
    closedir(d);
    return rc;
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
    int rc = used_images(c->state_dir, images, &used);
    DIR *d = rc == 0 ? opendir(images) : NULL;
    if (!d) {
        if (rc == 0 && errno != ENOENT)
            rc = -1;
        goto out;
    }
    /* the cached images, and when each was last used */
    struct dirent *e;
    time_t now = time(NULL);
    while ((e = readdir(d)))
        if (is_sha(e->d_name, strnlen(e->d_name, 64)) && e->d_name[64] == '.') {
            char sha[65];
            snprintf(sha, sizeof sha, "%.64s", e->d_name);
            if (shaset_add(&cached, sha) < 0)
                rc = -1;
        }
    for (size_t i = 0; rc == 0 && i < cached.n; i++) {
        const char *sha = cached.v[i];
        if (shaset_has(&used, sha))
            continue;
        /* the newest mtime among its files: the base's is touched per launch */
        time_t last = 0;
        rewinddir(d);
        while ((e = readdir(d))) {
            struct stat st;
            char p[4500];
            snprintf(p, sizeof p, "%s/%s", images, e->d_name);
            if (strncmp(e->d_name, sha, 64) == 0 && stat(p, &st) == 0 && st.st_mtime > last)
                last = st.st_mtime;
        }
        if (now - last < keep_s)
            continue;
        rewinddir(d);
        while ((e = readdir(d))) {
            char p[4500], s2[65];
            snprintf(p, sizeof p, "%s/%s", images, e->d_name);
            size_t l = strlen(e->d_name);
            int mine = strncmp(e->d_name, sha, 64) == 0 && e->d_name[64] == '.';
            if (!mine && l > 5 && strcmp(e->d_name + l - 5, ".json") == 0) {
                char id[256];
                snprintf(id, sizeof id, "%.*s", (int)(l - 5), e->d_name);
                mine = record_sha(images, id, s2) == 0 && strcmp(s2, sha) == 0;
            }
            struct stat st;
            if (mine && stat(p, &st) == 0 && unlink(p) == 0)
                *bytes += st.st_size;
        }
        (*removed)++;
        st_log_fields(ST_LOG_INFO, "node.image_gc",
                      json_pack("{s:s, s:I}", "removed", sha, "unused_for_s",
                                (json_int_t)(now - last)));
    }
    closedir(d);
out:
    pthread_rwlock_unlock(&g_images);
    free(used.v);
    free(cached.v);
    return rc;
}
