/* test_turn_rest.c - TURN REST credentials (lib/turn/rest.c):
 * turn_rest_password, turn_rest_expiry, turn_rest_expired,
 * turn_rest_username, turn_rest_mint. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <pbxedge/turn.h>

START_TEST(test_turn_rest_password)
{
	char pw[32];
	ck_assert_int_eq(turn_rest_password(pbx_span_cstr("north"),
					    pbx_span_cstr("1700000000:alice"), pw, sizeof pw), 0);
	/* python3: base64(hmac.new(b"north", b"1700000000:alice", sha1)) */
	ck_assert_str_eq(pw, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
	ck_assert_uint_eq(strlen(pw), TURN_REST_PASSWORD_LEN);
	ck_assert_int_eq(turn_rest_password(pbx_span_cstr("north"), pbx_span_cstr("x"), pw, 28),
			 PBX_E_NOSPACE);
	ck_assert_int_eq(turn_rest_password(pbx_span_cstr("north"), pbx_span_cstr("x"), pw, 29), 0);
}
END_TEST

START_TEST(test_turn_rest_expiry)
{
	int64_t exp;
	bool expired;
	ck_assert_int_eq(turn_rest_expiry(pbx_span_cstr("1700000000:alice"), &exp), 0);
	ck_assert_int_eq(exp, 1700000000);
	ck_assert_int_eq(turn_rest_expiry(pbx_span_cstr("1700000000"), &exp), 0);
	ck_assert_int_eq(turn_rest_expiry(pbx_span_cstr("alice"), &exp), PBX_E_MALFORMED);
	ck_assert_int_eq(turn_rest_expiry(pbx_span_cstr(":alice"), &exp), PBX_E_MALFORMED);
	ck_assert_int_eq(turn_rest_expiry(pbx_span_cstr("17x:alice"), &exp), PBX_E_MALFORMED);
	ck_assert_int_eq(turn_rest_expiry(pbx_span_cstr("1234567890123:a"), &exp),
			 PBX_E_MALFORMED);
	/* Expired at its expiry second, as turnd judges it. */
	ck_assert_int_eq(turn_rest_expired(pbx_span_cstr("1000:bob"), 999, &expired), 0);
	ck_assert(!expired);
	ck_assert_int_eq(turn_rest_expired(pbx_span_cstr("1000:bob"), 1000, &expired), 0);
	ck_assert(expired);
	ck_assert_int_eq(turn_rest_expired(pbx_span_cstr("bob"), 1000, &expired), PBX_E_MALFORMED);
}
END_TEST

START_TEST(test_turn_rest_mint)
{
	char user[64], pw[32], want[32];
	ck_assert_int_eq(turn_rest_username(pbx_span_cstr("alice"), 1700000000, user, sizeof user),
			 0);
	ck_assert_str_eq(user, "1700000000:alice");
	ck_assert_int_eq(turn_rest_username(pbx_span_cstr("a:b"), 1, user, sizeof user),
			 PBX_E_INVALID);
	ck_assert_int_eq(turn_rest_username(pbx_span_cstr("alice"), -1, user, sizeof user),
			 PBX_E_INVALID);
	ck_assert_int_eq(turn_rest_username(pbx_span_cstr("alice"), 1700000000, user, 16),
			 PBX_E_NOSPACE);
	ck_assert_str_eq(user, "");
	/* A 10-minute credential: the user name and the password that turnd
	 * will compute from it. */
	ck_assert_int_eq(turn_rest_mint(pbx_span_cstr("north"), pbx_span_cstr("alice"),
					1699999400, TURN_REST_TTL, user, sizeof user, pw, sizeof pw),
			 0);
	ck_assert_str_eq(user, "1700000000:alice");
	ck_assert_str_eq(pw, "Cd/49soE35ICqcJF/bCTn8Z4OyE=");
	ck_assert_int_eq(turn_rest_password(pbx_span_cstr("north"), pbx_span_cstr(user), want,
					    sizeof want), 0);
	ck_assert_str_eq(pw, want);
	ck_assert_int_eq(turn_rest_mint(pbx_span_cstr("north"), pbx_span_cstr("alice"), 0, 0,
					user, sizeof user, pw, sizeof pw),
			 PBX_E_INVALID);
	/* The empty user is allowed: "EXPIRY:" */
	ck_assert_int_eq(turn_rest_username((struct pbx_span){ NULL, 0 }, 5, user, sizeof user), 0);
	ck_assert_str_eq(user, "5:");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("turn_rest");
	TCase *tc = tcase_create("turn_rest");
	tcase_add_test(tc, test_turn_rest_password);
	tcase_add_test(tc, test_turn_rest_expiry);
	tcase_add_test(tc, test_turn_rest_mint);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
