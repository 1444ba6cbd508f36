/* test_tls.c - server credentials and the files they come from:
 * pbx_tls_server_files_update loads a pair, reuses it while nothing
 * changed (pbx_tls_server_files_changed), loads a pair replaced on disk
 * (written in place or renamed over), keeps the previous credentials when
 * the replacement does not load and does not try again until a file
 * changes, and loads nothing when nothing is configured.  The test makes
 * its own self-signed certificates with GnuTLS. */
#include <check.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/tls.h>

static char dir[64];
static char cert[128], key[128];

static void write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* A self-signed certificate with serial into cert_path, its key into
 * key_path. */
static void make_pair(const char *cert_path, const char *key_path, uint8_t serial)
{
	gnutls_x509_privkey_t k;
	gnutls_x509_crt_t c;
	ck_assert_int_eq(gnutls_x509_privkey_init(&k), 0);
	ck_assert_int_eq(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
						      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
						      0), 0);
	ck_assert_int_eq(gnutls_x509_crt_init(&c), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_version(c, 3), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_serial(c, &serial, 1), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, "test",
						       4), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_activation_time(c, time(NULL) - 60), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_expiration_time(c, time(NULL) + 3600), 0);
	ck_assert_int_eq(gnutls_x509_crt_set_key(c, k), 0);
	ck_assert_int_eq(gnutls_x509_crt_sign2(c, c, k, GNUTLS_DIG_SHA256, 0), 0);
	gnutls_datum_t out;
	ck_assert_int_eq(gnutls_x509_crt_export2(c, GNUTLS_X509_FMT_PEM, &out), 0);
	write_file(cert_path, out.data, out.size);
	gnutls_free(out.data);
	ck_assert_int_eq(gnutls_x509_privkey_export2(k, GNUTLS_X509_FMT_PEM, &out), 0);
	write_file(key_path, out.data, out.size);
	gnutls_free(out.data);
	gnutls_x509_crt_deinit(c);
	gnutls_x509_privkey_deinit(k);
}

static void setup(void)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/pbx-tls-XXXXXX",
		 tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cert, sizeof cert, "%s/cert.pem", dir);
	snprintf(key, sizeof key, "%s/key.pem", dir);
}

