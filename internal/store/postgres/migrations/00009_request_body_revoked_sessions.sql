-- Two additions, both additive:
--
-- attempts.request_body: the body an attempt sent when it was not the
-- event's envelope (a body template rendered it), at most 64 KiB of it;
-- request_body_truncated says when it was cut. NULL for an envelope.
--
-- ui_revoked_sessions: dashboard sessions ended by a logout, checked on
-- every request so that the old cookie stops working at once, in every
-- process. A row is kept until its cookie would have expired anyway.

-- +goose Up
ALTER TABLE attempts ADD COLUMN request_body bytea;
ALTER TABLE attempts ADD COLUMN request_body_truncated boolean NOT NULL DEFAULT false;
CREATE TABLE ui_revoked_sessions (
    id         text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX ui_revoked_sessions_expires ON ui_revoked_sessions (expires_at);

-- +goose Down
DROP TABLE ui_revoked_sessions;
ALTER TABLE attempts DROP COLUMN request_body_truncated;
ALTER TABLE attempts DROP COLUMN request_body;
