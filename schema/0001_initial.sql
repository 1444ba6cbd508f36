-- pbxedge store, schema version 1.
--
-- Configuration (settings, listeners, service names and their targets,
-- access limits), the blacklist and whitelist, TURN accounts, NAT discovery
-- results, and what the daemons report about themselves.  Times are Unix
-- seconds (UTC).  Addresses and networks are stored as canonical text as
-- pbx_cidr_format writes it.  Every change to configuration bumps
-- meta.config_generation (triggers below), which is what the daemons poll
-- to know when to load a new snapshot; status and counter writes do not.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;
INSERT INTO meta (key, value) VALUES ('config_generation', 0);

-- Settings that differ from their defaults; keys and types are defined
-- (and validated) by the library, not here.
CREATE TABLE setting (
	key     TEXT PRIMARY KEY,
	value   TEXT NOT NULL,
	updated INTEGER NOT NULL
) STRICT;

-- One listening port per service type; no row: the type is not served.
CREATE TABLE listener (
	proto TEXT PRIMARY KEY CHECK (proto IN
		('http', 'https', 'sip', 'sips', 'h323', 'h323s', 'ldap', 'ldaps')),
	port  INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
	addr  TEXT     -- NULL: every local address
) STRICT;

CREATE TABLE service_name (
	id      INTEGER PRIMARY KEY,
	name    TEXT NOT NULL UNIQUE COLLATE NOCASE,
	created INTEGER NOT NULL
) STRICT;

-- Where requests for a name go, per protocol family.  With both ports the
-- encryption is kept; with one, every request uses that one.
CREATE TABLE target (
	name_id    INTEGER NOT NULL REFERENCES service_name (id) ON DELETE CASCADE,
	family     TEXT NOT NULL CHECK (family IN ('http', 'sip', 'h323', 'ldap')),
	host       TEXT NOT NULL,
	plain_port INTEGER CHECK (plain_port BETWEEN 1 AND 65535),
	tls_port   INTEGER CHECK (tls_port BETWEEN 1 AND 65535),
	check_cert INTEGER NOT NULL DEFAULT 0 CHECK (check_cert IN (0, 1)),
	CHECK (plain_port IS NOT NULL OR tls_port IS NOT NULL),
	PRIMARY KEY (name_id, family)
) STRICT;

-- Allowed source networks per name and family; none: every source.
CREATE TABLE allow_ip (
	name_id INTEGER NOT NULL REFERENCES service_name (id) ON DELETE CASCADE,
	family  TEXT NOT NULL CHECK (family IN ('http', 'sip', 'h323', 'ldap')),
	network TEXT NOT NULL,
	PRIMARY KEY (name_id, family, network)
) STRICT;

-- Allowed URL heads per name (HTTP); none: every URL.
CREATE TABLE allow_url (
	name_id INTEGER NOT NULL REFERENCES service_name (id) ON DELETE CASCADE,
	url     TEXT NOT NULL,
	PRIMARY KEY (name_id, url)
) STRICT;

CREATE TABLE blacklist (
	network TEXT PRIMARY KEY,
	origin  TEXT NOT NULL CHECK (origin IN ('manual', 'auto')),
	reason  TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL,
	expires INTEGER,                    -- NULL: permanent
	hits    INTEGER NOT NULL DEFAULT 0  -- requests dropped because of it
) STRICT;
CREATE INDEX blacklist_expires ON blacklist (expires) WHERE expires IS NOT NULL;

CREATE TABLE whitelist (
	network TEXT PRIMARY KEY,
	origin  TEXT NOT NULL CHECK (origin IN ('manual', 'promoted')),
	reason  TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL,
	hits    INTEGER NOT NULL DEFAULT 0  -- suspicious requests it let pass
) STRICT;

