//! The bounded queue between the application's threads and the transport, the worker thread
//! that drains it in batches, and the two processors that feed it.

use std::{
    fmt,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        mpsc as std_mpsc,
    },
    thread,
    time::{Duration, Instant},
};

use opentelemetry::{Context, InstrumentationScope};
use opentelemetry_sdk::{
    Resource,
    error::{OTelSdkError, OTelSdkResult},
    logs::{LogProcessor, SdkLogRecord},
    trace::{Span, SpanData, SpanProcessor},
};
use tokio::sync::{Notify, mpsc};

use crate::{
    Invocation,
    transport::{Finish, Record, Transport, TransportError},
};

/// How much longer than its timeout `shutdown` waits for the worker's answer.
const SHUTDOWN_SLACK: Duration = Duration::from_millis(250);

/// Bounds and timings of a [`Pipeline`]; see the crate's configuration table.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    /// Records the queue holds; a record ended while it is full is dropped and counted.
    pub queue_capacity: usize,
    /// Records sent in one batch at most.
    pub max_batch: usize,
    /// First wait after a failed send; doubled after each failure.
    pub initial_backoff: Duration,
    /// Longest wait between two attempts.
    pub max_backoff: Duration,
    /// How long `force_flush` waits for the queue to be delivered.
    pub flush_timeout: Duration,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 65_536,
            max_batch: 2_048,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            flush_timeout: Duration::from_secs(5),
        }
    }
}

/// Counters of a pipeline, at one moment. When the pipeline is idle (after a flush or shutdown),
/// `ended == sent + dropped()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Spans ended and log records emitted while the processors were installed.
    pub ended: u64,
    /// Records the transport delivered.
    pub sent: u64,
    /// Records dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Records ended after shutdown.
    pub dropped_after_shutdown: u64,
    /// Records still undelivered when shutdown's deadline passed.
    pub dropped_undelivered: u64,
    /// Records the server refused for good ([`TransportError::Rejected`]).
    pub rejected: u64,
    /// Failed send attempts (each was retried or gave up).
    pub send_failures: u64,
    /// Connections made again after one broke.
    pub reconnects: u64,
    /// Errors the server reported for accepted messages.
    pub server_errors: u64,
    /// Sent messages forgotten from the WebSocket replay budget (they would be missing after a
    /// reconnect).
    pub replay_forgotten: u64,
    /// The last error seen (transport or server).
    pub last_error: Option<String>,
}

impl Stats {
    /// Records lost for any reason: queue full, after shutdown, undelivered, rejected.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full
            + self.dropped_after_shutdown
            + self.dropped_undelivered
            + self.rejected
    }

    /// Records in the queue or in a batch being sent.
    pub fn in_flight(&self) -> u64 {
        self.ended.saturating_sub(self.sent + self.dropped())
    }
}

#[derive(Debug, Default)]
struct Counters {
    ended: AtomicU64,
    sent: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_after_shutdown: AtomicU64,
    dropped_undelivered: AtomicU64,
    rejected: AtomicU64,
    send_failures: AtomicU64,
    reconnects: AtomicU64,
    server_errors: AtomicU64,
    replay_forgotten: AtomicU64,
}

/// State shared by the processors, the handle and the worker.
#[derive(Debug, Default)]
struct Shared {
    counters: Counters,
    last_error: Mutex<Option<String>>,
    /// Set when shutdown starts: the worker gives up retrying past this instant.
    deadline: Mutex<Option<Instant>>,
    wake: Notify,
    finish: Mutex<Option<Result<Finish, String>>>,
    shut_down: AtomicBool,
    /// Processors that have not been shut down yet.
    open_processors: AtomicUsize,
}

impl Shared {
    fn set_error(&self, message: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(message);
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline.lock().ok().and_then(|d| *d)
    }
}

enum Control {
    Flush(std_mpsc::SyncSender<()>),
    Shutdown(std_mpsc::SyncSender<()>),
}

