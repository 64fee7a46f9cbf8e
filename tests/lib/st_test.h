/*
 * st_test.h - the CUnit runner every Stratus test program uses.
 *
 * A test program lists its suites and hands them to st_test_main():
 *
 *     static CU_TestInfo tests[] = {
 *         {"wrong password is refused with 401", test_wrong_password},
 *         CU_TEST_INFO_NULL,
 *     };
 *     static CU_SuiteInfo suites[] = {
 *         {"auth", suite_init, suite_cleanup, NULL, NULL, tests},
 *         CU_SUITE_INFO_NULL,
 *     };
 *     int main(int argc, char **argv) { return st_test_main(argc, argv, suites); }
 *
 * st_test_main() exits non-zero when any assertion failed, any suite failed
 * to initialise, or no test ran at all; `prog SUITE [TEST]` runs a subset.
 * A program that cannot run here (no /dev/kvm, say) calls st_skip(), which
 * exits 77: ctest reports that as skipped. A response that broke the
 * OpenAPI document outside any test (st_oas.h) also makes it exit non-zero.
 */
#ifndef ST_TEST_H
#define ST_TEST_H

#include <CUnit/CUnit.h>
#include <stdio.h>

int st_test_main(int argc, char **argv, CU_SuiteInfo *suites);
__attribute__((noreturn, format(printf, 1, 2))) void st_skip(const char *fmt, ...);

/* Records a failure with a formatted message (CUnit copies the text). */
__attribute__((format(printf, 5, 6))) void st_assert_fmt(int ok, int fatal, const char *file,
                                                         int line, const char *fmt, ...);

/* Assertions that print both sides when they fail. */
#define ST_ASSERT_INT_EQ(actual, expected)                                                         \
    do {                                                                                           \
        long long st_a_ = (long long)(actual), st_e_ = (long long)(expected);                      \
        st_assert_fmt(st_a_ == st_e_, 0, __FILE__, __LINE__, "%s == %s (got %lld, want %lld)",     \
                      #actual, #expected, st_a_, st_e_);                                           \
    } while (0)
#define ST_ASSERT_INT_EQ_FATAL(actual, expected)                                                   \
    do {                                                                                           \
        long long st_a_ = (long long)(actual), st_e_ = (long long)(expected);                      \
        st_assert_fmt(st_a_ == st_e_, 1, __FILE__, __LINE__, "%s == %s (got %lld, want %lld)",     \
                      #actual, #expected, st_a_, st_e_);                                           \
    } while (0)
#define ST_ASSERT_STR_EQ(actual, expected)                                                         \
    do {                                                                                           \
        const char *st_a_ = (actual), *st_e_ = (expected);                                         \
        st_assert_fmt(st_a_ &&st_e_ &&strcmp(st_a_, st_e_) == 0, 0, __FILE__, __LINE__,            \
                      "%s == %s (got \"%s\", want \"%s\")", #actual, #expected,                    \
                      st_a_ ? st_a_ : "(null)", st_e_ ? st_e_ : "(null)");                         \
    } while (0)

#endif
