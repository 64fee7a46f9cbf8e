/*
 * md_route.c - the paths of the metadata service: EC2's (any version,
 * "latest" or YYYY-MM-DD) and OpenStack's, with the listings cloud-init
 * walks. Paths are split on '/' into at most 8 segments of a copy bounded by
 * MD_PATH_MAX; anything else is 404. Nothing here knows who is asking: the
 * caller passes the one document the kernel-side identity chose.
 */
#include "md.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void answer(md_answer *a, int code, const char *type, const void *buf, size_t len)
{
    a->code = code;
    a->type = type;
    a->body = buf;
    a->len = len;
}

static void text(md_answer *a, const char *s)
{
    answer(a, 200, "text/plain", s, strlen(s));
}

static void not_found(md_answer *a)
{
    answer(a, 404, "text/plain", "Not Found\n", 10);
}

/* "latest" or a dated version (YYYY-MM-DD), as clients ask either. */
static int is_version(const char *v)
{
    if (strcmp(v, "latest") == 0)
        return 1;
    if (strlen(v) != 10 || v[4] != '-' || v[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (v[i] < '0' || v[i] > '9'))
            return 0;
    return 1;
}

static char *meta_data_json(const md_doc *d)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:i}", "uuid", d->instance_id, "name", d->hostname,
                          "hostname", d->hostname, "availability_zone", d->az, "launch_index", 0);
    if (!o)
        return NULL;
    if (d->ssh_key) {
        json_object_set_new(o, "public_keys", json_pack("{s:s}", "default", d->ssh_key));
        json_object_set_new(
            o, "keys",
            json_pack("[{s:s, s:s, s:s}]", "name", "default", "type", "ssh", "data", d->ssh_key));
    }
    char *s = json_dumps(o, JSON_SORT_KEYS);
    json_decref(o);
    return s;
}

/* EC2: seg[0] is the version, seg[1..] the rest. */
static void ec2(md_answer *a, const md_doc *d, char **seg, int n)
{
    if (n == 1) {
        text(a, d->has_ud ? "meta-data/\nuser-data" : "meta-data/");
        return;
    }
    if (strcmp(seg[1], "user-data") == 0 && n == 2) {
        if (d->has_ud)
            answer(a, 200, "application/octet-stream", d->ud, d->ud_len);
        else
            not_found(a);
        return;
    }
    if (strcmp(seg[1], "meta-data") != 0) {
        not_found(a);
        return;
    }
    if (n == 2) {
        snprintf(a->small, sizeof a->small,
                 "ami-launch-index\nhostname\ninstance-id\nlocal-hostname\nlocal-ipv4\n"
                 "placement/%s%s",
                 d->pub.s_addr ? "\npublic-ipv4" : "", d->ssh_key ? "\npublic-keys/" : "");
        text(a, a->small);
        return;
    }
    const char *k = seg[2];
    if (n == 3 && strcmp(k, "instance-id") == 0)
        text(a, d->instance_id);
    else if (n == 3 && (strcmp(k, "hostname") == 0 || strcmp(k, "local-hostname") == 0))
        text(a, d->hostname);
    else if (n == 3 && strcmp(k, "ami-launch-index") == 0)
        text(a, "0");
    else if (n == 3 && strcmp(k, "local-ipv4") == 0)
        text(a, inet_ntop(AF_INET, &d->local, a->small, sizeof a->small));
    else if (n == 3 && strcmp(k, "public-ipv4") == 0 && d->pub.s_addr)
        text(a, inet_ntop(AF_INET, &d->pub, a->small, sizeof a->small));
    else if (strcmp(k, "placement") == 0 && n == 3)
        text(a, "availability-zone");
    else if (strcmp(k, "placement") == 0 && n == 4 && strcmp(seg[3], "availability-zone") == 0)
        text(a, d->az);
    else if (strcmp(k, "public-keys") == 0 && d->ssh_key) {
        if (n == 3)
            text(a, "0=default");
        else if (strcmp(seg[3], "0") != 0)
            not_found(a);
        else if (n == 4)
            text(a, "openssh-key");
        else if (n == 5 && strcmp(seg[4], "openssh-key") == 0)
            text(a, d->ssh_key);
        else
            not_found(a);
    } else
        not_found(a);
}

/* OpenStack: seg[0] is "openstack", seg[1] the version, seg[2] the file. */
static void openstack(md_answer *a, const md_doc *d, char **seg, int n)
{
    if (n == 1) {
        text(a, "latest");
        return;
    }
    if (!is_version(seg[1]) || n > 3) {
        not_found(a);
        return;
    }
    if (n == 2)
        text(a, d->has_ud ? "meta_data.json\nuser_data\nvendor_data.json"
                          : "meta_data.json\nvendor_data.json");
    else if (strcmp(seg[2], "meta_data.json") == 0) {
        a->owned = meta_data_json(d);
        if (a->owned)
            answer(a, 200, "application/json", a->owned, strlen(a->owned));
        else
            answer(a, 500, "text/plain", "", 0);
    } else if (strcmp(seg[2], "vendor_data.json") == 0)
        answer(a, 200, "application/json", "{}", 2);
    else if (strcmp(seg[2], "user_data") == 0 && d->has_ud)
        answer(a, 200, "application/octet-stream", d->ud, d->ud_len);
    else
        not_found(a);
}

void md_route(const md_doc *d, const char *path, md_answer *a)
{
    memset(a, 0, sizeof *a);
    not_found(a);
    char p[MD_PATH_MAX];
    if (!d || !path || path[0] != '/' || strlen(path) >= sizeof p)
        return;
    memcpy(p, path, strlen(path) + 1);
    char *seg[8], *save = NULL;
    int n = 0;
    for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (n == 8)
            return;
        seg[n++] = t;
    }
    if (n == 0)
        text(a, "latest");
    else if (strcmp(seg[0], "openstack") == 0)
        openstack(a, d, seg, n);
    else if (is_version(seg[0]))
        ec2(a, d, seg, n);
}

void md_answer_free(md_answer *a)
{
    free(a->owned);
    a->owned = NULL;
}
