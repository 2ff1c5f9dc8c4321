-- leasebench index: pending_covering
-- summary: the partial (priority DESC, run_at) index INCLUDE (id, locked_until): covers the lease's subquery
--
-- FOR UPDATE has to visit the heap to lock the row, so an index-only scan
-- is not possible for the lease itself; this variant shows whether the
-- wider index pays for itself anyway.
CREATE INDEX due_work_pending_covering ON due_work (priority DESC, run_at)
    INCLUDE (id, locked_until) WHERE status = 'pending';
