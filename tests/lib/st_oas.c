/*
 * st_oas.c - a response validator for OpenAPI 3.0 documents, and the hook
 * that runs it on every response the tests receive (see st_oas.h).
 *
 * The document is kept as jansson parsed it; nothing is compiled. A check
 * walks it: the path template, the operation, the response for the status
 * (resolving $ref), the media type, then the schema against the body,
 * carrying the JSON pointer of the value under test so a violation can say
 * where it is. The first violation found is the one reported (when no
 * alternative of a oneOf or anyOf matches, the first alternative's).
 */
#include "st_oas.h"

#include <CUnit/CUnit.h>
#include <CUnit/TestRun.h>
#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct st_oas {
    json_t *doc;
};

st_oas *st_oas_new(json_t *doc)
{
    st_oas *d = calloc(1, sizeof *d);
    if (!d)
        abort();
    d->doc = json_incref(doc);
    return d;
}

st_oas *st_oas_load(const char *path, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(json_object_get(doc, "paths"))) {
        snprintf(err, errlen, "%s: no \"paths\" object", path);
        json_decref(doc);
        return NULL;
    }
    st_oas *d = st_oas_new(doc);
    json_decref(doc);
    return d;
}

void st_oas_free(st_oas *d)
{
    if (!d)
        return;
    json_decref(d->doc);
    free(d);
}

/* ---- the walk's state: where we are, and the first violation ---- */

typedef struct walk {
    const json_t *doc;
    char ptr[512]; /* JSON pointer of the value under test */
    size_t plen;
    char msg[1200]; /* the first violation, "" while none */
    int depth;
} walk;

__attribute__((format(printf, 2, 3))) static int fail(walk *w, const char *fmt, ...)
{
    if (w->msg[0])
        return -1;
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(w->msg, sizeof w->msg, "%s: %s", w->plen ? w->ptr : "(body)", what);
    return -1;
}

/* Appends one reference token (escaped per RFC 6901); returns the old length. */
static size_t ptr_push(walk *w, const char *tok)
{
    size_t old = w->plen;
    size_t n = w->plen;
    if (n + 1 < sizeof w->ptr)
        w->ptr[n++] = '/';
    for (const char *c = tok; *c && n + 2 < sizeof w->ptr; c++) {
        if (*c == '~' || *c == '/') {
            w->ptr[n++] = '~';
            w->ptr[n++] = *c == '~' ? '0' : '1';
        } else {
            w->ptr[n++] = *c;
        }
    }
    w->ptr[n] = 0;
    w->plen = n;
    return old;
}
static size_t ptr_push_index(walk *w, size_t i)
{
    char b[24];
    snprintf(b, sizeof b, "%zu", i);
    return ptr_push(w, b);
}
static void ptr_pop(walk *w, size_t old)
{
    w->plen = old;
    w->ptr[old] = 0;
}

/* A short rendering of a value for messages. */
static void show(const json_t *v, char *out, size_t n)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) {
        snprintf(out, n, "?");
        return;
    }
    if (strlen(s) > 60)
        snprintf(out, n, "%.57s...", s);
    else
        snprintf(out, n, "%s", s);
    free(s);
}

/* Resolves a local reference "#/a/b~1c" in the document; NULL when it
 * does not resolve. */
static const json_t *resolve(const json_t *doc, const char *ref)
{
    if (!ref || ref[0] != '#')
        return NULL;
    const json_t *cur = doc;
    const char *p = ref + 1;
    while (*p == '/' && cur) {
        p++;
        char tok[256];
        size_t n = 0;
        while (*p && *p != '/' && n + 1 < sizeof tok) {
            if (p[0] == '~' && (p[1] == '0' || p[1] == '1')) {
                tok[n++] = p[1] == '0' ? '~' : '/';
                p += 2;
            } else {
                tok[n++] = *p++;
            }
        }
        tok[n] = 0;
        if (json_is_object(cur)) {
            cur = json_object_get(cur, tok);
        } else if (json_is_array(cur)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            cur = *end ? NULL : json_array_get(cur, i);
        } else {
            cur = NULL;
        }
    }
    return *p ? NULL : cur;
}

