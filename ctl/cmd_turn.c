/* cmd_turn.c - rpctl turn: TURN accounts (the store keeps the keys
 * derived from the password, never the password), TURN REST shared
 * secrets, and turnd's live allocations. */
#include <string.h>

#include "ctl.h"

static int cmd_user_add(struct ctl *c, int argc, char **argv)
{
	char realm[1024];
	(void)argc;
	if (store_setting_get(c->st, "turnd.realm", realm, sizeof realm, NULL, &c->err) ||
	    store_turn_user_add(c->st, argv[0], realm, argv[1], &c->err))
		return ctl_fail_err(c);
	return 0;
}

static int hex_bytes(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char ch = s[2 * i + k];
			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v |= (unsigned)(ch - 'a' + 10);
			else
				return -1;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

static int cmd_user_key(struct ctl *c, int argc, char **argv)
{
	uint8_t md5[16], sha[32];
	(void)argc;
	if (hex_bytes(argv[2], md5, sizeof md5) || hex_bytes(argv[3], sha, sizeof sha))
		return ctl_fail(c, "the keys are 32 and 64 lower-case hex digits (MD5 and SHA-256 "
				"of USER:REALM:PASSWORD), as 'rpctl export' writes them");
	if (store_turn_user_key_set(c->st, argv[0], argv[1], md5, sha, &c->err))
		return ctl_fail_err(c);
	return 0;
}

static int cmd_user_del(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return store_turn_user_del(c->st, argv[0], &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_user_list(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_print_query(c, STORE_Q_TURN_ACCOUNTS, NULL);
}

static int cmd_secret_add(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	int rc = store_turn_secret_add(c->st, argv[0], &c->err);
	/* An import into a store that has the secret already. */
	if (rc == PBX_E_EXISTS && c->importing)
		return 0;
	return rc ? ctl_fail_err(c) : 0;
}

static int cmd_secret_del(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	return store_turn_secret_del(c->st, argv[0], &c->err) ? ctl_fail_err(c) : 0;
}

static int cmd_secret_list(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_print_query(c, STORE_Q_TURN_SECRETS, NULL);
}

static int cmd_status(struct ctl *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return ctl_print_query(c, STORE_Q_TURN_ALLOCATIONS, NULL);
}

static const struct ctl_cmd cmds[] = {
	{ "turn user add", "NAME PASSWORD", 2, 2, 0, 0, cmd_user_add,
	  "add (or change the password of) a TURN account in turnd.realm; only the keys "
	  "derived from the password are stored" },
	{ "turn user key", "NAME REALM MD5HEX SHA256HEX", 4, 4, 0, CTL_IMPORT, cmd_user_key,
	  "add a TURN account from its derived keys (how 'rpctl export' carries accounts)" },
	{ "turn user del", "NAME", 1, 1, 0, 0, cmd_user_del, "delete a TURN account" },
	{ "turn user list", NULL, 0, 0, 0, CTL_READ, cmd_user_list, "list TURN accounts" },
	{ "turn secret add", "SECRET", 1, 1, 0, CTL_IMPORT, cmd_secret_add,
	  "activate a shared secret for TURN REST credentials (several may be active)" },
	{ "turn secret del", "ID|SECRET", 1, 1, 0, 0, cmd_secret_del,
	  "retire a shared secret" },
	{ "turn secret list", NULL, 0, 0, 0, CTL_READ, cmd_secret_list,
	  "list the active shared secrets (ids and ages, not the secrets)" },
	{ "turn status", NULL, 0, 0, 0, CTL_READ, cmd_status,
	  "turnd's live allocations: user, client, relayed address, expiry, permissions, "
	  "channels, traffic each way (refreshed every few seconds)" },
};

const struct ctl_group ctl_group_turn = { "TURN accounts and allocations", cmds,
					  sizeof cmds / sizeof cmds[0] };
