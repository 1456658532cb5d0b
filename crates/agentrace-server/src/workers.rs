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
//! own in the allocator (docs/benchmarks.md, stop 13).
//!
//! [`Limits::ingest_workers`]: crate::config::Limits::ingest_workers
//! [`Limits::ingest_queue`]: crate::config::Limits::ingest_queue

use std::sync::{
    Arc,
    atomic::{AtomicU64, AtomicUsize, Ordering},
};

use serde::Serialize;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    permits: Arc<Semaphore>,
    workers: usize,
    queue: usize,
    waiting: AtomicUsize,
    refused: AtomicU64,
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

/// Counts a waiting request while it waits (also when its future is dropped, as when the client
/// goes away).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Workers {
    /// `workers` workers (at least one) and room for `queue` waiting requests.
    pub fn new(workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        Self {
            permits: Arc::new(Semaphore::new(workers)),
            workers,
            queue,
            waiting: AtomicUsize::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Runs `f` on a worker, after waiting for one if all are busy; refused as
    /// [`WorkError::Overloaded`] when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkError> {
        let permit = self.permit(true).await?;
        Self::spawn(permit, f).await
    }

    /// Runs `f` on a worker, waiting for one as long as it takes (never refused).
    pub async fn run_waiting<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkError> {
        let permit = self.permit(false).await?;
        Self::spawn(permit, f).await
    }

    /// A free worker, waited for (refused when `bounded` and the queue is full).
    async fn permit(&self, bounded: bool) -> Result<OwnedSemaphorePermit, WorkError> {
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(permit);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::AcqRel);
        let _waiting = Waiting(&self.waiting);
        if bounded && ahead >= self.queue {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(WorkError::Overloaded {
                workers: self.workers,
                queue: self.queue,
            });
        }
        Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| WorkError::Failed("the workers are closed".to_owned()))
    }

    async fn spawn<T: Send + 'static>(
        permit: OwnedSemaphorePermit,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, WorkError> {
        tokio::task::spawn_blocking(move || {
            let out = f();
            drop(permit);
            out
        })
        .await
        .map_err(|e| WorkError::Failed(e.to_string()))
    }

    /// What the workers are doing now.
    pub fn status(&self) -> WorkersStatus {
        WorkersStatus {
            workers: self.workers,
            busy: self.workers - self.permits.available_permits().min(self.workers),
            waiting: self.waiting.load(Ordering::Acquire),
            queue: self.queue,
            refused: self.refused.load(Ordering::Relaxed),
        }
    }
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
