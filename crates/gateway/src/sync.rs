//! The gateway's one policy for a poisoned mutex: **recover and go on**. A lock is poisoned
//! when a task panicked while holding it; the data behind every gateway lock (maps of runs,
//! lanes, accounts, presence, counters) stays structurally valid between statements, so the
//! next user takes the guard as it is rather than skipping its work (a skipped `finish` would
//! leave a session queue blocked forever) or failing every later request. The panic itself was
//! already logged by the task that had it.

use std::sync::{Mutex, MutexGuard};

/// `Mutex::lock` under the recovery policy.
pub trait LockExt<T> {
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> LockExt<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_recovered_with_its_data() {
        let m = std::sync::Arc::new(Mutex::new(vec![1]));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let mut g = m2.lock().unwrap();
            g.push(2);
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        m.locked().push(3);
        assert_eq!(*m.locked(), vec![1, 2, 3]);
    }
}