/// The queue, its worker thread and its counters; hands out the span and log processors that
/// feed it. Cloning gives another handle to the same pipeline.
#[derive(Clone)]
pub struct Pipeline {
    queue: mpsc::Sender<Record>,
    control: mpsc::UnboundedSender<Control>,
    shared: Arc<Shared>,
    config: Arc<PipelineConfig>,
    resource: Arc<Mutex<Option<std_mpsc::SyncSender<Resource>>>>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Why a pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The worker thread or its runtime could not be created.
    #[error("cannot start the stream worker: {0}")]
    Worker(#[from] std::io::Error),
    /// The configuration is unusable.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// The transport could not be built.
    #[error("cannot build the transport: {0}")]
    Transport(String),
}

impl Pipeline {
    /// Starts a pipeline over `transport` with the default configuration.
    pub fn start<T: Transport>(transport: T) -> Result<Self, StartError> {
        Self::start_with(transport, PipelineConfig::default())
    }

    /// Starts a pipeline over `transport`: a worker thread (named `agentrace-stream`) with its
    /// own single-threaded runtime, so the application needs no runtime of its own.
    pub fn start_with<T: Transport>(
        transport: T,
        config: PipelineConfig,
    ) -> Result<Self, StartError> {
        if config.queue_capacity == 0 || config.max_batch == 0 {
            return Err(StartError::Config(
                "queue_capacity and max_batch must be at least 1",
            ));
        }
        let (queue, rx) = mpsc::channel(config.queue_capacity);
        let (control, control_rx) = mpsc::unbounded_channel();
        let (resource_tx, resource_rx) = std_mpsc::sync_channel(1);
        let shared = Arc::new(Shared::default());
        let config = Arc::new(config);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let worker = Worker {
            transport,
            rx,
            control: control_rx,
            shared: Arc::clone(&shared),
            config: Arc::clone(&config),
            resource: Some(resource_rx),
        };
        thread::Builder::new()
            .name("agentrace-stream".into())
            .spawn(move || runtime.block_on(worker.run()))?;
        Ok(Self {
            queue,
            control,
            shared,
            config,
            resource: Arc::new(Mutex::new(Some(resource_tx))),
        })
    }

    /// A span processor feeding this pipeline.
    pub fn span_processor(&self) -> StreamingSpanProcessor {
        self.shared.open_processors.fetch_add(1, Ordering::SeqCst);
        StreamingSpanProcessor {
            pipeline: self.clone(),
            closed: AtomicBool::new(false),
        }
    }

    /// A log processor feeding this pipeline.
    pub fn log_processor(&self) -> StreamingLogProcessor {
        self.shared.open_processors.fetch_add(1, Ordering::SeqCst);
        StreamingLogProcessor {
            pipeline: self.clone(),
            closed: AtomicBool::new(false),
        }
    }

    /// The counters now.
    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            ended: load(&c.ended),
            sent: load(&c.sent),
            dropped_queue_full: load(&c.dropped_queue_full),
            dropped_after_shutdown: load(&c.dropped_after_shutdown),
            dropped_undelivered: load(&c.dropped_undelivered),
            rejected: load(&c.rejected),
            send_failures: load(&c.send_failures),
            reconnects: load(&c.reconnects),
            server_errors: load(&c.server_errors),
            replay_forgotten: load(&c.replay_forgotten),
            last_error: self.shared.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// What the transport reported when the session ended (after shutdown): the invocations
    /// from servers that send them.
    pub fn invocations(&self) -> Option<Vec<Invocation>> {
        self.shared.finish.lock().ok().and_then(|f| {
            f.as_ref()
                .and_then(|f| f.as_ref().ok()?.invocations.clone())
        })
    }

    /// Why ending the session failed, if it did.
    pub fn finish_error(&self) -> Option<String> {
        self.shared
            .finish
            .lock()
            .ok()
            .and_then(|f| f.as_ref().and_then(|f| f.as_ref().err().cloned()))
    }

