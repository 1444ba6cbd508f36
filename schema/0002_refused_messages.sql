-- pbxedge store, schema version 2: what rpd refused, as it arrived.
--
-- Administrators debug a phone that will not register from what the proxy
-- actually saw: the first bytes of each refused message (escaped), the
-- byte offset where it broke a rule, and the reason.  Only the newest five
-- per service type are kept.

CREATE TABLE refused_message (
	id      INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL,
	daemon  TEXT NOT NULL,
	service TEXT NOT NULL,
	source  TEXT NOT NULL,
	reason  TEXT NOT NULL,
	offset  INTEGER NOT NULL,
	excerpt TEXT NOT NULL
) STRICT;
CREATE INDEX refused_message_service ON refused_message (service, id);
CREATE TRIGGER refused_message_bound AFTER INSERT ON refused_message
BEGIN
	DELETE FROM refused_message WHERE service = NEW.service AND id NOT IN
		(SELECT id FROM refused_message WHERE service = NEW.service
		 ORDER BY id DESC LIMIT 5);
END;
