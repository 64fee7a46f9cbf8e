/*
 * config.h - service configuration: defaults, a file, the environment, and
 * the command line, later ones overriding earlier ones.
 *
 * The file holds `key = value` lines ('#' comments, optional "quotes").
 * A key `db.url` of a service with env prefix STRATUS_GATEWAY_ is
 * overridden by STRATUS_GATEWAY_DB_URL. Every key must be declared in the
 * service's table, so a misspelt key is an error, not a silent default.
 *
 * Command line handled by st_config_from_args():
 *   --config FILE       read FILE
 *   --set KEY=VALUE     override one key (repeatable)
 *   --help              print the keys with their defaults and exit
 *   --check-config      read the file, environment and --set; report an
 *                       unreadable file or an unknown key (exit 2) or
 *                       "configuration OK" (exit 0); start nothing
 * Any other argument is left for the caller (see *rest).
 */
#ifndef STRATUS_CONFIG_H
#define STRATUS_CONFIG_H

#include <stddef.h>

typedef struct st_config_key {
    const char *key;
    const char *def; /* NULL: no default (empty) */
    const char *help;
} st_config_key;

typedef struct st_config st_config;

/* keys ends with {0}. Returns NULL with err filled on a bad file or key. */
st_config *st_config_new(const st_config_key *keys, const char *env_prefix);
int st_config_load_file(st_config *c, const char *path, char *err, size_t errlen);
void st_config_load_env(st_config *c);
int st_config_set(st_config *c, const char *key, const char *value, char *err, size_t errlen);
void st_config_free(st_config *c);

/* A new config read again as st_config_from_args() read c: defaults, c's
 * file, the environment, then c's --set pairs. NULL with err filled when
 * the file is now unreadable or holds an unknown key. (SIGHUP: see
 * service.h.) */
st_config *st_config_reread(const st_config *c, char *err, size_t errlen);

/* Values: "" when unset. */
const char *st_config_str(const st_config *c, const char *key);
long long st_config_int(const st_config *c, const char *key);
int st_config_bool(const st_config *c, const char *key);

/*
 * The usual start of a service's main(). Returns a config or exits (0 for
 * --help, 2 for a usage or configuration error). Arguments it does not
 * know are collected in rest (argv-style, rest_n of them) when rest is
 * not NULL; otherwise they are an error. `--listen X` and `--port-file X`
 * are shorthand for `--set http.listen=X` / `--set http.port_file=X`.
 */
st_config *st_config_from_args(int argc, char **argv, const char *prog, const char *env_prefix,
                               const st_config_key *keys, char ***rest, int *rest_n);

#endif