    /// Enqueues one record without blocking: the cost on the application's thread.
    pub fn push(&self, record: Record) {
        let c = &self.shared.counters;
        c.ended.fetch_add(1, Ordering::Relaxed);
        match self.queue.try_send(record) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                c.dropped_queue_full.fetch_add(1, Ordering::Relaxed);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                c.dropped_after_shutdown.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits until everything enqueued before the call is delivered (or given up), at most
    /// `timeout`.
    pub fn flush(&self, timeout: Duration) -> OTelSdkResult {
        if self.shared.shut_down.load(Ordering::SeqCst) {
            return Ok(());
        }
        let (tx, rx) = std_mpsc::sync_channel(1);
        self.control
            .send(Control::Flush(tx))
            .map_err(|_| OTelSdkError::AlreadyShutdown)?;
        rx.recv_timeout(timeout)
            .map_err(|_| OTelSdkError::Timeout(timeout))
    }

    /// Delivers what is queued, ends the session and stops the worker, at most `timeout`;
    /// later calls return at once. Records ended afterwards are counted as dropped.
    pub fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        if self.shared.shut_down.swap(true, Ordering::SeqCst) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if let Ok(mut deadline) = self.shared.deadline.lock() {
            *deadline = Some(Instant::now() + timeout);
        }
        self.shared.wake.notify_one();
        let (tx, rx) = std_mpsc::sync_channel(1);
        if self.control.send(Control::Shutdown(tx)).is_err() {
            return Ok(());
        }
        // The worker stops by the deadline itself; the caller waits a little longer
        // (`SHUTDOWN_SLACK`), so that the worker's last step is seen even on a loaded machine.
        match rx.recv_timeout(timeout + SHUTDOWN_SLACK) {
            Ok(()) => match self.finish_error() {
                Some(err) => Err(OTelSdkError::InternalFailure(err)),
                None => Ok(()),
            },
            Err(_) => Err(OTelSdkError::Timeout(timeout)),
        }
    }

    fn processor_shutdown(&self, closed: &AtomicBool, timeout: Duration) -> OTelSdkResult {
        if closed.swap(true, Ordering::SeqCst) {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        // The last processor to shut down ends the session; the others only flush.
        if self.shared.open_processors.fetch_sub(1, Ordering::SeqCst) > 1 {
            return self.flush(timeout);
        }
        self.shutdown(timeout)
    }

    fn offer_resource(&self, resource: &Resource) {
        if let Ok(mut slot) = self.resource.lock()
            && let Some(tx) = slot.take()
        {
            let _ = tx.try_send(resource.clone());
        }
    }
}

/// A [`SpanProcessor`] that enqueues each span as it ends; see the crate documentation.
#[derive(Debug)]
pub struct StreamingSpanProcessor {
    pipeline: Pipeline,
    closed: AtomicBool,
}

impl StreamingSpanProcessor {
    /// The pipeline this processor feeds (counters, invocations).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }
}

impl SpanProcessor for StreamingSpanProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        self.pipeline.push(Record::Span(span));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.pipeline.flush(self.pipeline.config.flush_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.pipeline.processor_shutdown(&self.closed, timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.pipeline.offer_resource(resource);
    }
}

/// A [`LogProcessor`] that enqueues each log record as it is emitted, with its trace context.
#[derive(Debug)]
pub struct StreamingLogProcessor {
    pipeline: Pipeline,
    closed: AtomicBool,
}

impl StreamingLogProcessor {
    /// The pipeline this processor feeds.
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }
}

impl LogProcessor for StreamingLogProcessor {
    fn emit(&self, record: &mut SdkLogRecord, scope: &InstrumentationScope) {
        self.pipeline
            .push(Record::Log(Box::new((record.clone(), scope.clone()))));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.pipeline.flush(self.pipeline.config.flush_timeout)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.pipeline.processor_shutdown(&self.closed, timeout)
    }
}

struct Worker<T: Transport> {
    transport: T,
    rx: mpsc::Receiver<Record>,
    control: mpsc::UnboundedReceiver<Control>,
    shared: Arc<Shared>,
    config: Arc<PipelineConfig>,
    resource: Option<std_mpsc::Receiver<Resource>>,
}

impl<T: Transport> Worker<T> {
    /// Hands the provider's resource to the transport once it is known.
    fn take_resource(&mut self) {
        if let Some(rx) = &self.resource {
            match rx.try_recv() {
                Ok(resource) => {
                    self.transport.set_resource(&resource);
                    self.resource = None;
                }
                Err(std_mpsc::TryRecvError::Disconnected) => self.resource = None,
                Err(std_mpsc::TryRecvError::Empty) => {}
            }
        }
    }

