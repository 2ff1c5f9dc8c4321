-- leasebench strategy: delete_returning
-- summary: pgmq pop: DELETE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING: the lease consumes the row
-- safe: true
-- batch: false
-- consume: true
-- lease_txn: false
-- completes_by_delete: false
-- lease_ends_with_connection: false
--
-- Models pgmq's pop() (pgmq/pgmq, pgmq-extension/sql/pgmq.sql): taking the
-- message deletes it in the same statement, so there is nothing to complete
-- and nothing to expire. One statement and one commit per item: the
-- cheapest shape there is.
--
-- Exactly-once delivery, at-most-once processing: a worker that dies after
-- the DELETE commits loses the item (nobody else will see it). leasebench
-- counts a consumed item as done when the lease returns it to a worker that
-- goes on; under --chaos abandon the dropped items are counted lost, which
-- is this shape's real behaviour. "safe" here means it never hands one item
-- to two workers.
--
-- Differs from pgmq: pgmq walks `vt <= clock_timestamp() ORDER BY msg_id`
-- with a CTE and DELETE ... USING; this keeps leasebench's due-work
-- predicate and order (priority DESC, run_at), so the index variant
-- (pending_partial by default) drives it, like update_returning. The
-- pgmq_read preset keeps pgmq's own predicate, order and index.

-- @lease
DELETE FROM due_work
 WHERE id = (
        SELECT id
          FROM due_work
         WHERE status = 'pending'
           AND run_at <= now()
           AND (locked_until IS NULL OR locked_until < now())
         ORDER BY priority DESC, run_at ASC
         LIMIT 1
           FOR UPDATE SKIP LOCKED)
RETURNING id, run_at;
