/*
 * jsonr.c - the strict JSON pull reader (see jsonr.h).
 *
 * The reader is a cursor into the caller's buffer; nothing is copied except
 * the strings the caller asks for. Invariant: after any failure r->failed is
 * set and every later call returns -1 without moving, so a caller may check
 * only at the end of a sequence of calls. Depth counts the objects and
 * arrays currently open, through both the pull calls and jr_skip().
 */
#include "jsonr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void jr_init(jr *r, const char *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    r->buf = r->p = buf;
    r->end = buf + len;
}

size_t jr_pos(const jr *r)
{
    return (size_t)(r->p - r->buf);
}

int jr_fail(jr *r, const char *fmt, ...)
{
    if (r->failed)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    r->failed = 1;
    return -1;
}

static void ws(jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int syntax(jr *r, const char *what)
{
    if (r->p >= r->end)
        return jr_fail(r, "invalid JSON: unexpected end of input (expected %s)", what);
    return jr_fail(r, "invalid JSON at byte %zu: expected %s", jr_pos(r), what);
}

int jr_end(jr *r)
{
    if (r->failed)
        return -1;
    ws(r);
    return r->p == r->end ? 0 : syntax(r, "end of input");
}

static int open_nested(jr *r, char c)
{
    if (r->failed)
        return -1;
    ws(r);
    if (r->p >= r->end || *r->p != c)
        return syntax(r, c == '{' ? "an object" : "an array");
    if (r->depth >= JR_MAX_DEPTH)
        return jr_fail(r, "invalid JSON at byte %zu: nested deeper than %d", jr_pos(r),
                       JR_MAX_DEPTH);
    r->depth++;
    r->p++;
    return 0;
}

int jr_obj_begin(jr *r)
{
    return open_nested(r, '{');
}
int jr_arr_begin(jr *r)
{
    return open_nested(r, '[');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static int utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    int n;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (end - p < n)
        return 0;
    unsigned cp = c & (0x3Fu >> (n - 1));
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/*
 * Scans one string starting at the opening quote, checking it, and decodes
 * it into out when out is not NULL. *len gets the decoded length; *fits is
 * 0 when out was too small (the scan still completes).
 */
static int scan_string(jr *r, char *out, size_t cap, size_t *len, int *fits)
{
    if (r->failed)
        return -1;
    ws(r);
    if (r->p >= r->end || *r->p != '"')
        return syntax(r, "a string");
    r->p++;
    size_t n = 0;
    int ok = 1;
    char tmp[4];
    for (;;) {
        /* Fast path: a run of plain printable ASCII, copied in one go. */
        const char *run = r->p;
        while (r->p < r->end && (unsigned char)*r->p >= 0x20 && (unsigned char)*r->p < 0x80 &&
               *r->p != '"' && *r->p != '\\')
            r->p++;
        if (r->p > run) {
            size_t rl = (size_t)(r->p - run);
            if (out && ok) {
                if (n + rl < cap)
                    memcpy(out + n, run, rl);
                else
                    ok = 0;
            }
            n += rl;
        }
        if (r->p >= r->end)
            return syntax(r, "'\"' closing the string");
        unsigned char c = (unsigned char)*r->p;
        const char *piece = (const char *)r->p;
        size_t plen = 1;
        if (c == '"') {
            r->p++;
            break;
        } else if (c == '\\') {
            if (r->end - r->p < 2)
                return syntax(r, "an escape");
            char e = r->p[1];
            piece = tmp;
            switch (e) {
            case '"':
                tmp[0] = '"';
                r->p += 2;
                break;
            case '\\':
                tmp[0] = '\\';
                r->p += 2;
                break;
            case '/':
                tmp[0] = '/';
                r->p += 2;
                break;
            case 'b':
                tmp[0] = '\b';
                r->p += 2;
                break;
            case 'f':
                tmp[0] = '\f';
                r->p += 2;
                break;
            case 'n':
                tmp[0] = '\n';
                r->p += 2;
                break;
            case 'r':
                tmp[0] = '\r';
                r->p += 2;
                break;
            case 't':
                tmp[0] = '\t';
                r->p += 2;
                break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(r->p + 2, r->end, &cp) < 0)
                    return syntax(r, "four hex digits after \\u");
                r->p += 6;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return jr_fail(r, "invalid JSON at byte %zu: lone low surrogate", jr_pos(r));
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
                        hex4(r->p + 2, r->end, &lo) < 0 || lo < 0xDC00 || lo > 0xDFFF)
                        return jr_fail(r, "invalid JSON at byte %zu: unpaired surrogate",
                                       jr_pos(r));
                    r->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0)
                    return jr_fail(r, "invalid JSON at byte %zu: NUL in a string", jr_pos(r));
                plen = put_utf8(tmp, cp);
                break;
            }
            default: return syntax(r, "a valid escape");
            }
            if (e != 'u')
                plen = 1;
        } else if (c < 0x20) {
            return jr_fail(r, "invalid JSON at byte %zu: control character in a string", jr_pos(r));
        } else if (c >= 0x80) {
            int l = utf8_len((const unsigned char *)r->p, (const unsigned char *)r->end);
            if (!l)
                return jr_fail(r, "invalid JSON at byte %zu: malformed UTF-8", jr_pos(r));
            plen = (size_t)l;
            r->p += l;
        } else {
            r->p++;
        }
        if (out && ok) {
            if (n + plen < cap)
                memcpy(out + n, piece, plen);
            else
                ok = 0;
        }
        n += plen;
    }
    if (out && cap)
        out[ok ? n : 0] = 0;
    if (len)
        *len = n;
    if (fits)
        *fits = ok;
    return 0;
}

