//! The scheduling policy of a parallel run's threads.
//!
//! A run over a file has a thread per job plus the merger, so with as many
//! jobs as cores one more thread than cores. Each worker wakes the merger
//! once per epoch, and under the default policy a woken thread preempts
//! a running one at once: with two jobs on two cores, some 1,300
//! involuntary context switches in a `stats` run over the 1 GiB mixed
//! capture, each stopping a worker in the middle of its packets. Under `SCHED_BATCH`
//! (sched(7)) a woken thread does not preempt: it runs when a thread
//! blocks or its slice ends, which the epochs' slack between the workers
//! and the merger (`budget::LAG` and `PROMISE`) absorbs. Measured there: a
//! sixth of the involuntary switches, and 4–5 % less CPU time. Fairness between processes is unchanged (the
//! same nice value and share).
//!
//! Only the threads of a run over a file are switched: the live and
//! stdin engine keeps the default policy, so as to hand on packets as
//! they come.

/// The calling thread's policy: `SCHED_BATCH` from now until the guard
/// is dropped, when it goes back to what it was. Does nothing where the
/// thread is not under the default policy or the calls fail.
#[must_use]
pub(super) struct Batch {
    switched: bool,
}

#[allow(unsafe_code)] // libc calls: see their SAFETY comments
impl Batch {
    pub(super) fn begin() -> Batch {
        // SAFETY: pid 0 is the calling thread; no memory is passed.
        let switched =
            unsafe { libc::sched_getscheduler(0) } == libc::SCHED_OTHER && set(libc::SCHED_BATCH);
        Batch { switched }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        if self.switched {
            set(libc::SCHED_OTHER);
        }
    }
}

/// Sets the calling thread's policy (one without priorities); true if done.
#[allow(unsafe_code)] // a libc call: see its SAFETY comment
fn set(policy: libc::c_int) -> bool {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; `param` is valid for the call.
    unsafe { libc::sched_setscheduler(0, policy, &param) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The policy is switched for the guard's life and restored after.
    #[test]
    #[allow(unsafe_code)]
    fn batch_lasts_as_long_as_its_guard() {
        std::thread::spawn(|| {
            // SAFETY: as in `Batch::begin`.
            let policy = || unsafe { libc::sched_getscheduler(0) };
            if policy() != libc::SCHED_OTHER {
                // Run under another policy (chrt): nothing to switch.
                return;
            }
            let guard = Batch::begin();
            assert_eq!(policy(), libc::SCHED_BATCH);
            drop(guard);
            assert_eq!(policy(), libc::SCHED_OTHER);
        })
        .join()
        .unwrap();
    }
}
