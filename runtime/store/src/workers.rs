//! Plain threads for file work (`put`'s reading, `get`'s writing), and how they wait for the store.
//!
//! Takes items and a function; gives its results in item order, or the first error. The threads
//! are plain scoped threads, outside the async runtime: `object_store`'s local backend hands every
//! call to the runtime's blocking pool when it finds a runtime and runs it in place when it does
//! not, and for 10,000 small files those hand-offs were 400,000 futex calls and half the time of a
//! put. Stores reached over HTTP are waited for through the runtime, which their clients need.

use crate::backend::Backend;
use crate::error::Result;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How a worker thread waits for the store.
pub(crate) enum Waiter {
    /// On the thread itself: local and in-memory stores need no runtime.
    Inline,
    /// Through the runtime, for stores reached over HTTP.
    Runtime(tokio::runtime::Handle),
}

impl Waiter {
    /// The way to wait for `backend`. Call it from the runtime when the store is remote.
    pub(crate) fn for_backend(backend: &Backend) -> Waiter {
        if backend.is_remote() { Waiter::Runtime(tokio::runtime::Handle::current()) } else { Waiter::Inline }
    }

    pub(crate) fn wait<F: Future>(&self, work: F) -> F::Output {
        match self {
            Waiter::Inline => futures::executor::block_on(work),
            Waiter::Runtime(handle) => handle.block_on(work),
        }
    }
}

/// `work` applied to every item by up to `jobs` threads, in item order. After an error no new item
/// is started, and the first error found (in item order) is returned.
pub(crate) fn map_in_threads<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let threads = jobs.clamp(1, items.len().max(1));
    let run = || {
        let mut done = Vec::new();
        while !failed.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            let result = work(item);
            if result.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            done.push((i, result));
        }
        done
    };
    let mut done: Vec<(usize, Result<R>)> = if threads == 1 {
        run()
    } else {
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads).map(|_| scope.spawn(run)).collect();
            workers.into_iter().flat_map(|w| w.join().expect("a worker thread does not panic")).collect()
        })
    };
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StoreError;

    #[test]
    fn results_come_in_item_order_whatever_thread_made_them() {
        let items: Vec<u64> = (0..500).collect();
        let doubled = map_in_threads(&items, 7, |n| Ok(n * 2)).expect("no errors");
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn the_first_error_in_item_order_is_returned() {
        let items: Vec<u64> = (0..200).collect();
        let got = map_in_threads(&items, 4, |&n| {
            if n % 50 == 49 { Err(StoreError::NoStore { url: n.to_string() }) } else { Ok(n) }
        });
        match got {
            Err(StoreError::NoStore { url }) => assert_eq!(url, "49"),
            other => panic!("expected the error of item 49, got {other:?}"),
        }
    }

    #[test]
    fn no_items_and_one_job_work() {
        assert!(map_in_threads(&Vec::<u8>::new(), 8, |_| Ok(())).expect("nothing to do").is_empty());
        assert_eq!(map_in_threads(&[1, 2, 3], 1, |n| Ok(n + 1)).expect("one thread"), vec![2, 3, 4]);
    }
}
