/*
 * errcode.c - the names, statuses and meanings of errcode.h's table, made
 * from its one X-macro list.
 */
#include "stratus/errcode.h"

static const struct {
    const char *name;
    int status;
    const char *meaning;
} table[] = {
#define ST_ERR_ROW_(n, name, status, meaning) [ST_E_##n] = {name, status, meaning},
    ST_ERRCODES(ST_ERR_ROW_)
#undef ST_ERR_ROW_
};

const char *st_err_name(st_err e)
{
    return (unsigned)e < ST_E__COUNT ? table[e].name : "internal";
}

int st_err_status(st_err e)
{
    return (unsigned)e < ST_E__COUNT ? table[e].status : 500;
}

const char *st_err_meaning(st_err e)
{
    return (unsigned)e < ST_E__COUNT ? table[e].meaning : table[ST_E_INTERNAL].meaning;
}
