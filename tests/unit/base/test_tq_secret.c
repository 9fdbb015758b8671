/* Unit tests for tq_secret: password files and redaction of what tileq prints (issue 16
 * item 3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tq_secret.h"

static void expect_url(const char *in, const char *want)
{
    char buf[512];
    tq_secret_redact_url(in, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("redact_url(\"%s\") = \"%s\", want \"%s\"", in, buf, want);
    assert_int_equal(tq_secret_url_has_password(in), strcmp(in, want) != 0);
}

static void expect_conninfo(const char *in, const char *want)
{
    char buf[512];
    tq_secret_redact_conninfo(in, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("redact_conninfo(\"%s\") = \"%s\", want \"%s\"", in, buf, want);
    assert_int_equal(tq_secret_conninfo_has_password(in), strcmp(in, want) != 0);
}

static void test_redact_url(void **state)
{
    (void)state;
    expect_url("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0");
    expect_url("127.0.0.1:6379", "127.0.0.1:6379");
    expect_url("redis://:s3cret@h:6379/1", "redis://:***@h:6379/1");
    expect_url("redis://alice:s3cret@h", "redis://alice:***@h");
    expect_url("redis://alice@h", "redis://alice@h");          /* a user alone is no secret */
    expect_url("redis://:pa/ss@word@h/0", "redis://:***@h/0"); /* unescaped '/' and '@' */
    expect_url("redis://:p%40ss@[::1]:7000", "redis://:***@[::1]:7000");
    expect_url("postgresql://u:pw@db:5432/tileq?sslmode=require",
               "postgresql://u:***@db:5432/tileq?sslmode=require");
    expect_url("postgresql://u@db/tileq?password=pw&sslmode=require",
               "postgresql://u@db/tileq?password=***&sslmode=require");
    expect_url("postgres://db/tileq?sslmode=require&password=pw",
               "postgres://db/tileq?sslmode=require&password=***");

    char small[12];
    tq_secret_redact_url("redis://:s3cret@host", small, sizeof small);
    assert_string_equal(small, "redis://:**"); /* truncated, never the password */
    tq_secret_redact_url(NULL, small, sizeof small);
    assert_string_equal(small, "");
}

static void test_redact_conninfo(void **state)
{
    (void)state;
    expect_conninfo("host=127.0.0.1 port=5432 dbname=tileq",
                    "host=127.0.0.1 port=5432 dbname=tileq");
    expect_conninfo("host=h password=s3cret dbname=t", "host=h password=*** dbname=t");
    expect_conninfo("password = s3cret", "password = ***");
    expect_conninfo("host=h password='s3 cr\\'et' user=u", "host=h password=*** user=u");
    expect_conninfo("password=s3\\ cret user=u", "password=*** user=u");
    expect_conninfo("password=a password=b", "password=*** password=***");
    expect_conninfo("passwordx=1 mypassword=2", "passwordx=1 mypassword=2");
    expect_conninfo("application_name='password=x' host=h", "application_name='password=x' host=h");
    expect_conninfo("postgresql://u:pw@h/d", "postgresql://u:***@h/d");
    expect_conninfo("dbname=tileq", "dbname=tileq");
}

static void test_read_file(void **state)
{
    char dir[] = "/tmp/tq-secret-XXXXXX", path[128], err[256];
    char *pw = NULL;
    FILE *f;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/pw", dir);
#define WRITE(text, len)                                                                           \
    do {                                                                                           \
        f = fopen(path, "w");                                                                      \
        assert_non_null(f);                                                                        \
        fwrite(text, 1, len, f);                                                                   \
        fclose(f);                                                                                 \
    } while (0)
    WRITE("s3cret\n", 7);
    assert_int_equal(tq_secret_read_file(path, &pw, err, sizeof err), 0);
    assert_string_equal(pw, "s3cret");
    tq_secret_free(pw);
    WRITE("s3cret\r\nrest", 12);
    assert_int_equal(tq_secret_read_file(path, &pw, err, sizeof err), 0);
    assert_string_equal(pw, "s3cret");
    tq_secret_free(pw);
    WRITE(" spaces kept ", 13);
    assert_int_equal(tq_secret_read_file(path, &pw, err, sizeof err), 0);
    assert_string_equal(pw, " spaces kept ");
    tq_secret_free(pw);

    WRITE("\ns3cret\n", 8);
    assert_int_equal(tq_secret_read_file(path, &pw, err, sizeof err), -1);
    assert_null(pw);
    assert_non_null(strstr(err, "the first line is empty"));
    WRITE("s3\0cret", 7);
    assert_int_equal(tq_secret_read_file(path, &pw, err, sizeof err), -1);
    assert_non_null(strstr(err, "NUL"));
    char big[TQ_SECRET_MAX + 2];
    memset(big, 'x', sizeof big);
    WRITE(big, sizeof big);
    assert_int_equal(tq_secret_read_file(path, &pw, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than"));
    WRITE(big, TQ_SECRET_MAX);
    assert_int_equal(tq_secret_read_file(path, &pw, err, sizeof err), 0);
    assert_int_equal(strlen(pw), TQ_SECRET_MAX);
    tq_secret_free(pw);
    unlink(path);
    assert_int_equal(tq_secret_read_file(path, &pw, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(tq_secret_read_file(dir, &pw, err, sizeof err), -1); /* a directory */
    rmdir(dir);
    tq_secret_free(NULL);
#undef WRITE
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redact_url),
        cmocka_unit_test(test_redact_conninfo),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
