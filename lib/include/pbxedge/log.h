/* log.h - one line per event, to stderr, a file or syslog.
 *
 * Each line is "LEVEL event key=value ... reason=NAME": callers name the
 * event and the reason so that logs, counters and tests agree.  Control
 * characters (from network input) are escaped as \xNN, so one event is
 * always one line.  The sink is process-wide: main() opens it once.
 */
#ifndef PBXEDGE_LOG_H
#define PBXEDGE_LOG_H

#include <stdbool.h>
#include <pbxedge/api.h>

/* Levels are syslog's priorities. */
enum pbx_log_level {
	PBX_LOG_ERR = 3,
	PBX_LOG_WARNING = 4,
	PBX_LOG_NOTICE = 5,
	PBX_LOG_INFO = 6,
	PBX_LOG_DEBUG = 7,
};

enum pbx_log_sink {
	PBX_LOG_STDERR, /* with "<N>" priority prefixes when stderr is the journal */
	PBX_LOG_SYSLOG,
	PBX_LOG_FILE,   /* appended to; reopened by pbx_log_reopen() */
};

/* pbx_log_open - send the process's log lines to sink (path only for
 * PBX_LOG_FILE), tagged with ident, at or above level.  Returns 0 or
 * -errno if the file cannot be opened (logging then stays on stderr). */
PBX_API int pbx_log_open(const char *ident, enum pbx_log_sink sink, const char *path,
			 int level);

/* pbx_log_reopen - reopen the log file (after rotation) or the syslog
 * connection.  Safe to call while other threads log.  Returns 0 or -errno. */
PBX_API int pbx_log_reopen(void);

/* pbx_log_close - flush and close the sink; logging returns to stderr. */
PBX_API void pbx_log_close(void);

/* pbx_log_set_level - change the threshold at run time. */
PBX_API void pbx_log_set_level(int level);

/* pbx_log_enabled - true if a line at level would be written. */
PBX_API bool pbx_log_enabled(int level);

/* pbx_log_level_parse - "err", "warning", "notice", "info", "debug" (also
 * "error", "warn") to a level.  Returns 0 or PBX_E_INVALID. */
PBX_API int pbx_log_level_parse(const char *s, int *level);

/* pbx_log_level_name - the short name of level ("info"). */
PBX_API const char *pbx_log_level_name(int level);

/* pbx_log - write one line at level.  The text is escaped and cut at a
 * fixed bound (marked with "..."). */
PBX_API void pbx_log(int level, const char *fmt, ...) PBX_PRINTF(2, 3);

#define pbx_log_error(...) pbx_log(PBX_LOG_ERR, __VA_ARGS__)
#define pbx_log_warn(...) pbx_log(PBX_LOG_WARNING, __VA_ARGS__)
#define pbx_log_notice(...) pbx_log(PBX_LOG_NOTICE, __VA_ARGS__)
#define pbx_log_info(...) pbx_log(PBX_LOG_INFO, __VA_ARGS__)
#define pbx_log_debug(...)                          \
	do {                                        \
		if (pbx_log_enabled(PBX_LOG_DEBUG)) \
			pbx_log(PBX_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