static void teardown(void)
{
	char path[160];
	const char *names[] = { "cert.pem", "key.pem", "cert.new", "key.new" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

START_TEST(test_pbx_tls_server_files_update_replaced)
{
	struct pbx_tls_server_conf conf = { cert, key, "NORMAL", NULL };
	struct pbx_tls_server_files a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	make_pair(cert, key, 1);
	ck_assert(pbx_tls_server_files_changed(NULL, &conf));
	ck_assert_int_eq(pbx_tls_server_files_update(&a, &conf, false, NULL), 0);
	ck_assert_ptr_nonnull(a.creds);
	ck_assert(!a.failed);
	ck_assert(!pbx_tls_server_files_changed(&a, &conf));

	/* Nothing changed: the same credentials. */
	ck_assert_int_eq(pbx_tls_server_files_update(&b, &conf, false, &a), 0);
	ck_assert_ptr_eq(b.creds, a.creds);
	pbx_tls_server_files_cleanup(&b);

	/* Renamed over, as certificate tools do: new credentials. */
	char cert_new[160], key_new[160];
	snprintf(cert_new, sizeof cert_new, "%s/cert.new", dir);
	snprintf(key_new, sizeof key_new, "%s/key.new", dir);
	make_pair(cert_new, key_new, 2);
	ck_assert_int_eq(rename(key_new, key), 0);
	ck_assert_int_eq(rename(cert_new, cert), 0);
	ck_assert(pbx_tls_server_files_changed(&a, &conf));
	ck_assert_int_eq(pbx_tls_server_files_update(&b, &conf, false, &a), 0);
	ck_assert_ptr_nonnull(b.creds);
	ck_assert_ptr_ne(b.creds, a.creds);
	ck_assert(!pbx_tls_server_files_changed(&b, &conf));

	/* A broken key: the previous credentials stay, marked failed ... */
	write_file(key, "not a key\n", 10);
	ck_assert(pbx_tls_server_files_changed(&b, &conf));
	ck_assert_int_eq(pbx_tls_server_files_update(&c, &conf, false, &b), PBX_E_INVALID);
	ck_assert_ptr_eq(c.creds, b.creds);
	ck_assert(c.failed);
	/* ... and are not tried again until a file changes. */
	ck_assert(!pbx_tls_server_files_changed(&c, &conf));
	ck_assert_int_eq(pbx_tls_server_files_update(&d, &conf, false, &c), 0);
	ck_assert_ptr_eq(d.creds, b.creds);
	ck_assert(d.failed);
	pbx_tls_server_files_cleanup(&d);

	/* Another name is a change too; a missing file does not load, and
	 * with nothing before there is nothing to keep. */
	struct pbx_tls_server_conf gone = { "/nonexistent/cert.pem", key, "NORMAL", NULL };
	ck_assert(pbx_tls_server_files_changed(&c, &gone));
	ck_assert_int_eq(pbx_tls_server_files_update(&d, &gone, false, NULL), PBX_E_INVALID);
	ck_assert_ptr_null(d.creds);
	pbx_tls_server_files_cleanup(&d);
	/* Another priority is a change. */
	struct pbx_tls_server_conf prio = conf;
	prio.priority = "NORMAL:-VERS-TLS1.2";
	ck_assert(pbx_tls_server_files_changed(&c, &prio));

	pbx_tls_server_files_cleanup(&a);
	pbx_tls_server_files_cleanup(&b);
	pbx_tls_server_files_cleanup(&c);
	ck_assert_ptr_null(c.creds);
}
END_TEST

START_TEST(test_pbx_tls_server_files_update_in_place)
{
	struct pbx_tls_server_conf conf = { cert, key, "NORMAL", NULL };
	struct pbx_tls_server_files a = { 0 }, b = { 0 };
	make_pair(cert, key, 1);
	ck_assert_int_eq(pbx_tls_server_files_update(&a, &conf, false, NULL), 0);
	/* Rewritten in place (same inode): size or time tells. */
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	nanosleep(&pause, NULL);
	make_pair(cert, key, 3);
	ck_assert(pbx_tls_server_files_changed(&a, &conf));
	ck_assert_int_eq(pbx_tls_server_files_update(&b, &conf, false, &a), 0);
	ck_assert_ptr_ne(b.creds, a.creds);
	pbx_tls_server_files_cleanup(&a);
	pbx_tls_server_files_cleanup(&b);
}
END_TEST

START_TEST(test_pbx_tls_server_files_update_nothing_configured)
{
	struct pbx_tls_server_conf none = { "", "", "NORMAL", NULL };
	struct pbx_tls_server_files a = { 0 }, b = { 0 };
	ck_assert_int_eq(pbx_tls_server_files_update(&a, &none, false, NULL), 0);
	ck_assert_ptr_null(a.creds);
	ck_assert(!a.failed);
	ck_assert(!pbx_tls_server_files_changed(&a, &none));
	/* Needed (a TLS port is configured): the failure is reported. */
	ck_assert_int_eq(pbx_tls_server_files_update(&b, &none, true, NULL), PBX_E_INVALID);
	ck_assert_ptr_null(b.creds);
	ck_assert(b.failed);
	pbx_tls_server_files_cleanup(&a);
	pbx_tls_server_files_cleanup(&b);
}
END_TEST

START_TEST(test_pbx_tls_file_id)
{
	struct pbx_tls_file_id x, y;
	pbx_tls_file_id("", &x);
	ck_assert(!x.exists);
	pbx_tls_file_id(NULL, &y);
	ck_assert(pbx_tls_file_id_equal(&x, &y));
	write_file(cert, "a", 1);
	pbx_tls_file_id(cert, &x);
	ck_assert(x.exists);
	ck_assert(!pbx_tls_file_id_equal(&x, &y));
	write_file(cert, "ab", 2);
	pbx_tls_file_id(cert, &y);
	ck_assert(!pbx_tls_file_id_equal(&x, &y));
	pbx_tls_file_id(cert, &x);
	ck_assert(pbx_tls_file_id_equal(&x, &y));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pbx_tls_server_files_update_replaced);
	tcase_add_test(tc, test_pbx_tls_server_files_update_in_place);
	tcase_add_test(tc, test_pbx_tls_server_files_update_nothing_configured);
	tcase_add_test(tc, test_pbx_tls_file_id);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
