//! The ingest workers: decoding and ingesting a request (OTLP/HTTP, OTLP/gRPC, a WebSocket
//! message) runs in the blocking pool, at most [`Limits::ingest_workers`] at a time.
//!
//! Requests beyond that wait for a worker, at most [`Limits::ingest_queue`] of them; one more is
//! refused as overloaded (OTLP/HTTP 503 with `Retry-After`, OTLP/gRPC `UNAVAILABLE`), which the
//! OTLP exporters retry. A WebSocket message is never refused: a connection's messages are
//! applied in order while the next one is parsed, so each connection has at most three messages
//! in the server (one applying, one parsed, one parsing), and the client's further messages wait
//! in the connection (TCP backpressure). The
//! server's own work (live extraction, completing sessions) is not bounded here: one task of each
//! runs at a time.
//!
//! Without the bound every request in flight took a thread of its own. On two cores that was
//! slower (the threads contended for the same locks and caches) and each thread kept memory of its
//! own in the allocator (docs/benchmarks.md, Server, "Settings and designs, and why").
//!
//! A worker that finishes a request takes the next waiting one itself, on the same thread. (With
//! a semaphore in front of `spawn_blocking`, the finished worker's thread went to sleep while its
//! permit woke the waiting request's task, which then woke a blocking thread: on a 2-core VM a
//! quarter of the CPU time was idle under load, most of it after a worker had finished.)
//! A request given up while it waits (its future dropped) leaves the queue and never runs.
//!
//! [`Limits::ingest_workers`]: crate::config::Limits::ingest_workers
//! [`Limits::ingest_queue`]: crate::config::Limits::ingest_queue

use std::{
    collections::VecDeque,
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use parking_lot::Mutex;
use serde::Serialize;

/// Why work did not run to its end.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkError {
    /// Every worker is busy and the queue is full.
    #[error(
        "the server is overloaded: {workers} ingest workers are busy and {queue} requests are \
         waiting (the limit); retry later"
    )]
    Overloaded {
        /// Workers.
        workers: usize,
        /// Requests that may wait.
        queue: usize,
    },
    /// The work panicked.
    #[error("ingest worker failed: {0}")]
    Failed(String),
}

/// The bounded ingest workers (see the module documentation).
#[derive(Debug)]
pub struct Workers {
    shared: Arc<Shared>,
    workers: usize,
    queue: usize,
}

/// What the workers and the requests that submit work share.
#[derive(Debug, Default)]
struct Shared {
    state: Mutex<Queue>,
    refused: AtomicU64,
}

/// A request's work, boxed: it runs the caller's function and returns what sends its outcome
/// back (called once the worker's own bookkeeping is done, so that a request that has its
/// outcome finds its worker free in [`Workers::status`]).
type Job = Box<dyn FnOnce() -> Deliver + Send>;

/// Sends a request's outcome back.
type Deliver = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Queue {
    /// Workers running (each takes the next waiting job when it finishes one).
    active: usize,
    /// Waiting jobs, first come first served, each with its number and whether it counts
    /// against the queue's bound (OTLP requests do, WebSocket messages do not).
    waiting: VecDeque<(u64, bool, Job)>,
    /// Waiting jobs that count against the bound.
    waiting_bounded: usize,
    next: u64,
}

impl Queue {
    fn pop(&mut self) -> Option<Job> {
        let (_, bounded, job) = self.waiting.pop_front()?;
        self.waiting_bounded -= usize::from(bounded);
        Some(job)
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("active", &self.active)
            .field("waiting", &self.waiting.len())
            .finish()
    }
}

/// What the workers are doing, for `GET /api/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkersStatus {
    /// Workers.
    pub workers: usize,
    /// Workers running a request now.
    pub busy: usize,
    /// Requests waiting for a worker now.
    pub waiting: usize,
    /// Requests that may wait.
    pub queue: usize,
    /// Requests refused as overloaded since the server started.
    pub refused: u64,
}

/// Takes a waiting job out of the queue when its request gives up (its future is dropped, as
/// when the client goes away); a job a worker has taken runs to its end.
struct Queued<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock();
        if let Some(at) = state.waiting.iter().position(|(id, _, _)| *id == self.id) {
            // Dropped after the lock is let go: the job owns the request's closure.
            let job = state.waiting.remove(at);
            if let Some((_, true, _)) = &job {
                state.waiting_bounded -= 1;
            }
            drop(state);
            drop(job);
        }
    }
}

impl Shared {
    /// A worker: runs `job`, then every job that is waiting when it finishes one.
    fn work(&self, mut job: Job) {
        loop {
            let deliver = job();
            let mut state = self.state.lock();
            let next = state.pop();
            if next.is_none() {
                state.active -= 1;
            }
            drop(state);
            deliver();
            match next {
                Some(next) => job = next,
                None => return,
            }
        }
    }
}

impl Workers {
    /// `workers` workers (at least one) and room for `queue` waiting requests.
    pub fn new(workers: usize, queue: usize) -> Self {
        Self {
            shared: Arc::new(Shared::default()),
            workers: workers.max(1),
            queue,
        }
    }

