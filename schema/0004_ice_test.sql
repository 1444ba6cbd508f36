-- pbxedge store, schema version 4: the last result of `rpctl ice-test
-- servers`, for `rpctl status`.  One row, replaced by each run made with
-- the store.  State, not configuration: no generation bump.

CREATE TABLE ice_test (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	at         INTEGER NOT NULL,
	result     TEXT NOT NULL CHECK (result IN ('SUCCESS', 'FAILED', 'ABORTED')),
	code       TEXT NOT NULL,
	reason     TEXT NOT NULL,
	servers    INTEGER NOT NULL,
	candidates INTEGER NOT NULL
) STRICT;
