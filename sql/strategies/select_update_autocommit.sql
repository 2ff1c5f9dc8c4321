-- leasebench strategy: select_update_autocommit
-- summary: the seed's two statements, each in its own autocommit transaction: hands items out twice
-- safe: false
-- batch: false
-- lease_txn: false
--
-- Exactly as the seed's load test wrote it. The SELECT's row lock is
-- released when its autocommit transaction ends, before the UPDATE runs, so
-- two workers can select the same pending row: unsafe by design, kept to
-- show that leasebench's audit catches it.

-- @lease
SELECT id, task_id, payload, created_at, run_at
  FROM due_work
 WHERE status = 'pending'
   AND run_at <= now()
   AND (locked_until IS NULL OR locked_until < now())
 ORDER BY priority DESC, run_at ASC
   FOR UPDATE SKIP LOCKED
 LIMIT 1;
UPDATE due_work
   SET status = 'running',
       locked_until = now() + interval '{lease_ms} milliseconds',
       started_at = now(),
       attempts = attempts + 1
 WHERE id = $1;

-- @complete
UPDATE due_work
   SET status = 'completed', finished_at = now(), locked_until = NULL
 WHERE id = $1;
