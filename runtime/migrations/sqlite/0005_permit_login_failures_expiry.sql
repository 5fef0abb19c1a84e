-- actix-permit: the login throttle forgets ended windows and bounds its
-- rows; both find rows by `expires_at`.
CREATE INDEX permit_login_failures_expires_at ON permit_login_failures (expires_at);
