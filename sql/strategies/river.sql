-- leasebench strategy: river
-- summary: River's JobGetAvailable: CTE ORDER BY priority, scheduled_at, id LIMIT k FOR UPDATE SKIP LOCKED, UPDATE ... FROM sets running; batched completion
-- safe: true
-- batch: true
-- consume: false
-- lease_txn: false
-- completes_by_delete: false
-- lease_ends_with_connection: false
--
-- Models riverqueue/river (riverdriver/riverpgxv5/internal/dbsqlc/river_job.sql,
-- JobGetAvailable; JobSetStateIfRunningMany; JobGetStuck/JobRescueMany).
-- One statement: a plain (not MATERIALIZED) CTE picks up to {batch} available
-- rows in (priority, scheduled_at, id) order with FOR UPDATE SKIP LOCKED,
-- and an UPDATE ... FROM the CTE marks them running and bumps the attempt.
-- River's producer fetches as many jobs as it has free worker slots, so
-- this is a batch strategy (`--batch`, default 10).
--
-- Index: River's non-partial river_job_prioritized_fetching_index
-- (state, queue, priority, scheduled_at, id); due_work has no queue column,
-- so (status, priority DESC, run_at, id).
--
-- Completion: River's completer batches many jobs into one
-- JobSetStateIfRunningMany; here all ids of a lease are completed by one
-- UPDATE, and, as in River, only rows still 'running' are completed.
--
-- Expiry: River's rescuer resets jobs 'running' longer than a horizon
-- (default 1 h) by their attempted_at; here the rescue resets rows running
-- since longer than the lease (started_at is attempted_at). A late
-- completion of a row the rescuer already reset completes nothing (River
-- would run the job again); leasebench counts that completion as done, so
-- with --work-ms above --lease-ms such items show up as lost.
--
-- Differs from River: priority runs the other way on due_work (higher
-- first); attempted_by is an array append in River, a plain text here.

-- @setup
CREATE INDEX due_work_river_prioritized_fetching ON due_work (status, priority DESC, run_at, id);

-- @lease
WITH locked_jobs AS (
    SELECT id
      FROM due_work
     WHERE status = 'pending'
       AND run_at <= now()
     ORDER BY priority DESC, run_at ASC, id ASC
     LIMIT {batch}
       FOR UPDATE SKIP LOCKED)
UPDATE due_work AS d
   SET status = 'running',
       attempts = d.attempts + 1,
       started_at = now(),
       locked_by = 'river:' || pg_backend_pid(),
       locked_until = now() + interval '{lease_ms} milliseconds'
  FROM locked_jobs
 WHERE d.id = locked_jobs.id
RETURNING d.id, d.run_at;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = ANY($1)
   AND status = 'running';

-- @rescue
UPDATE due_work
   SET status = 'pending', locked_until = NULL
 WHERE status = 'running'
   AND started_at < now() - interval '{lease_ms} milliseconds';
