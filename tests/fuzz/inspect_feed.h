/* inspect_feed.h - the driver the inspector fuzz targets share: the bytes of
 * a connection given to an inspector as rpd gives them, message after
 * message in both directions, and refusals for every reason written and
 * read back.  The checks every protocol must pass are made here; a target
 * adds its protocol's own through a struct feed_ops.
 *
 * Every call gets its bytes in a heap block of exactly their size, so that
 * ASan catches a read past them. */
#ifndef INSPECT_FEED_H
#define INSPECT_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <pbxedge/buf.h>
#include <pbxedge/inspect.h>

/* A broken invariant crashes the target, which libFuzzer and the replay
 * program both report. */
#define CHECK(x)                     \
	do {                         \
		if (!(x))            \
			abort();     \
	} while (0)

/* Room for any refusal. */
#define FEED_REFUSAL_CAP 4096

struct feed;

/* What differs between protocols.  Each hook runs after the shared checks;
 * any may be NULL. */
struct feed_ops {
	/* Checks on every answer of request(): st answered v for the n
	 * bytes at c. */
	void (*request)(const struct feed *f, void *st, const struct pbx_verdict *v,
			const uint8_t *c, size_t n);
	/* Runs once per message, after its last answer v, for the n bytes at
	 * c (also when the bytes ran out before a verdict). */
	void (*decided)(const struct feed *f, void *st, const struct pbx_verdict *v,
			const uint8_t *c, size_t n);
	/* Checks on every answer of reply(), as for request. */
	void (*reply)(const struct feed *f, void *st, const struct pbx_reply *r, const uint8_t *c,
		      size_t n);
	/* How far a message reaches past its head: sets *used to its bytes
	 * among the avail bytes at p (those after the head) and returns true,
	 * or returns false where the stream cannot be followed further.  NULL
	 * is feed_body_reach. */
	bool (*reach)(const struct feed *f, unsigned flags, enum pbx_body body, uint64_t body_len,
		      const uint8_t *p, size_t avail, size_t *used);
	/* Checks on the refusal of the len bytes at p for reason: the n > 0
	 * bytes at m. */
	void (*refusal)(const struct feed *f, enum pbx_reason reason, const uint8_t *m, size_t n,
			const uint8_t *p, size_t len);
	/* The answer to a message does not depend on the messages before it
	 * or on how its bytes arrived: a fresh state given them whole answers
	 * the same. */
	bool same_fresh;
	/* Every reason that is not silent is answered, whatever the bytes. */
	bool answers_all;
};

struct feed {
	const struct pbx_inspector *in;
	const struct feed_ops *ops;
	size_t step;     /* bytes more per read; 0: all at once */
	size_t max_head; /* the head bound states are initialised with */
};

/* feed_state - a zeroed state for in, initialised with max_head; the
 * caller frees it. */
void *feed_state(const struct pbx_inspector *in, size_t max_head);

/* feed_copy - a heap copy of exactly the n bytes at p (one byte when n is
 * 0); the caller frees it. */
uint8_t *feed_copy(const void *p, size_t n);

/* feed_inside - whether s is empty or lies inside the n bytes at base. */
bool feed_inside(struct pbx_span s, const void *base, size_t n);

/* feed_next_len - how many of len bytes the read after the first n has. */
size_t feed_next_len(const struct feed *f, size_t n, size_t len);

/* feed_silent - whether a refusal for reason writes nothing: nobody to
 * answer, the service answered, or no such reason. */
bool feed_silent(enum pbx_reason reason);

/* feed_body_reach - the default reach: a PBX_BODY_LENGTH body of body_len
 * bytes if they are all here (false if not), no body otherwise. */
bool feed_body_reach(const struct feed *f, unsigned flags, enum pbx_body body, uint64_t body_len,
		     const uint8_t *p, size_t avail, size_t *used);

/* feed_requests - the len bytes at p as requests to st, as rpd reads
 * them: growing prefixes, f->step bytes more at a time, until an answer;
 * then past the message to the next.  A refusal, or bytes that run out,
 * end it. */
void feed_requests(const struct feed *f, void *st, const uint8_t *p, size_t len);

/* feed_replies - the same for replies. */
void feed_replies(const struct feed *f, void *st, const uint8_t *p, size_t len);

/* feed_refusals - refuse the len bytes at p with st for every reason, and
 * one past the last: with room, a refusal that f->ops->refusal accepts or
 * nothing (always nothing for the silent reasons); with a writer too
 * small, the same bytes or nothing at all. */
void feed_refusals(const struct feed *f, void *st, const uint8_t *p, size_t len);

/* feed_refuse_fresh - feed_refusals over an exact copy of the len bytes
 * at p (NULL when there are none) with a fresh state. */
void feed_refuse_fresh(const struct feed *f, const uint8_t *p, size_t len);

/* feed_refuse_decided - a decided hook: feed_refusals with st over a
 * routed message's head (rpd may still refuse it: unknown name, no
 * target ...) or over the bytes of a refused one. */
void feed_refuse_decided(const struct feed *f, void *st, const struct pbx_verdict *v,
			 const uint8_t *c, size_t n);

#endif
