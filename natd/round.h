/* round.h - one round over real sockets (round.c) and what natd does with
 * it: store, log, print (main.c). */
#ifndef NATD_ROUND_H
#define NATD_ROUND_H

#include <stdatomic.h>

#include "natd.h"

/* One logical server's round. */
struct natd_entry {
	char server[NATD_TEXT_MAX];          /* as configured */
	struct pbx_addr addrs[NATD_MAX_MEMBERS];
	size_t n_addrs;
	char dns_error[NATD_HOST_MAX + 256]; /* why it could not be probed */
	int socks[NATD_MAX_SOCKS];
	size_t n_socks;
	bool running;
	struct natd_probe probe;             /* n_members 0: never started */
	char *evidence;                      /* JSON, malloc'd */
};

struct natd_round {
	int64_t at;                          /* Unix time the round started */
	struct natd_entry *e;
	size_t n;
};

/* natd_now_ms - a monotonic clock in milliseconds. */
int64_t natd_now_ms(void);

/* natd_round_run - probe every logical server of list in parallel; *r gets
 * one entry per logical server, in list order, each with its verdict and
 * evidence (free with natd_round_free, also after an error).  Returns 0,
 * -EINTR if *stop became true (it is looked at every 100 ms), or
 * -errno. */
int natd_round_run(const struct natd_list *list, const atomic_bool *stop,
		   struct natd_round *r);

void natd_round_free(struct natd_round *r);

/* natd_entry_answered - a member answered test I with a mapped address. */
bool natd_entry_answered(const struct natd_entry *e);

/* natd_entry_external - the external IP address ("" if none). */
void natd_entry_external(const struct natd_entry *e, char *buf, size_t n);

/* natd_entry_answered_by - the member that answered, ADDR:PORT ("" if none). */
void natd_entry_answered_by(const struct natd_entry *e, char *buf, size_t n);

/* natd_entry_classic - the RFC 3489 class (unknown if never probed). */
enum natd_classic natd_entry_classic(const struct natd_entry *e);

#endif