/* Follows $ref chains (a $ref's siblings are ignored, as OpenAPI 3.0 says). */
static const json_t *deref(walk *w, const json_t *s)
{
    for (int i = 0; i < 32 && json_is_object(s); i++) {
        const json_t *r = json_object_get(s, "$ref");
        if (!r)
            return s;
        const json_t *t = resolve(w->doc, json_string_value(r));
        if (!t) {
            fail(w, "the document's $ref \"%s\" does not resolve",
                 json_string_value(r) ? json_string_value(r) : "?");
            return NULL;
        }
        s = t;
    }
    if (json_is_object(s))
        fail(w, "the document's $ref chain is too long");
    return NULL;
}

/* ---- formats and small checks ---- */

static int hexn(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int is_uuid(const char *s)
{
    return strlen(s) == 36 && hexn(s, 8) && s[8] == '-' && hexn(s + 9, 4) && s[13] == '-' &&
           hexn(s + 14, 4) && s[18] == '-' && hexn(s + 19, 4) && s[23] == '-' && hexn(s + 24, 12);
}

static int digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int is_date(const char *s)
{
    if (!(digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' && digits(s + 8, 2)))
        return 0;
    int mo = atoi(s + 5), d = atoi(s + 8);
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
}

/* RFC 3339 date-time: 2026-12-05T10:00:00(.123)?(Z|+01:00) */
static int is_date_time(const char *s)
{
    if (strlen(s) < 20 || !is_date(s) || (s[10] != 'T' && s[10] != 't'))
        return 0;
    const char *t = s + 11;
    if (!(digits(t, 2) && t[2] == ':' && digits(t + 3, 2) && t[5] == ':' && digits(t + 6, 2)))
        return 0;
    if (atoi(t) > 23 || atoi(t + 3) > 59 || atoi(t + 6) > 60)
        return 0;
    t += 8;
    if (*t == '.') {
        t++;
        if (!isdigit((unsigned char)*t))
            return 0;
        while (isdigit((unsigned char)*t))
            t++;
    }
    if ((*t == 'Z' || *t == 'z') && !t[1])
        return 1;
    return (*t == '+' || *t == '-') && digits(t + 1, 2) && t[3] == ':' && digits(t + 4, 2) && !t[6];
}

static int is_ipv4(const char *s)
{
    int parts = 0;
    while (parts < 4) {
        int n = 0, v = 0;
        while (isdigit((unsigned char)s[n]) && n < 4)
            v = v * 10 + (s[n++] - '0');
        if (n == 0 || n > 3 || v > 255 || (n > 1 && s[0] == '0'))
            return 0;
        s += n;
        parts++;
        if (parts < 4 && *s++ != '.')
            return 0;
    }
    return *s == 0;
}

static int is_ipv6(const char *s)
{
    /* shape only: hex groups, colons, at most one "::", an optional v4 tail */
    int colons = 0, dbl = 0;
    size_t n = strlen(s);
    if (n < 2 || n > 45)
        return 0;
    for (const char *c = s; *c; c++) {
        if (*c == ':') {
            colons++;
            if (c[1] == ':') {
                if (dbl++)
                    return 0;
            }
        } else if (!isxdigit((unsigned char)*c) && *c != '.') {
            return 0;
        }
    }
    return colons >= 2 && colons <= 7;
}

static int is_base64(const char *s)
{
    size_t n = strlen(s);
    if (n % 4)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') {
            if (i < n - 2 || (i == n - 2 && s[n - 1] != '='))
                return 0;
        } else if (!isalnum(c) && c != '+' && c != '/') {
            return 0;
        }
    }
    return 1;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

static int check(walk *w, const json_t *schema, const json_t *v);

/* The JSON type name of v, with "integer" for integers. */
static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int type_ok(const char *want, const json_t *v)
{
    if (strcmp(want, "number") == 0)
        return json_is_number(v);
    if (strcmp(want, "boolean") == 0)
        return json_is_boolean(v);
    return strcmp(want, type_of(v)) == 0;
}

static int check_enum(walk *w, const json_t *en, const json_t *v)
{
    size_t i;
    const json_t *e;
    json_array_foreach(en, i, e) if (json_equal((json_t *)e, (json_t *)v)) return 0;
    char s[80];
    show(v, s, sizeof s);
    return fail(w, "%s is not one of the enum", s);
}

static int check_number(walk *w, const json_t *s, const json_t *v)
{
    double x = json_number_value(v);
    const json_t *mn = json_object_get(s, "minimum"), *mx = json_object_get(s, "maximum");
    int exmin = json_is_true(json_object_get(s, "exclusiveMinimum"));
    int exmax = json_is_true(json_object_get(s, "exclusiveMaximum"));
    char b[80];
    show(v, b, sizeof b);
    if (json_is_integer(v) && json_is_integer(mn) &&
        (exmin ? json_integer_value(v) <= json_integer_value(mn)
               : json_integer_value(v) < json_integer_value(mn)))
        return fail(w, "%s is below the %sminimum %lld", b, exmin ? "exclusive " : "",
                    (long long)json_integer_value(mn));
    if (json_is_number(mn) && !(json_is_integer(v) && json_is_integer(mn)) &&
        (exmin ? x <= json_number_value(mn) : x < json_number_value(mn)))
        return fail(w, "%s is below the %sminimum %g", b, exmin ? "exclusive " : "",
                    json_number_value(mn));
    if (json_is_integer(v) && json_is_integer(mx) &&
        (exmax ? json_integer_value(v) >= json_integer_value(mx)
               : json_integer_value(v) > json_integer_value(mx)))
        return fail(w, "%s is above the %smaximum %lld", b, exmax ? "exclusive " : "",
                    (long long)json_integer_value(mx));
    if (json_is_number(mx) && !(json_is_integer(v) && json_is_integer(mx)) &&
        (exmax ? x >= json_number_value(mx) : x > json_number_value(mx)))
        return fail(w, "%s is above the %smaximum %g", b, exmax ? "exclusive " : "",
                    json_number_value(mx));
    const json_t *mo = json_object_get(s, "multipleOf");
    if (json_is_number(mo) && json_number_value(mo) > 0) {
        double q = x / json_number_value(mo);
        if (fabs(q - nearbyint(q)) > 1e-9)
            return fail(w, "%s is not a multiple of %g", b, json_number_value(mo));
    }
    const char *fmt = json_string_value(json_object_get(s, "format"));
    if (fmt && json_is_integer(v) && strcmp(fmt, "int32") == 0 &&
        (json_integer_value(v) < -2147483648LL || json_integer_value(v) > 2147483647LL))
        return fail(w, "%s does not fit int32", b);
    return 0;
}

static int check_string(walk *w, const json_t *s, const json_t *v)
{
    const char *str = json_string_value(v);
    char b[80];
    show(v, b, sizeof b);
    const json_t *mn = json_object_get(s, "minLength"), *mx = json_object_get(s, "maxLength");
    size_t len = (json_is_integer(mn) || json_is_integer(mx)) ? utf8_chars(str) : 0;
    if (json_is_integer(mn) && (json_int_t)len < json_integer_value(mn))
        return fail(w, "%s is shorter than %lld characters", b, (long long)json_integer_value(mn));
    if (json_is_integer(mx) && (json_int_t)len > json_integer_value(mx))
        return fail(w, "%s is longer than %lld characters", b, (long long)json_integer_value(mx));
    const char *pat = json_string_value(json_object_get(s, "pattern"));
    if (pat) {
        regex_t re;
        if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0)
            return fail(w, "the document's pattern /%s/ does not compile", pat);
        int m = regexec(&re, str, 0, NULL, 0);
        regfree(&re);
        if (m != 0)
            return fail(w, "%s does not match the pattern /%s/", b, pat);
    }
    const char *fmt = json_string_value(json_object_get(s, "format"));
    if (!fmt)
        return 0;
    int ok = strcmp(fmt, "uuid") == 0        ? is_uuid(str)
             : strcmp(fmt, "date-time") == 0 ? is_date_time(str)
             : strcmp(fmt, "date") == 0      ? strlen(str) == 10 && is_date(str)
             : strcmp(fmt, "ipv4") == 0      ? is_ipv4(str)
             : strcmp(fmt, "ipv6") == 0      ? is_ipv6(str)
             : strcmp(fmt, "byte") == 0      ? is_base64(str)
                                             : 1;
    return ok ? 0 : fail(w, "%s is not a %s", b, fmt);
}

static int check_object(walk *w, const json_t *s, const json_t *v)
{
    const json_t *req = json_object_get(s, "required");
    size_t i;
    const json_t *r;
    json_array_foreach(req, i, r)
    {
        const char *k = json_string_value(r);
        if (k && !json_object_get(v, k))
            return fail(w, "required property \"%s\" is missing", k);
    }
    const json_t *mn = json_object_get(s, "minProperties"),
                 *mx = json_object_get(s, "maxProperties");
    if (json_is_integer(mn) && (json_int_t)json_object_size(v) < json_integer_value(mn))
        return fail(w, "fewer than %lld properties", (long long)json_integer_value(mn));
    if (json_is_integer(mx) && (json_int_t)json_object_size(v) > json_integer_value(mx))
        return fail(w, "more than %lld properties", (long long)json_integer_value(mx));
    const json_t *props = json_object_get(s, "properties");
    const json_t *addl = json_object_get(s, "additionalProperties");
    const char *k;
    const json_t *pv;
    json_object_foreach((json_t *)v, k, pv)
    {
        const json_t *ps = json_object_get(props, k);
        if (!ps) {
            if (json_is_false(addl))
                return fail(w, "property \"%s\" is not allowed (additionalProperties: false)", k);
            if (!json_is_object(addl))
                continue;
            ps = addl;
        }
        size_t old = ptr_push(w, k);
        int rc = check(w, ps, pv);
        ptr_pop(w, old);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int check_array(walk *w, const json_t *s, const json_t *v)
{
    const json_t *mn = json_object_get(s, "minItems"), *mx = json_object_get(s, "maxItems");
    if (json_is_integer(mn) && (json_int_t)json_array_size(v) < json_integer_value(mn))
        return fail(w, "fewer than %lld items", (long long)json_integer_value(mn));
    if (json_is_integer(mx) && (json_int_t)json_array_size(v) > json_integer_value(mx))
        return fail(w, "more than %lld items", (long long)json_integer_value(mx));
    if (json_is_true(json_object_get(s, "uniqueItems")))
        for (size_t i = 0; i < json_array_size(v); i++)
            for (size_t j = i + 1; j < json_array_size(v); j++)
                if (json_equal(json_array_get(v, i), json_array_get(v, j)))
                    return fail(w, "items %zu and %zu are equal (uniqueItems)", i, j);
    const json_t *items = json_object_get(s, "items");
    if (!items)
        return 0;
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e)
    {
        size_t old = ptr_push_index(w, i);
        int rc = check(w, items, e);
        ptr_pop(w, old);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* Runs v through sub-schema s on a scratch walk; 0 when it passes, else
 * -1 with the reason in why. */
static int try_sub(walk *w, const json_t *s, const json_t *v, char *why, size_t n)
{
    walk t = *w;
    t.msg[0] = 0;
    int rc = check(&t, s, v);
    if (rc < 0)
        snprintf(why, n, "%s", t.msg);
    return rc;
}

static int check_combinators(walk *w, const json_t *s, const json_t *v)
{
    size_t i;
    const json_t *sub;
    json_array_foreach(json_object_get(s, "allOf"), i, sub) if (check(w, sub, v) < 0) return -1;
    const json_t *one = json_object_get(s, "oneOf"), *any = json_object_get(s, "anyOf");
    char why[sizeof w->msg], first[sizeof w->msg] = "";
    if (json_is_array(one)) {
        int matched = 0;
        json_array_foreach(one, i, sub)
        {
            if (try_sub(w, sub, v, why, sizeof why) == 0)
                matched++;
            else if (!first[0])
                snprintf(first, sizeof first, "%s", why);
        }
        if (matched == 0)
            return fail(w, "matches no schema of oneOf (the first says: %s)", first);
        if (matched > 1)
            return fail(w, "matches %d schemas of oneOf, not one", matched);
    }
    if (json_is_array(any)) {
        int matched = 0;
        json_array_foreach(any, i, sub)
        {
            if (try_sub(w, sub, v, why, sizeof why) == 0) {
                matched = 1;
                break;
            }
            if (!first[0])
                snprintf(first, sizeof first, "%s", why);
        }
        if (!matched)
            return fail(w, "matches no schema of anyOf (the first says: %s)", first);
    }
    const json_t *no = json_object_get(s, "not");
    if (no && try_sub(w, no, v, why, sizeof why) == 0)
        return fail(w, "matches the schema under \"not\"");
    return 0;
}

/* Checks value v against schema; 0 or -1 with w->msg set. */
static int check(walk *w, const json_t *schema, const json_t *v)
{
    if (++w->depth > 64) {
        w->depth--;
        return fail(w, "nesting deeper than 64 (a $ref loop?)");
    }
    int rc = -1;
    const json_t *s = deref(w, schema);
    if (!s)
        goto out;
    if (!json_is_object(s)) {
        fail(w, "the document's schema is not an object");
        goto out;
    }
    const char *type = json_string_value(json_object_get(s, "type"));
    const json_t *en = json_object_get(s, "enum");
    if (json_is_null(v)) {
        if (type && !json_is_true(json_object_get(s, "nullable"))) {
            fail(w, "null not allowed");
            goto out;
        }
        if (json_is_array(en)) {
            size_t i;
            const json_t *e;
            int listed = 0;
            json_array_foreach(en, i, e) listed |= json_is_null(e);
            if (!listed) {
                fail(w, "null not allowed (%sthe enum does not list null)",
                     type ? "nullable, but " : "");
                goto out;
            }
        }
        rc = check_combinators(w, s, v);
        goto out;
    }
    if (type && !type_ok(type, v)) {
        char b[80];
        show(v, b, sizeof b);
        fail(w, "%s is %s %s, not %s", b, strcmp(type_of(v), "integer") == 0 ? "an" : "a",
             type_of(v), type);
        goto out;
    }
    if (json_is_array(en) && check_enum(w, en, v) < 0)
        goto out;
    if (json_is_number(v) && check_number(w, s, v) < 0)
        goto out;
    if (json_is_string(v) && check_string(w, s, v) < 0)
        goto out;
    if (json_is_object(v) && check_object(w, s, v) < 0)
        goto out;
    if (json_is_array(v) && check_array(w, s, v) < 0)
        goto out;
    rc = check_combinators(w, s, v);
out:
    w->depth--;
    return rc;
}

/* ---- operations, statuses, media types ---- */

static const char *const methods[] = {"get",     "put",  "post",  "delete",
                                      "options", "head", "patch", "trace"};

/* How well template t matches path p (both without query): -1 when it does
 * not, else the number of literal segments (more is a better match). */
static int path_score(const char *t, const char *p)
{
    int lits = 0;
    while (*t && *p) {
        const char *te = strchr(t, '/'), *pe = strchr(p, '/');
        size_t tl = te ? (size_t)(te - t) : strlen(t), pl = pe ? (size_t)(pe - p) : strlen(p);
        if (tl > 1 && t[0] == '{' && t[tl - 1] == '}') {
            if (pl == 0)
                return -1;
        } else if (tl != pl || strncmp(t, p, tl) != 0) {
            return -1;
        } else {
            lits++;
        }
        t += tl;
        p += pl;
        if ((*t == '/') != (*p == '/'))
            return -1;
        if (*t == '/') {
            t++;
            p++;
            if (!*t != !*p) /* "/a/" against "/a/b" */
                return -1;
        }
    }
    return *t || *p ? -1 : lits;
}

/* The media type of a Content-Type value, lowercased, without parameters. */
static void media_type(const char *ct, char *out, size_t n)
{
    size_t i = 0;
    while (ct && *ct == ' ')
        ct++;
    for (; ct && *ct && *ct != ';' && *ct != ' ' && i + 1 < n; ct++)
        out[i++] = (char)tolower((unsigned char)*ct);
    out[i] = 0;
}

static int is_json_media(const char *mt)
{
    size_t n = strlen(mt);
    return strcmp(mt, "application/json") == 0 || (n > 5 && strcmp(mt + n - 5, "+json") == 0);
}

/* The content entry of the response whose key matches media type mt. */
static const json_t *find_media(const json_t *content, const char *mt)
{
    const json_t *hit = json_object_get(content, mt);
    if (hit)
        return hit;
    const char *k;
    const json_t *v;
    char lk[128];
    json_object_foreach((json_t *)content, k, v)
    {
        media_type(k, lk, sizeof lk);
        if (strcmp(lk, mt) == 0 || strcmp(lk, "*/*") == 0)
            return v;
        size_t sl = strlen(lk);
        if (sl > 2 && strcmp(lk + sl - 2, "/*") == 0 && strncmp(lk, mt, sl - 1) == 0)
            return v;
    }
    return NULL;
}

static void list_keys(const json_t *o, char *out, size_t n)
{
    const char *k;
    const json_t *v;
    size_t used = 0;
    out[0] = 0;
    json_object_foreach((json_t *)o, k, v)
    {
        int w = snprintf(out + used, n - used, "%s%s", used ? ", " : "", k);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
}

int st_oas_check(const st_oas *d, const char *method, const char *path_query, long status,
                 const char *content_type, const char *body, size_t len, char *msg, size_t msglen)
{
    msg[0] = 0;
    char path[1024];
    snprintf(path, sizeof path, "%.*s", (int)strcspn(path_query, "?#"), path_query);
    char m[16];
    size_t ml = 0;
    for (; method[ml] && ml + 1 < sizeof m; ml++)
        m[ml] = (char)tolower((unsigned char)method[ml]);
    m[ml] = 0;
    int head = strcmp(m, "head") == 0;
    int in_scope = strncmp(path, "/v1/", 4) == 0 || strcmp(path, "/v1") == 0;

    /* the operation: the best-matching path template */
    const json_t *paths = json_object_get(d->doc, "paths");
    const char *tmpl = NULL;
    const json_t *item = NULL;
    int best = -1;
    const char *k;
    const json_t *pi;
    json_object_foreach((json_t *)paths, k, pi)
    {
        int sc = path_score(k, path);
        if (sc > best) {
            best = sc;
            tmpl = k;
            item = pi;
        }
    }
    if (!item) {
        if (!in_scope)
            return 1;
        snprintf(msg, msglen, "%s %s %ld: the path is not in the document", method, path, status);
        return -1;
    }
    const json_t *op = json_object_get(item, m);
    if (!op && head)
        op = json_object_get(item, "get");
    /* a method the path does not list: the document's one answer for that */
    const json_t *unlisted =
        !op && status == 405 ? json_object_get(d->doc, "x-stratus-unlisted-method") : NULL;
    if (!op && !unlisted) {
        int known = 0;
        for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
            known |= strcmp(methods[i], m) == 0;
        snprintf(msg, msglen, "%s %s %ld: the document has no %s operation on this path%s", method,
                 tmpl, status, method, known ? "" : " (not an HTTP method it can describe)");
        return -1;
    }
    if (status <= 0)
        return 0; /* no response at all: nothing to check */

    /* the response for the status */
    walk w = {.doc = d->doc};
    const json_t *responses = json_object_get(op, "responses");
    char code[24], range[24];
    snprintf(code, sizeof code, "%ld", status);
    snprintf(range, sizeof range, "%ldXX", status / 100);
    const json_t *resp = unlisted ? unlisted : json_object_get(responses, code);
    if (!resp)
        resp = json_object_get(responses, range);
    if (!resp)
        resp = json_object_get(responses, "default");
    if (!resp) {
        char have[256];
        list_keys(responses, have, sizeof have);
        snprintf(msg, msglen, "%s %s %ld: status not documented (documented: %s)", method, tmpl,
                 status, have);
        return -1;
    }
    resp = deref(&w, resp);
    if (!resp) {
        snprintf(msg, msglen, "%s %s %ld: %s", method, tmpl, status, w.msg);
        return -1;
    }

    /* the body and its media type */
    const json_t *content = json_object_get(resp, "content");
    char mt[128];
    media_type(content_type, mt, sizeof mt);
    if (head)
        len = 0;
    if (!json_is_object(content) || json_object_size(content) == 0) {
        if (body && len > 0) {
            snprintf(msg, msglen, "%s %s %ld: the document gives no body, got %zu bytes of %s",
                     method, tmpl, status, len, mt[0] ? mt : "(no Content-Type)");
            return -1;
        }
        return 0;
    }
    if (head)
        return 0; /* no body to check, and HEAD's Content-Type is GET's */
    if (body && len == 0 && !mt[0]) {
        snprintf(msg, msglen,
                 "%s %s %ld: empty body without a Content-Type, the document gives one", method,
                 tmpl, status);
        return -1;
    }
    const json_t *media = find_media(content, mt);
    if (!media) {
        char have[256];
        list_keys(content, have, sizeof have);
        snprintf(msg, msglen, "%s %s %ld: Content-Type \"%s\" not documented (documented: %s)",
                 method, tmpl, status, content_type ? content_type : "", have);
        return -1;
    }
    if (!is_json_media(mt) || !body)
        return 0; /* other media types: the content type is the check */
    json_error_t je;
    json_t *v = json_loadb(body, len, JSON_DECODE_ANY, &je);
    if (!v) {
        snprintf(msg, msglen, "%s %s %ld: the body is not JSON (%s)", method, tmpl, status,
                 je.text);
        return -1;
    }
    const json_t *schema = json_object_get(media, "schema");
    int rc = schema ? check(&w, schema, v) : 0;
    json_decref(v);
    if (rc < 0) {
        snprintf(msg, msglen, "%s %s %ld: %s", method, tmpl, status, w.msg);
        return -1;
    }
    return 0;
}

/* ---- the hook ---- */

typedef struct watched {
    char base[128];
    char doc_path[512];
    st_oas *doc;
} watched;

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static watched watch_list[16];
static int nwatch;
static unsigned stray;

static st_oas *doc_for(const char *doc_path)
{
    for (int i = 0; i < nwatch; i++)
        if (strcmp(watch_list[i].doc_path, doc_path) == 0)
            return watch_list[i].doc;
    static struct {
        char path[512];
        st_oas *doc;
    } loaded[4];
    for (size_t i = 0; i < sizeof loaded / sizeof loaded[0]; i++) {
        if (loaded[i].doc && strcmp(loaded[i].path, doc_path) == 0)
            return loaded[i].doc;
        if (!loaded[i].doc) {
            char err[600];
            loaded[i].doc = st_oas_load(doc_path, err, sizeof err);
            if (!loaded[i].doc) {
                fprintf(stderr, "st_oas: cannot load the document: %s\n", err);
                exit(1);
            }
            snprintf(loaded[i].path, sizeof loaded[i].path, "%s", doc_path);
            return loaded[i].doc;
        }
    }
    fprintf(stderr, "st_oas: too many documents\n");
    exit(1);
}

void st_oas_watch(const char *base_url, const char *doc_path)
{
    pthread_mutex_lock(&hook_lock);
    st_oas *d = doc_for(doc_path);
    int slot = -1;
    for (int i = 0; i < nwatch; i++)
        if (strcmp(watch_list[i].base, base_url) == 0)
            slot = i;
    if (slot < 0 && nwatch < (int)(sizeof watch_list / sizeof watch_list[0]))
        slot = nwatch++;
    if (slot < 0) {
        /* a long-running program watching many gateways: forget the oldest */
        memmove(watch_list, watch_list + 1, sizeof watch_list - sizeof watch_list[0]);
        slot = nwatch - 1;
    }
    snprintf(watch_list[slot].base, sizeof watch_list[slot].base, "%s", base_url);
    snprintf(watch_list[slot].doc_path, sizeof watch_list[slot].doc_path, "%s", doc_path);
    watch_list[slot].doc = d;
    pthread_mutex_unlock(&hook_lock);
}

void st_oas_unwatch(const char *base_url)
{
    pthread_mutex_lock(&hook_lock);
    for (int i = 0; i < nwatch; i++)
        if (strcmp(watch_list[i].base, base_url) == 0) {
            memmove(watch_list + i, watch_list + i + 1,
                    (size_t)(nwatch - i - 1) * sizeof watch_list[0]);
            nwatch--;
            break;
        }
    pthread_mutex_unlock(&hook_lock);
}

const char *st_oas_gateway_doc(void)
{
    static char p[1024];
    const char *src = getenv("STRATUS_SOURCE_DIR");
    snprintf(p, sizeof p, "%s/api-gateway/openapi.json", src && *src ? src : ST_OAS_SOURCE_DIR);
    return p;
}

unsigned st_oas_stray_violations(void)
{
    pthread_mutex_lock(&hook_lock);
    unsigned n = stray;
    pthread_mutex_unlock(&hook_lock);
    return n;
}

/* STRATUS_OAS_REPORT: one line per violation, appended (O_APPEND keeps the
 * lines of parallel tests whole). */
static void report_line(const char *file, const char *msg, const char *where, int line)
{
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    CU_pTest t = CU_get_current_test();
    char out[2048];
    int n = snprintf(out, sizeof out, "%s\t%s:%d\t%s\n", msg, where ? where : "?", line,
                     t && t->pName ? t->pName : "(outside a test)");
    if (n > 0)
        (void)!write(fd, out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1);
    close(fd);
}

int st_oas_observe(const char *method, const char *url, long status, const char *content_type,
                   const char *body, size_t len, const char *file, int line)
{
    pthread_mutex_lock(&hook_lock);
    st_oas *d = NULL;
    size_t bl = 0;
    for (int i = 0; i < nwatch && !d; i++) {
        bl = strlen(watch_list[i].base);
        if (strncmp(url, watch_list[i].base, bl) == 0 &&
            (url[bl] == '/' || url[bl] == '?' || url[bl] == 0))
            d = watch_list[i].doc;
    }
    pthread_mutex_unlock(&hook_lock);
    if (!d)
        return 1;
    const char *pq = url[bl] ? url + bl : "/";
    char msg[1024];
    int rc = st_oas_check(d, method, pq, status, content_type, body, len, msg, sizeof msg);
    if (rc >= 0)
        return rc;
    char full[1100];
    snprintf(full, sizeof full, "OpenAPI: %s", msg);
    const char *rep = getenv("STRATUS_OAS_REPORT");
    pthread_mutex_lock(&hook_lock);
    if (rep && *rep) {
        report_line(rep, msg, file, line);
    } else if (CU_is_test_running() && CU_get_current_test()) {
        CU_assertImplementation(CU_FALSE, (unsigned)line, full, file ? file : "", "", CU_FALSE);
    } else {
        stray++;
        fprintf(stderr, "%s:%d: %s (outside a test)\n", file ? file : "?", line, full);
    }
    pthread_mutex_unlock(&hook_lock);
    return rc;
}
