//! Exactly-once accounting, from what the workers saw (not by trusting the
//! SQL): every seeded item ends in exactly one state; none is lost; none is
//! handed to a second worker while another's lease on it is live.
//!
//! Inputs: each worker's lease events (client-side times relative to the
//! cell start), the id ranges seeded, and the table's final state.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// One item leased by one worker. Times are microseconds since cell start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseEvent {
    pub id: i64,
    pub worker: u32,
    /// The lease statement was sent.
    pub sent_us: u64,
    /// Its answer (with this id) came back.
    pub got_us: u64,
    /// The complete statement's answer came back; `NOT_DONE` if never.
    pub done_us: u64,
    /// The lease ended without completion (released, or a session lock
    /// lost with its connection); `NOT_DONE` if it did not.
    pub ended_us: u64,
}

pub const NOT_DONE: u64 = u64::MAX;

/// An item's row at the end of the cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalState {
    Pending,
    /// Running, lease still live.
    Leased,
    /// Running, lease expired (the normal query will lease it again).
    Expired,
    Completed,
    Failed,
    /// Not in the table.
    Missing,
}

fn yes() -> bool {
    true
}

/// The audit of one cell.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Audit {
    /// Items seeded (initial + producer).
    pub seeded: u64,
    /// Lease events (an item leased twice counts twice).
    pub leases: u64,
    /// Items whose completion a worker saw succeed.
    pub completed_by_workers: u64,
    /// Items leased while another worker's lease on them was still live.
    pub double_leased: u64,
    /// Leases of an item whose earlier lease had expired uncompleted.
    pub re_leased: u64,
    /// Leases of an item a worker had already completed (handed out again
    /// after it was done).
    #[serde(default)]
    pub leased_after_completion: u64,
    /// Seeded items neither completed nor recoverable (not pending, not
    /// under a lease live or expired), or completed by a worker but not
    /// `completed` in the table.
    pub lost: u64,
    /// Items completed in the table that no worker saw complete (e.g. the
    /// commit landed but the answer was lost to a killed connection).
    pub completed_unseen: u64,
    /// Items still leased by a worker that stopped without completing them.
    pub in_flight: u64,
    /// Final table states of the seeded items; they add up to `seeded`.
    pub final_pending: u64,
    pub final_leased: u64,
    pub final_expired: u64,
    pub final_completed: u64,
    pub final_failed: u64,
    pub final_missing: u64,
    /// False when the audit could not run (the server was gone): the
    /// counts above are then unknown, not zero.
    #[serde(default = "yes")]
    pub audited: bool,
    /// Ids of the first few lost / double-leased items, to look at.
    pub examples_lost: Vec<i64>,
    pub examples_double_leased: Vec<i64>,
}

impl Audit {
    /// Every seeded item is in exactly one final state.
    pub fn states_add_up(&self) -> bool {
        self.final_pending
            + self.final_leased
            + self.final_expired
            + self.final_completed
            + self.final_failed
            + self.final_missing
            == self.seeded
    }
}

/// What kind of strategy produced the events.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Lease length in microseconds: a lease is live from when it was sent
    /// until the earlier of its completion and `sent + lease`.
    pub lease_us: u64,
    /// The lease consumes the row (delete-returning): leased = done.
    pub consume: bool,
    /// Completion deletes the row: a completed item is gone from the table.
    pub completes_by_delete: bool,
}

