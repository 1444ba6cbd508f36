#!/usr/bin/env bash
# migration - a store created by an older migration and then migrated by
# rpctl (and by a daemon) equals one created fresh, schema and contents
# alike; a store newer than the code is refused everywhere with a clear
# message; a file that is not a pbxedge store is refused.
# Peers: sqlite3 (applies the SQL files itself, independently of our code).
. "$(dirname "$0")/lib.sh"
need sqlite3

: "${PBX_SRC:?PBX_SRC must point at the source tree}"
mapfile -t migrations < <(ls "$PBX_SRC"/schema/[0-9][0-9][0-9][0-9]_*.sql | sort)
latest=${#migrations[@]}
[ "$latest" -ge 1 ] || fail "no migrations found"

# What a store looks like: its schema (as SQLite prints it, sorted) and
# the rows of the tables the migrations seed, plus the version.
describe() {
	sqlite3 "$1" "PRAGMA user_version; PRAGMA journal_mode;"
	sqlite3 "$1" "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name"
	sqlite3 "$1" "SELECT * FROM meta ORDER BY key"
}

"$RPCTL" --db "$T/fresh.db" init >/dev/null
describe "$T/fresh.db" >"$T/fresh.txt"
head -1 "$T/fresh.txt" | grep -qx "$latest" || fail "fresh store is not at version $latest"

# From every older version (0 = an empty file) to the latest.
for ((from = 0; from < latest; from++)); do
	db="$T/from$from.db"
	: >"$db"
	for ((i = 0; i < from; i++)); do
		sqlite3 "$db" <"${migrations[$i]}" || fail "sqlite3 could not apply ${migrations[$i]}"
	done
	sqlite3 "$db" "PRAGMA user_version = $from"
	"$RPCTL" --db "$db" init >/dev/null || fail "rpctl init could not migrate from $from"
	describe "$db" >"$T/from$from.txt"
	diff -u "$T/fresh.txt" "$T/from$from.txt" || fail "migrated from version $from differs from fresh"

	# A daemon migrates an older store at start-up just the same.
	db2="$T/daemon$from.db"
	: >"$db2"
	for ((i = 0; i < from; i++)); do
		sqlite3 "$db2" <"${migrations[$i]}"
	done
	sqlite3 "$db2" "PRAGMA user_version = $from"
	start natd "$NATD" --foreground --db "$db2"
	wait_log "$T/natd.log" "ready workers=" 10
	kill -TERM "$PID_natd"
	wait_exit "$PID_natd"
	[ "$EXIT_STATUS" = 0 ] || fail "natd did not stop cleanly (exit $EXIT_STATUS): $(cat "$T/natd.log")"
	describe "$db2" | diff -u "$T/fresh.txt" - || fail "daemon migration from $from differs"
done

# Commands other than init migrate too, but read-only ones never write.
db="$T/ro.db"
: >"$db"
refuse 1 "schema version 0, older than this pbxedge's $latest; 'rpctl init' migrates it" \
	"$RPCTL" --db "$db" status
[ "$(sqlite3 "$db" 'PRAGMA user_version')" = 0 ] || fail "a read-only command migrated"

# Newer than this code: refused by rpctl and the daemons, store untouched.
cp "$T/fresh.db" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version = $((latest + 1))"
msg="has schema version $((latest + 1)), newer than this pbxedge understands \($latest\)"
refuse 1 "$msg" "$RPCTL" --db "$T/newer.db" init
refuse 1 "$msg" "$RPCTL" --db "$T/newer.db" name add x.example
refuse 1 "$msg" "$RPCTL" --db "$T/newer.db" status
refuse 1 "$msg" "$RPD" --db "$T/newer.db" --check
set +e
"$RPD" --foreground --db "$T/newer.db" >"$T/rpd-newer.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || fail "rpd started on a newer store (exit $rc)"
grep -Eq "start-failed reason=store-error detail=\".*$msg" "$T/rpd-newer.log" || fail "rpd did not say why: $(cat "$T/rpd-newer.log")"
[ "$(sqlite3 "$T/newer.db" 'PRAGMA user_version')" = $((latest + 1)) ] || fail "newer store modified"

# Not a pbxedge store.
sqlite3 "$T/foreign.db" "CREATE TABLE customers (id INTEGER)"
refuse 1 "is an SQLite database but not a pbxedge store" "$RPCTL" --db "$T/foreign.db" init
printf 'plain text, not a database at all, long enough for a header...............\n' >"$T/text.db"
refuse 1 "file is not a database" "$RPCTL" --db "$T/text.db" init
echo "migration: ok"
