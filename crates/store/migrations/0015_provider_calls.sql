-- How this office's recent calls to each provider ended (`answered`, `timeout`, `unreachable`,
-- `server_error`, `busy`): its health, shared by the desktop and every `malipo` command. Kept
-- for an hour.
CREATE TABLE provider_calls (
    id       INTEGER PRIMARY KEY,
    provider TEXT NOT NULL,
    at       INTEGER NOT NULL,
    ended    TEXT NOT NULL
        CHECK (ended IN ('answered', 'timeout', 'unreachable', 'server_error', 'busy'))
) STRICT;
CREATE INDEX provider_calls_recent ON provider_calls (provider, at);
