-- pbxedge store, schema version 3: state that natd and turnd report.
--
-- natd: every verdict that changed (the latest per logical server stays in
-- nat_result), and probes asked for by `rpctl nat probe`.  turnd: the live
-- allocations, refreshed every few seconds, for `rpctl turn status`.
-- None of these bump the configuration generation: they are state, not
-- configuration.

CREATE TABLE nat_history (
	id           INTEGER PRIMARY KEY,
	at           INTEGER NOT NULL,
	server_index INTEGER NOT NULL,
	server       TEXT NOT NULL,
	external     TEXT,
	mapping      TEXT NOT NULL,
	filtering    TEXT NOT NULL,
	hairpin      TEXT NOT NULL,
	classic      TEXT NOT NULL
) STRICT;
CREATE TRIGGER nat_history_bound AFTER INSERT ON nat_history
BEGIN
	DELETE FROM nat_history WHERE id <= NEW.id - 1000;
END;

-- A probe asked for by rpctl: natd answers by setting done (Unix seconds)
-- once the round is stored.
CREATE TABLE nat_probe (
	id        INTEGER PRIMARY KEY,
	requested INTEGER NOT NULL,
	done      INTEGER
) STRICT;

CREATE TABLE turn_allocation (
	id          INTEGER PRIMARY KEY,
	daemon      TEXT NOT NULL,
	user        TEXT NOT NULL,
	client      TEXT NOT NULL,       -- ADDR:PORT
	transport   TEXT NOT NULL CHECK (transport IN ('udp', 'tcp', 'tls')),
	relayed     TEXT NOT NULL,       -- ADDR:PORT (as advertised)
	started     INTEGER NOT NULL,
	expires     INTEGER NOT NULL,
	permissions INTEGER NOT NULL DEFAULT 0,
	channels    INTEGER NOT NULL DEFAULT 0,
	bytes_in    INTEGER NOT NULL DEFAULT 0,
	bytes_out   INTEGER NOT NULL DEFAULT 0,
	packets_in  INTEGER NOT NULL DEFAULT 0,
	packets_out INTEGER NOT NULL DEFAULT 0,
	updated     INTEGER NOT NULL
) STRICT;
CREATE INDEX turn_allocation_daemon ON turn_allocation (daemon);