-- A bounded log of suspicious events (the newest 10000 are kept).
CREATE TABLE suspicious_event (
	id      INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL,
	daemon  TEXT NOT NULL,
	source  TEXT NOT NULL,
	service TEXT NOT NULL DEFAULT '',
	reason  TEXT NOT NULL,
	detail  TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX suspicious_event_source ON suspicious_event (source, at);
CREATE TRIGGER suspicious_event_bound AFTER INSERT ON suspicious_event
BEGIN
	DELETE FROM suspicious_event WHERE id <= NEW.id - 10000;
END;

-- TURN long-term credentials: only the derived keys (RFC 8489 9.2.2),
-- never the password.
CREATE TABLE turn_account (
	user       TEXT PRIMARY KEY,
	realm      TEXT NOT NULL,
	key_md5    BLOB NOT NULL CHECK (length(key_md5) = 16),
	key_sha256 BLOB NOT NULL CHECK (length(key_sha256) = 32),
	created    INTEGER NOT NULL
) STRICT;

-- Shared secrets for time-limited (TURN REST) credentials; several may be
-- active at once so that they can be rotated.
CREATE TABLE turn_secret (
	id      INTEGER PRIMARY KEY,
	secret  TEXT NOT NULL UNIQUE,
	created INTEGER NOT NULL
) STRICT;

-- The latest NAT discovery verdict per logical STUN server of natd.servers.
CREATE TABLE nat_result (
	server_index INTEGER PRIMARY KEY,
	server       TEXT NOT NULL,
	at           INTEGER NOT NULL,
	external     TEXT,
	mapping      TEXT NOT NULL DEFAULT 'unknown' CHECK (mapping IN
		('endpoint-independent', 'address-dependent',
		 'address-and-port-dependent', 'unknown')),
	filtering    TEXT NOT NULL DEFAULT 'unknown' CHECK (filtering IN
		('endpoint-independent', 'address-dependent',
		 'address-and-port-dependent', 'unknown')),
	hairpin      TEXT NOT NULL DEFAULT 'unknown' CHECK (hairpin IN
		('true', 'false', 'unknown')),
	classic      TEXT NOT NULL DEFAULT 'unknown' CHECK (classic IN
		('open', 'full-cone', 'restricted-cone', 'port-restricted-cone',
		 'symmetric', 'symmetric-firewall', 'udp-blocked', 'unknown')),
	evidence     TEXT NOT NULL DEFAULT '[]'  -- JSON: probes sent, answers seen
) STRICT;

CREATE TABLE daemon_status (
	daemon    TEXT PRIMARY KEY,
	pid       INTEGER NOT NULL,
	version   TEXT NOT NULL,
	started   INTEGER NOT NULL,
	heartbeat INTEGER NOT NULL,
	state     TEXT NOT NULL,
	detail    TEXT NOT NULL DEFAULT ''
) STRICT;

-- Counters since the daemon's last start.
CREATE TABLE counter (
	daemon  TEXT NOT NULL,
	name    TEXT NOT NULL,
	value   INTEGER NOT NULL,
	updated INTEGER NOT NULL,
	PRIMARY KEY (daemon, name)
) STRICT;

-- Configuration generation: bumped by every change the daemons must see.
CREATE TRIGGER setting_ins AFTER INSERT ON setting BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER setting_upd AFTER UPDATE ON setting BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER setting_del AFTER DELETE ON setting BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER listener_ins AFTER INSERT ON listener BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER listener_upd AFTER UPDATE ON listener BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER listener_del AFTER DELETE ON listener BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER service_name_ins AFTER INSERT ON service_name BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER service_name_upd AFTER UPDATE ON service_name BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER service_name_del AFTER DELETE ON service_name BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER target_ins AFTER INSERT ON target BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER target_upd AFTER UPDATE ON target BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER target_del AFTER DELETE ON target BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER allow_ip_ins AFTER INSERT ON allow_ip BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER allow_ip_del AFTER DELETE ON allow_ip BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER allow_url_ins AFTER INSERT ON allow_url BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER allow_url_del AFTER DELETE ON allow_url BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER blacklist_ins AFTER INSERT ON blacklist BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER blacklist_upd AFTER UPDATE OF network, origin, reason, expires ON blacklist BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER blacklist_del AFTER DELETE ON blacklist BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER whitelist_ins AFTER INSERT ON whitelist BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER whitelist_upd AFTER UPDATE OF network, origin, reason ON whitelist BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER whitelist_del AFTER DELETE ON whitelist BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER turn_account_ins AFTER INSERT ON turn_account BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER turn_account_upd AFTER UPDATE ON turn_account BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER turn_account_del AFTER DELETE ON turn_account BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER turn_secret_ins AFTER INSERT ON turn_secret BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
CREATE TRIGGER turn_secret_del AFTER DELETE ON turn_secret BEGIN
	UPDATE meta SET value = value + 1 WHERE key = 'config_generation'; END;
