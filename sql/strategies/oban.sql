-- leasebench strategy: oban
-- summary: Oban's Basic engine: in a transaction, MATERIALIZED CTE ORDER BY priority, scheduled_at, id LIMIT demand FOR UPDATE SKIP LOCKED, UPDATE ... FROM sets executing
-- safe: true
-- batch: true
-- consume: false
-- lease_txn: true
-- completes_by_delete: false
-- lease_ends_with_connection: false
--
-- Models oban-bg/oban (lib/oban/engines/basic.ex, fetch_jobs). Inside
-- Repo.transaction: a MATERIALIZED CTE selects the ids of up to `demand`
-- available jobs (queue limit minus running jobs) in (priority,
-- scheduled_at, id) order with FOR UPDATE SKIP LOCKED, and an UPDATE
-- joined to it sets state 'executing', attempted_at, attempted_by and
-- bumps attempt, for jobs with attempt < max_attempts. Oban's comment: the
-- CTE is an optimisation fence, because without it the planner may run the
-- LIMIT subquery inside a nested loop and update more rows than LIMIT. A
-- fresh producer's demand is its whole limit, so this is a batch strategy
-- (`--batch`, default 10); the explicit transaction costs a BEGIN and a
-- COMMIT round trip (lease_txn).
--
-- Index: Oban's (state, queue, priority, scheduled_at, id); due_work has
-- no queue, so (status, priority DESC, run_at, id).
--
-- Completion: Oban's Basic engine completes each job with its own UPDATE
-- (state 'completed', completed_at); here all ids of a fetch in one.
-- Expiry: Oban's Lifeline plugin rescues jobs 'executing' for longer than
-- rescue_after (60 min by default) by attempted_at; the rescue here does
-- that after the lease length (started_at is attempted_at).
--
-- Differs from Oban: Oban's fetch has no scheduled_at test (its stager
-- moves due scheduled jobs to 'available'); due_work has no separate
-- scheduled state, so `run_at <= now()` is in the fetch. max_attempts is
-- Oban's default 20. Priority runs the other way (higher first).

-- @setup
CREATE INDEX due_work_oban_fetch ON due_work (status, priority DESC, run_at, id);

-- @lease
WITH subset AS MATERIALIZED (
    SELECT id
      FROM due_work
     WHERE status = 'pending'
       AND run_at <= now()
     ORDER BY priority DESC, run_at ASC, id ASC
     LIMIT {batch}
       FOR UPDATE SKIP LOCKED)
UPDATE due_work AS d
   SET status = 'running',
       started_at = now(),
       locked_by = 'oban:' || pg_backend_pid(),
       locked_until = now() + interval '{lease_ms} milliseconds',
       attempts = d.attempts + 1
  FROM subset
 WHERE d.id = subset.id
   AND d.attempts < 20
RETURNING d.id, d.run_at;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = ANY($1);

-- @rescue
UPDATE due_work
   SET status = 'pending', locked_until = NULL
 WHERE status = 'running'
   AND started_at < now() - interval '{lease_ms} milliseconds';
