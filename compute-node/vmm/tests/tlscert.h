/*
 * tlscert.h - a self-signed certificate for the live-migration tests' TLS (test_migmsg.c,
 * test_migrate.c): made with OpenSSL's API, its own CA.
 */
#ifndef VMM_TEST_TLSCERT_H
#define VMM_TEST_TLSCERT_H

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>

#include "st_test.h"

/* A self-signed certificate (its own CA) and its key as dir/NAME.pem and dir/NAME.key. */
static inline void make_cert(const char *dir, const char *name)
{
    char path[512];
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    CU_ASSERT_FATAL(k && x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    CU_ASSERT_FATAL(X509_sign(x, k, EVP_sha256()) > 0);
    snprintf(path, sizeof path, "%s/%s.pem", dir, name);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f && PEM_write_X509(f, x));
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    f = fopen(path, "w");
    CU_ASSERT_FATAL(f && PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

#endif
