/* common.h - how the examples sign in: $STRATUS_URL, then $STRATUS_TOKEN (an
 * API key) or $STRATUS_USER + $STRATUS_PASSWORD (+ $STRATUS_TENANT). */
#ifndef EXAMPLE_COMMON_H
#define EXAMPLE_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <stratus.h>

static int die(const char *what, int rc)
{
    const stratus_error *e = stratus_last_error();
    fprintf(stderr, "%s: %s (%s) request %s\n", what, e->message, stratus_err_name(rc),
            e->request_id[0] ? e->request_id : "-");
    return 1;
}

static stratus_session *example_session(void)
{
    stratus_session *s;
    const char *url = getenv("STRATUS_URL"), *tok = getenv("STRATUS_TOKEN");
    int rc = stratus_session_new(&s, url ? url : "https://127.0.0.1:8080", NULL);
    if (rc < 0)
        exit(die("session", rc));
    rc = tok ? stratus_session_set_token(s, tok)
             : stratus_session_login(s, getenv("STRATUS_USER") ? getenv("STRATUS_USER") : "",
                                     getenv("STRATUS_PASSWORD") ? getenv("STRATUS_PASSWORD") : "",
                                     getenv("STRATUS_TENANT"));
    if (rc < 0)
        exit(die("sign in", rc));
    return s;
}

#endif
