-- leasebench strategy: good_job_skiplocked
-- summary: GoodJob's skiplocked claim: MATERIALIZED CTE over unfinished, unlocked jobs LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED, UPDATE sets locked_by_id/locked_at
-- safe: true
-- batch: false
-- consume: false
-- lease_txn: false
-- completes_by_delete: false
-- lease_ends_with_connection: false
--
-- Models bensheldon/good_job (app/models/good_job/job/lockable.rb,
-- with_skip_locked_claim; Job.perform_with_skip_locked). One statement: a
-- MATERIALIZED CTE selects the id of the first unfinished (finished_at IS
-- NULL), unlocked (locked_by_id IS NULL), due job in dequeue order, LIMIT 1,
-- with FOR NO KEY UPDATE SKIP LOCKED (the weaker row lock: it does not
-- block foreign-key checks against the row), and an UPDATE ... FROM the
-- CTE sets locked_by_id and locked_at. GoodJob claims one job per thread.
--
-- Index: GoodJob's index_good_jobs_for_candidate_dequeue_unlocked,
-- (priority, scheduled_at, id) WHERE finished_at IS NULL AND locked_by_id
-- IS NULL, plus its index on locked_by_id WHERE locked_by_id IS NOT NULL
-- (used by the rescue). On due_work: locked_by is locked_by_id, run_at is
-- scheduled_at, and status is left alone at claim time (GoodJob has none).
--
-- Completion: GoodJob sets finished_at when the job has run and then
-- clears locked_by_id/locked_at; here one UPDATE does both and sets status
-- 'completed' (what the audit reads). Expiry: GoodJob frees the jobs of a
-- process whose heartbeat record went stale (locked_by_id set back to
-- NULL); the rescue here frees locks whose lease has passed.
--
-- Differs from GoodJob: locked_by is 'good_job:<backend pid>' rather than
-- a process UUID; GoodJob's default lock strategy is advisory locks (see
-- the advisory strategy for that family); priority runs the other way.

-- @setup
CREATE INDEX due_work_good_job_skiplocked_candidates ON due_work (priority DESC, run_at, id)
    WHERE finished_at IS NULL AND locked_by IS NULL;
CREATE INDEX due_work_good_job_skiplocked_locked_by ON due_work (locked_by)
    WHERE locked_by IS NOT NULL;

-- @lease
WITH candidate AS MATERIALIZED (
    SELECT id
      FROM due_work
     WHERE finished_at IS NULL
       AND locked_by IS NULL
       AND run_at <= now()
     ORDER BY priority DESC, run_at ASC, id ASC
     LIMIT 1
       FOR NO KEY UPDATE SKIP LOCKED)
UPDATE due_work AS d
   SET locked_by = 'good_job:' || pg_backend_pid(),
       locked_until = now() + interval '{lease_ms} milliseconds',
       started_at = now(),
       attempts = d.attempts + 1
  FROM candidate
 WHERE d.id = candidate.id
RETURNING d.id, d.run_at;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_by = NULL, locked_until = NULL
 WHERE id = $1;

-- @rescue
UPDATE due_work
   SET locked_by = NULL, locked_until = NULL
 WHERE locked_by IS NOT NULL
   AND finished_at IS NULL
   AND locked_until < now();
