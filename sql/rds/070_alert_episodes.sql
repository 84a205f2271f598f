-- The alert path's memory (docs/adr/0011-alerting-path.md): one row per robot x metric episode
-- the analytics raised. The episode key makes a re-run unable to record an episode twice; the
-- alerts function merges a candidate that overlaps (or lies within the episode gap of) a stored
-- episode into it instead of raising a new alert. `published_at IS NULL` marks rows recorded
-- but not yet put on the event bus (a transactional outbox: retried until published).

CREATE TABLE IF NOT EXISTS alert_episodes (
    alert_id         text PRIMARY KEY,              -- uuid5 of the episode key as first recorded
    kind             text NOT NULL CHECK (kind IN ('anomaly_episode', 'failure_precursor')),
    robot_id         text NOT NULL,
    facility_id      text,                          -- NULL when RDS does not know the robot
    metric           text NOT NULL,
    first_hour       timestamp with time zone NOT NULL,
    last_hour        timestamp with time zone NOT NULL,
    anomalous_hours  integer NOT NULL CHECK (anomalous_hours >= 1),
    peak_z           double precision NOT NULL,
    detected_at      timestamp with time zone NOT NULL DEFAULT now(),
    updated_at       timestamp with time zone NOT NULL DEFAULT now(),
    published_at     timestamp with time zone,
    CONSTRAINT alert_episodes_hours_in_order CHECK (last_hour >= first_hour),
    CONSTRAINT alert_episodes_episode_key UNIQUE (kind, robot_id, metric, first_hour)
);

CREATE INDEX IF NOT EXISTS alert_episodes_robot_metric_idx
    ON alert_episodes (kind, robot_id, metric, last_hour);

CREATE INDEX IF NOT EXISTS alert_episodes_outbox_idx
    ON alert_episodes (detected_at) WHERE published_at IS NULL;
