-- pbxedge store, schema version 5: the last result of each mode of
-- `rpctl ice-test` (servers, loop, peer), for `rpctl status`.  One row per
-- mode, replaced by each run made with the store; the servers row of
-- version 4 is kept.  State, not configuration: no generation bump.

CREATE TABLE ice_test_v5 (
	mode       TEXT NOT NULL PRIMARY KEY CHECK (mode IN ('servers', 'loop', 'peer')),
	at         INTEGER NOT NULL,
	result     TEXT NOT NULL CHECK (result IN ('SUCCESS', 'FAILED', 'ABORTED')),
	code       TEXT NOT NULL,
	reason     TEXT NOT NULL,
	servers    INTEGER NOT NULL,
	candidates INTEGER NOT NULL,
	pairs      INTEGER NOT NULL DEFAULT 0,
	selected   TEXT NOT NULL DEFAULT ''
) STRICT;

INSERT INTO ice_test_v5 (mode, at, result, code, reason, servers, candidates)
	SELECT 'servers', at, result, code, reason, servers, candidates FROM ice_test;
DROP TABLE ice_test;
ALTER TABLE ice_test_v5 RENAME TO ice_test;