    /// Runs `f` on a worker, after waiting for one if all are busy; refused as
    /// [`WorkError::Overloaded`] when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkError> {
        self.submit(f, true).await
    }

    /// Runs `f` on a worker, waiting for one as long as it takes (never refused).
    pub async fn run_waiting<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkError> {
        self.submit(f, false).await
    }

    /// Starts a worker with `f`, or queues it (refused when `bounded` and the queue is full),
    /// and waits for its outcome.
    async fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
        bounded: bool,
    ) -> Result<T, WorkError> {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let out = std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(panic_message);
            Box::new(move || {
                // The request may have gone away meanwhile: nobody to tell.
                let _ = done.send(out);
            })
        });
        let queued = self.start_or_queue(job, bounded)?.map(|id| Queued {
            shared: &self.shared,
            id,
        });
        let outcome = outcome.await;
        drop(queued);
        match outcome {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(message)) => Err(WorkError::Failed(message)),
            Err(_) => Err(WorkError::Failed(
                "the worker stopped before running the request (the server is shutting down)"
                    .to_owned(),
            )),
        }
    }

    /// Starts a worker with `job` if one is free (`None`), else queues it and returns its number;
    /// refused when `bounded` and the queue is full.
    fn start_or_queue(&self, job: Job, bounded: bool) -> Result<Option<u64>, WorkError> {
        let mut state = self.shared.state.lock();
        if state.active < self.workers {
            state.active += 1;
            drop(state);
            let shared = Arc::clone(&self.shared);
            drop(tokio::task::spawn_blocking(move || shared.work(job)));
            return Ok(None);
        }
        if bounded && state.waiting_bounded >= self.queue {
            drop(state);
            self.shared.refused.fetch_add(1, Ordering::Relaxed);
            return Err(WorkError::Overloaded {
                workers: self.workers,
                queue: self.queue,
            });
        }
        let id = state.next;
        state.next += 1;
        state.waiting.push_back((id, bounded, job));
        state.waiting_bounded += usize::from(bounded);
        Ok(Some(id))
    }

    /// What the workers are doing now.
    pub fn status(&self) -> WorkersStatus {
        let state = self.shared.state.lock();
        WorkersStatus {
            workers: self.workers,
            busy: state.active,
            waiting: state.waiting.len(),
            queue: self.queue,
            refused: self.shared.refused.load(Ordering::Relaxed),
        }
    }
}

/// What a panicking request's work said.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let said = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned());
    format!("the request's work panicked: {said}")
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use super::{WorkError, Workers, WorkersStatus};

    /// Waits (bounded) until the workers report `busy` and `waiting`.
    async fn until(workers: &Workers, busy: usize, waiting: usize) -> WorkersStatus {
        for _ in 0..500 {
            let status = workers.status();
            if status.busy == busy && status.waiting == waiting {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!(
            "workers never reached busy {busy}, waiting {waiting}: {:?}",
            workers.status()
        );
    }

    /// Takes a worker until the returned sender is used; the task ends with `Ok(true)`.
    async fn hold(
        workers: &Arc<Workers>,
    ) -> (
        std::sync::mpsc::Sender<()>,
        tokio::task::JoinHandle<Result<bool, WorkError>>,
    ) {
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let held = tokio::spawn({
            let workers = Arc::clone(workers);
            async move { workers.run(move || hold.recv().is_ok()).await }
        });
        until(workers, 1, 0).await;
        (release, held)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn busy_workers_queue_then_refuse_and_the_queue_drains() {
        let workers = Arc::new(Workers::new(1, 1));
        let (release, first) = hold(&workers).await;
        let second = tokio::spawn({
            let workers = Arc::clone(&workers);
            async move { workers.run(|| 2).await }
        });
        until(&workers, 1, 1).await;
        // The queue is full: the next request is refused at once, and counted.
        assert_eq!(
            workers.run(|| 3).await,
            Err(WorkError::Overloaded {
                workers: 1,
                queue: 1
            })
        );
        // A WebSocket message waits instead.
        let third = tokio::spawn({
            let workers = Arc::clone(&workers);
            async move { workers.run_waiting(|| 4).await }
        });
        until(&workers, 1, 2).await;
        release.send(()).expect("the first request is waiting");
        assert_eq!(first.await.expect("first"), Ok(true));
        assert_eq!(second.await.expect("second"), Ok(2));
        assert_eq!(third.await.expect("third"), Ok(4));
        let status = until(&workers, 0, 0).await;
        assert_eq!(status.refused, 1);
        assert_eq!((status.workers, status.queue), (1, 1));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_gives_up_waiting_leaves_the_queue() {
        let workers = Arc::new(Workers::new(1, 1));
        let (release, first) = hold(&workers).await;
        // A client that goes away while waiting (its request future is dropped).
        let gone = tokio::time::timeout(Duration::from_millis(20), workers.run(|| 2)).await;
        assert!(gone.is_err(), "it waited: {gone:?}");
        until(&workers, 1, 0).await;
        // Its place in the queue is free again.
        let next = tokio::spawn({
            let workers = Arc::clone(&workers);
            async move { workers.run(|| 5).await }
        });
        until(&workers, 1, 1).await;
        release.send(()).expect("the first request is waiting");
        assert_eq!(first.await.expect("first"), Ok(true));
        assert_eq!(next.await.expect("next"), Ok(5));
        assert_eq!(workers.status().refused, 0);
    }

    #[tokio::test]
    async fn a_panicking_request_fails_alone_and_frees_its_worker() {
        let workers = Workers::new(1, 0);
        let failed = workers.run(|| -> u8 { panic!("boom") }).await;
        assert!(matches!(failed, Err(WorkError::Failed(_))), "{failed:?}");
        assert_eq!(workers.run(|| 7).await, Ok(7));
        assert_eq!(workers.status().busy, 0);
    }
}