int jr_string(jr *r, char *out, size_t cap, size_t *len)
{
    int fits;
    if (scan_string(r, out, cap, len, &fits) < 0)
        return -1;
    return fits ? 0 : -1;
}

int jr_obj_next(jr *r, int *first, char *key, size_t keycap)
{
    if (r->failed)
        return -1;
    ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        r->depth--;
        return 0;
    }
    if (!*first) {
        if (r->p >= r->end || *r->p != ',')
            return syntax(r, "',' or '}'");
        r->p++;
    }
    *first = 0;
    int fits;
    if (scan_string(r, key, keycap, NULL, &fits) < 0)
        return -1;
    if (!fits)
        key[0] = 0;
    ws(r);
    if (r->p >= r->end || *r->p != ':')
        return syntax(r, "':'");
    r->p++;
    return 1;
}

int jr_arr_next(jr *r, int *first)
{
    if (r->failed)
        return -1;
    ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        r->depth--;
        return 0;
    }
    if (!*first) {
        if (r->p >= r->end || *r->p != ',')
            return syntax(r, "',' or ']'");
        r->p++;
    }
    *first = 0;
    return 1;
}

/* Scans a number in the JSON grammar; *is_int when it has no fraction/exponent. */
static int scan_number(jr *r, const char **start, int *is_int)
{
    ws(r);
    const char *p = r->p, *e = r->end;
    *start = p;
    *is_int = 1;
    if (p < e && *p == '-')
        p++;
    if (p >= e || *p < '0' || *p > '9')
        return syntax(r, "a number");
    if (*p == '0')
        p++;
    else
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    if (p < e && *p == '.') {
        *is_int = 0;
        p++;
        if (p >= e || *p < '0' || *p > '9') {
            r->p = p;
            return syntax(r, "a digit");
        }
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9') {
            r->p = p;
            return syntax(r, "a digit");
        }
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    r->p = p;
    return 0;
}

int jr_int64(jr *r, int64_t min, int64_t max, int64_t *out)
{
    if (r->failed)
        return -1;
    ws(r);
    if (r->p >= r->end || !(*r->p == '-' || (*r->p >= '0' && *r->p <= '9')))
        return jr_fail(r, "expected an integer at byte %zu", jr_pos(r));
    const char *s;
    int is_int;
    if (scan_number(r, &s, &is_int) < 0)
        return -1;
    if (!is_int)
        return jr_fail(r, "expected an integer at byte %zu, not a fraction", (size_t)(s - r->buf));
    int neg = *s == '-';
    if (neg)
        s++;
    uint64_t v = 0;
    for (; s < r->p; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return jr_fail(r, "integer out of range at byte %zu", jr_pos(r));
        v = v * 10 + d;
    }
    int64_t x;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return jr_fail(r, "integer out of range at byte %zu", jr_pos(r));
        x = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > (uint64_t)INT64_MAX)
            return jr_fail(r, "integer out of range at byte %zu", jr_pos(r));
        x = (int64_t)v;
    }
    if (x < min || x > max)
        return jr_fail(r, "integer out of range at byte %zu", jr_pos(r));
    *out = x;
    return 0;
}

static int peek(jr *r, char c)
{
    if (r->failed)
        return 0;
    ws(r);
    return r->p < r->end && *r->p == c;
}

int jr_peek_string(jr *r)
{
    return peek(r, '"');
}
int jr_peek_object(jr *r)
{
    return peek(r, '{');
}
int jr_peek_array(jr *r)
{
    return peek(r, '[');
}

static int literal(jr *r, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
        return syntax(r, "a value");
    r->p += n;
    return 0;
}

int jr_skip(jr *r)
{
    if (r->failed)
        return -1;
    ws(r);
    if (r->p >= r->end)
        return syntax(r, "a value");
    int first = 1, rc;
    char key[1];
    switch (*r->p) {
    case '{':
        if (jr_obj_begin(r) < 0)
            return -1;
        while ((rc = jr_obj_next(r, &first, key, sizeof key)) > 0)
            if (jr_skip(r) < 0)
                return -1;
        return rc;
    case '[':
        if (jr_arr_begin(r) < 0)
            return -1;
        while ((rc = jr_arr_next(r, &first)) > 0)
            if (jr_skip(r) < 0)
                return -1;
        return rc;
    case '"': return scan_string(r, NULL, 0, NULL, NULL);
    case 't': return literal(r, "true");
    case 'f': return literal(r, "false");
    case 'n': return literal(r, "null");
    default: {
        const char *s;
        int is_int;
        return scan_number(r, &s, &is_int);
    }
    }
}