    async fn run(mut self) {
        self.transport.warm_up().await;
        self.sync_transport_counters();
        let mut records = Vec::with_capacity(self.config.max_batch);
        loop {
            tokio::select! {
                biased;
                control = self.control.recv() => match control {
                    Some(Control::Flush(reply)) => {
                        self.drain().await;
                        let _ = reply.try_send(());
                    }
                    Some(Control::Shutdown(reply)) => {
                        self.finish().await;
                        let _ = reply.try_send(());
                        return;
                    }
                    None => {
                        // Every handle is gone without a shutdown: deliver and end anyway.
                        if let Ok(mut d) = self.shared.deadline.lock() {
                            d.get_or_insert(Instant::now() + Duration::from_secs(5));
                        }
                        self.finish().await;
                        return;
                    }
                },
                n = self.rx.recv_many(&mut records, self.config.max_batch) => {
                    if n == 0 {
                        // Every sender is gone (so is every handle): end as on a lost control
                        // channel rather than spin on a closed queue.
                        if let Ok(mut d) = self.shared.deadline.lock() {
                            d.get_or_insert(Instant::now() + Duration::from_secs(5));
                        }
                        self.finish().await;
                        return;
                    }
                    let batch = std::mem::replace(&mut records, Vec::with_capacity(self.config.max_batch));
                    self.deliver(batch).await;
                }
            }
        }
    }

    /// Delivers everything queued now.
    async fn drain(&mut self) {
        loop {
            let mut records = Vec::with_capacity(self.config.max_batch);
            while records.len() < self.config.max_batch {
                match self.rx.try_recv() {
                    Ok(record) => records.push(record),
                    Err(_) => break,
                }
            }
            if records.is_empty() {
                return;
            }
            self.deliver(records).await;
        }
    }

    async fn finish(&mut self) {
        self.rx.close();
        self.drain().await;
        let deadline = self
            .shared
            .deadline()
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(5));
        let outcome = self
            .transport
            .finish(deadline)
            .await
            .map_err(|e| e.to_string());
        self.sync_transport_counters();
        if let Ok(mut slot) = self.shared.finish.lock() {
            *slot = Some(outcome);
        }
    }

    fn sync_transport_counters(&self) {
        let c = &self.shared.counters;
        c.reconnects
            .store(self.transport.reconnects(), Ordering::Relaxed);
        c.replay_forgotten
            .store(self.transport.replay_forgotten(), Ordering::Relaxed);
        let (errors, last) = self.transport.server_errors();
        if c.server_errors.swap(errors, Ordering::Relaxed) != errors
            && let Some(last) = last
        {
            self.shared.set_error(last);
        }
    }

    /// Sends one batch, again and again with backoff while the server is unreachable, until it
    /// is delivered, rejected, or shutdown's deadline passes.
    async fn deliver(&mut self, records: Vec<Record>) {
        self.take_resource();
        let batch = self.transport.encode(records);
        let n = T::len(&batch) as u64;
        let c = &self.shared.counters;
        let mut backoff = self.config.initial_backoff;
        loop {
            // Past shutdown's deadline nothing more is attempted, and an attempt never outlasts it.
            let deadline = self.shared.deadline();
            if deadline.is_some_and(|d| Instant::now() >= d) {
                c.dropped_undelivered.fetch_add(n, Ordering::Relaxed);
                return;
            }
            let result = match deadline {
                Some(d) => tokio::time::timeout_at(
                    tokio::time::Instant::from_std(d),
                    self.transport.send(&batch),
                )
                .await
                .unwrap_or_else(|_| {
                    Err(TransportError::Unreachable(
                        "the shutdown deadline passed during a send".into(),
                    ))
                }),
                None => self.transport.send(&batch).await,
            };
            self.sync_transport_counters();
            match result {
                Ok(()) => {
                    c.sent.fetch_add(n, Ordering::Relaxed);
                    return;
                }
                Err(TransportError::Rejected(message)) => {
                    c.rejected.fetch_add(n, Ordering::Relaxed);
                    self.shared.set_error(message);
                    return;
                }
                Err(err @ TransportError::Unreachable(_)) => {
                    c.send_failures.fetch_add(1, Ordering::Relaxed);
                    self.shared.set_error(err.to_string());
                }
            }
            let mut wait = backoff;
            if let Some(deadline) = self.shared.deadline() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    c.dropped_undelivered.fetch_add(n, Ordering::Relaxed);
                    return;
                }
                wait = wait.min(left);
            }
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.shared.wake.notified() => {}
            }
            backoff = (backoff * 2).min(self.config.max_backoff);
        }
    }
}