/// Audit one cell. `seeded` are inclusive id ranges; `table` maps every id
/// still in the table to its state.
pub fn audit(
    seeded: &[(i64, i64)],
    events: &mut [LeaseEvent],
    table: &HashMap<i64, FinalState>,
    rules: Rules,
) -> Audit {
    let mut a = Audit {
        leases: events.len() as u64,
        audited: true,
        ..Audit::default()
    };
    events.sort_unstable_by_key(|e| (e.id, e.got_us));
    // Per item: was it completed by a worker, double-leased, left in flight.
    let mut seen: HashMap<i64, (bool, bool, bool)> = HashMap::with_capacity(events.len());
    let mut i = 0;
    while i < events.len() {
        let id = events[i].id;
        let mut j = i;
        let mut live_until: u64 = 0; // latest live end among earlier leases
        let mut live_done = true; // did that latest lease end by completing?
        let (mut completed, mut double, mut in_flight) = (false, false, false);
        while j < events.len() && events[j].id == id {
            let e = events[j];
            if j > i {
                if rules.consume || e.got_us < live_until {
                    // A consumed row can be handed out only once.
                    double = true;
                } else if !live_done {
                    a.re_leased += 1;
                } else {
                    a.leased_after_completion += 1;
                }
            }
            let end = if rules.consume {
                e.got_us
            } else {
                e.done_us
                    .min(e.ended_us)
                    .min(e.sent_us.saturating_add(rules.lease_us))
            };
            if end >= live_until {
                live_until = end;
                // Completed before its lease ran out (not completed late,
                // after the item had expired and moved on).
                live_done = e.done_us != NOT_DONE && e.done_us == end;
            }
            if e.done_us != NOT_DONE {
                completed = true;
            }
            j += 1;
        }
        if !completed {
            in_flight = true;
        }
        seen.insert(id, (completed, double, in_flight));
        i = j;
    }
    for &(first, last) in seeded {
        for id in first..=last {
            a.seeded += 1;
            let state = table.get(&id).copied().unwrap_or(FinalState::Missing);
            match state {
                FinalState::Pending => a.final_pending += 1,
                FinalState::Leased => a.final_leased += 1,
                FinalState::Expired => a.final_expired += 1,
                FinalState::Completed => a.final_completed += 1,
                FinalState::Failed => a.final_failed += 1,
                FinalState::Missing => a.final_missing += 1,
            }
            let (by_worker, double, in_flight) = seen.get(&id).copied().unwrap_or_default();
            if by_worker {
                a.completed_by_workers += 1;
            }
            if double {
                a.double_leased += 1;
                if a.examples_double_leased.len() < 10 {
                    a.examples_double_leased.push(id);
                }
            }
            if in_flight && state == FinalState::Leased {
                a.in_flight += 1;
            }
            let recoverable = matches!(
                state,
                FinalState::Pending | FinalState::Leased | FinalState::Expired
            );
            // Where completion removes the row, "gone" is what completed
            // looks like: a leased item can only have left by its
            // completion (whose answer a fault may have lost). Where the
            // lease itself consumes the row, gone is done only if a worker
            // got it and did not drop it.
            let leased = seen.contains_key(&id);
            let done_in_table = match state {
                FinalState::Completed => true,
                FinalState::Missing if rules.consume => by_worker,
                FinalState::Missing => rules.completes_by_delete && leased,
                _ => false,
            };
            let lost = !done_in_table && (by_worker || !recoverable);
            if done_in_table && !by_worker {
                a.completed_unseen += 1;
            }
            if lost {
                a.lost += 1;
                if a.examples_lost.len() < 10 {
                    a.examples_lost.push(id);
                }
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Rules = Rules {
        lease_us: 1_000_000,
        consume: false,
        completes_by_delete: false,
    };

    fn ev(id: i64, worker: u32, sent: u64, got: u64, done: u64) -> LeaseEvent {
        LeaseEvent {
            id,
            worker,
            sent_us: sent,
            got_us: got,
            done_us: done,
            ended_us: NOT_DONE,
        }
    }

    #[test]
    fn clean_run_is_clean() {
        let mut events = vec![ev(1, 0, 0, 10, 20), ev(2, 1, 5, 15, 30)];
        let table = HashMap::from([
            (1, FinalState::Completed),
            (2, FinalState::Completed),
            (3, FinalState::Pending),
        ]);
        let a = audit(&[(1, 3)], &mut events, &table, RULES);
        assert_eq!(
            (a.seeded, a.lost, a.double_leased, a.re_leased),
            (3, 0, 0, 0)
        );
        assert_eq!((a.final_completed, a.final_pending), (2, 1));
        assert!(a.states_add_up());
    }

    #[test]
    fn overlapping_leases_are_double() {
        // Worker 1 got item 1 while worker 0 still held it.
        let mut events = vec![ev(1, 0, 0, 10, 500), ev(1, 1, 5, 12, 600)];
        let table = HashMap::from([(1, FinalState::Completed)]);
        let a = audit(&[(1, 1)], &mut events, &table, RULES);
        assert_eq!(a.double_leased, 1);
        assert_eq!(a.examples_double_leased, vec![1]);
        assert_eq!(a.lost, 0);
    }

    #[test]
    fn lease_after_expiry_is_re_lease() {
        let mut events = vec![
            ev(1, 0, 0, 10, NOT_DONE),
            ev(1, 1, 1_500_000, 1_500_010, 1_500_100),
        ];
        let table = HashMap::from([(1, FinalState::Completed)]);
        let a = audit(&[(1, 1)], &mut events, &table, RULES);
        assert_eq!((a.double_leased, a.re_leased, a.lost), (0, 1, 0));
    }

    #[test]
    fn released_or_dropped_session_lease_then_re_lease_is_not_double() {
        // Worker 0's session lock died with its connection at t=100.
        let mut first = ev(1, 0, 0, 10, NOT_DONE);
        first.ended_us = 100;
        let mut events = vec![first, ev(1, 1, 150, 160, 300)];
        let table = HashMap::from([(1, FinalState::Completed)]);
        let a = audit(&[(1, 1)], &mut events, &table, RULES);
        assert_eq!((a.double_leased, a.re_leased, a.lost), (0, 1, 0));
    }

    #[test]
    fn deleted_on_completion_is_not_lost() {
        let rules = Rules {
            completes_by_delete: true,
            ..RULES
        };
        // 1 completed and deleted; 2 deleted by nobody; 3 pending.
        let mut events = vec![ev(1, 0, 0, 10, 20)];
        let table = HashMap::from([(3, FinalState::Pending)]);
        let a = audit(&[(1, 3)], &mut events, &table, rules);
        assert_eq!(a.lost, 1);
        assert_eq!(a.examples_lost, vec![2]);
    }

    #[test]
    fn lost_items_are_found() {
        // 1: completed by a worker but pending in the table; 2: vanished;
        // 3: failed; 4: abandoned under a live lease (in flight, not lost).
        let mut events = vec![ev(1, 0, 0, 10, 20), ev(4, 0, 30, 40, NOT_DONE)];
        let table = HashMap::from([
            (1, FinalState::Pending),
            (3, FinalState::Failed),
            (4, FinalState::Leased),
        ]);
        let a = audit(&[(1, 4)], &mut events, &table, RULES);
        assert_eq!(a.lost, 3);
        assert_eq!(a.examples_lost, vec![1, 2, 3]);
        assert_eq!(a.in_flight, 1);
        assert!(a.states_add_up());
    }

    #[test]
    fn consumed_rows_are_not_lost() {
        let rules = Rules {
            consume: true,
            ..RULES
        };
        // The worker marks a consumed item done when it gets it; item 4 was
        // consumed and then dropped by a crashing worker (at-most-once).
        let mut events = vec![ev(1, 0, 0, 10, 10), ev(4, 1, 0, 12, NOT_DONE)];
        let table = HashMap::from([(3, FinalState::Pending)]);
        let a = audit(&[(1, 4)], &mut events, &table, rules);
        // 1 consumed; 2 gone without anyone taking it; 3 still queued.
        assert_eq!(a.lost, 2);
        assert_eq!(a.examples_lost, vec![2, 4]);
        assert_eq!(a.completed_by_workers, 1);
    }

    #[test]
    fn a_late_completion_after_expiry_is_a_re_lease_not_leased_after_completion() {
        // Worker 0's 1 s lease expired at 1_000_000; worker 1 leased the item
        // at 1_200_000; worker 0 completed it late at 1_500_000.
        let mut events = vec![
            ev(1, 0, 0, 10, 1_500_000),
            ev(1, 1, 1_200_000, 1_200_010, 1_300_000),
        ];
        let table = HashMap::from([(1, FinalState::Completed)]);
        let a = audit(&[(1, 1)], &mut events, &table, RULES);
        assert_eq!(
            (a.re_leased, a.leased_after_completion, a.double_leased),
            (1, 0, 0)
        );
    }

    #[test]
    fn a_consumed_item_handed_out_twice_is_double() {
        let rules = Rules {
            consume: true,
            ..RULES
        };
        let mut events = vec![ev(1, 0, 0, 10, 10), ev(1, 1, 5, 20, 20)];
        let a = audit(&[(1, 1)], &mut events, &HashMap::new(), rules);
        assert_eq!(a.double_leased, 1);
    }

    #[test]
    fn leasing_a_completed_item_is_counted() {
        let mut events = vec![ev(1, 0, 0, 10, 20), ev(1, 1, 30, 40, 50)];
        let table = HashMap::from([(1, FinalState::Completed)]);
        let a = audit(&[(1, 1)], &mut events, &table, RULES);
        assert_eq!(
            (a.leased_after_completion, a.double_leased, a.re_leased),
            (1, 0, 0)
        );
    }

    #[test]
    fn deleted_on_completion_with_a_lost_answer_is_not_lost() {
        let rules = Rules {
            completes_by_delete: true,
            ..RULES
        };
        // Item 1 was leased, its DELETE committed, the answer was lost.
        let mut events = vec![ev(1, 0, 0, 10, NOT_DONE)];
        let a = audit(&[(1, 1)], &mut events, &HashMap::new(), rules);
        assert_eq!((a.lost, a.completed_unseen), (0, 1));
    }
}
