/* log.c - the process's log sink: stderr (journal-aware), a file, or
 * syslog; one escaped line per event, written with a single write(2). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <pbxedge/buf.h>
#include <pbxedge/err.h>
#include <pbxedge/log.h>

#define LINE_MAX_BYTES 2048

/* The sink is process-wide state by nature (one stderr, one syslog): it is
 * set up by main() through pbx_log_open and only read elsewhere. */
static struct {
	_Atomic int level;
	_Atomic int sink;
	int fd;            /* file sink: a descriptor number reused by reopen */
	bool journal;      /* stderr is connected to the systemd journal */
	bool stamp;        /* prefix lines with a timestamp */
	char ident[32];
	char path[4096];
} lg = { .level = PBX_LOG_INFO, .sink = PBX_LOG_STDERR, .fd = -1, .stamp = true };

static const char *const level_names[8] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/* JOURNAL_STREAM is "dev:ino" of the journal's stream socket; it names our
 * stderr only if that descriptor is still the same file. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	struct stat st;
	unsigned long long dev, ino;
	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st))
		return false;
	return st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

int pbx_log_open(const char *ident, enum pbx_log_sink sink, const char *path, int level)
{
	pbx_log_close(); /* a second open replaces the first sink */
	snprintf(lg.ident, sizeof lg.ident, "%s", ident ? ident : "pbxedge");
	atomic_store(&lg.level, level);
	lg.journal = stderr_is_journal();
	lg.stamp = !lg.journal;
	if (sink == PBX_LOG_SYSLOG) {
		openlog(lg.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		atomic_store(&lg.sink, PBX_LOG_SYSLOG);
		return 0;
	}
	if (sink == PBX_LOG_FILE) {
		if (!path || snprintf(lg.path, sizeof lg.path, "%s", path) >= (int)sizeof lg.path)
			return -ENAMETOOLONG;
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0)
			return -errno;
		lg.fd = fd;
		lg.stamp = true;
		atomic_store(&lg.sink, PBX_LOG_FILE);
		return 0;
	}
	atomic_store(&lg.sink, PBX_LOG_STDERR);
	return 0;
}

int pbx_log_reopen(void)
{
	int sink = atomic_load(&lg.sink);
	if (sink == PBX_LOG_SYSLOG) {
		closelog();
		openlog(lg.ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		return 0;
	}
	if (sink != PBX_LOG_FILE)
		return 0;
	int fd = open(lg.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	/* dup2 swaps the file under the same descriptor number atomically,
	 * so threads writing concurrently never see a closed descriptor. */
	if (dup3(fd, lg.fd, O_CLOEXEC) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

void pbx_log_close(void)
{
	int sink = atomic_exchange(&lg.sink, PBX_LOG_STDERR);
	if (sink == PBX_LOG_SYSLOG)
		closelog();
	if (sink == PBX_LOG_FILE && lg.fd >= 0) {
		close(lg.fd);
		lg.fd = -1;
	}
}

void pbx_log_set_level(int level)
{
	atomic_store(&lg.level, level);
}

bool pbx_log_enabled(int level)
{
	return level <= atomic_load_explicit(&lg.level, memory_order_relaxed);
}

int pbx_log_level_parse(const char *s, int *level)
{
	static const struct { const char *name; int level; } names[] = {
		{ "err", PBX_LOG_ERR }, { "error", PBX_LOG_ERR },
		{ "warning", PBX_LOG_WARNING }, { "warn", PBX_LOG_WARNING },
		{ "notice", PBX_LOG_NOTICE }, { "info", PBX_LOG_INFO },
		{ "debug", PBX_LOG_DEBUG },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(s, names[i].name) == 0) {
			*level = names[i].level;
			return 0;
		}
	}
	return PBX_E_INVALID;
}

const char *pbx_log_level_name(int level)
{
	return (level >= 0 && level < 8) ? level_names[level] : "unknown";
}

void pbx_log(int level, const char *fmt, ...)
{
	if (!pbx_log_enabled(level))
		return;
	int saved_errno = errno;
	char msg[LINE_MAX_BYTES], line[LINE_MAX_BYTES * 2 + 128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	bool cut = (size_t)n >= sizeof msg;
	size_t mlen = cut ? sizeof msg - 1 : (size_t)n;

	int sink = atomic_load(&lg.sink);
	struct pbx_span m = { msg, mlen };
	size_t o = 0;
	if (sink == PBX_LOG_SYSLOG) {
		o = pbx_span_escape(m, line, sizeof line - 8, &cut);
		if (cut)
			o += (size_t)snprintf(line + o, sizeof line - o, "...");
		line[o] = '\0';
		syslog(level, "%s %s", pbx_log_level_name(level), line);
		errno = saved_errno;
		return;
	}
	if (lg.journal && sink == PBX_LOG_STDERR) {
		o += (size_t)snprintf(line, sizeof line, "<%d>", level);
	} else if (lg.stamp) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		o += strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
		o += (size_t)snprintf(line + o, sizeof line - o, ".%03ldZ %s[%d]: ",
				      ts.tv_nsec / 1000000, lg.ident, (int)getpid());
	}
	o += (size_t)snprintf(line + o, sizeof line - o, "%s ", pbx_log_level_name(level));
	o += pbx_span_escape(m, line + o, sizeof line - o - 8, &cut);
	if (cut)
		o += (size_t)snprintf(line + o, sizeof line - o, "...");
	line[o++] = '\n';
	int fd = sink == PBX_LOG_FILE ? lg.fd : STDERR_FILENO;
	/* One write per line: lines from several threads never interleave. */
	ssize_t w = write(fd, line, o);
	(void)w;
	errno = saved_errno;
}
