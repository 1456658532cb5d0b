//! Carrying the current OpenTelemetry context into spawned work.
//!
//! The context is thread-local: `tokio::spawn` and `std::thread::spawn` start with an empty one,
//! so spans created there would become roots. These helpers capture the current context and
//! re-establish it in the spawned work: for futures with `FutureExt::with_context` (attached on
//! each poll, never held across an `.await`), for threads with a guard that lives exactly as long
//! as the closure.

use std::future::Future;

use opentelemetry::Context;
use opentelemetry::context::{FutureExt, WithContext};

/// `tokio::spawn` with the current context carried into the task.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(fut.with_current_context())
}

/// `tokio::task::spawn_blocking` with the current context carried into the closure.
pub fn spawn_blocking<F, R>(f: F) -> tokio::task::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    tokio::task::spawn_blocking(bind(f))
}

/// `std::thread::spawn` with the current context carried into the thread.
pub fn spawn_thread<F, R>(f: F) -> std::thread::JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    std::thread::spawn(bind(f))
}

/// Binds a closure to the current context: wherever it later runs, it runs with this context.
pub fn bind<F, R>(f: F) -> impl FnOnce() -> R + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
{
    bind_to(Context::current(), f)
}

/// Binds a closure to an explicit context.
pub fn bind_to<F, R>(cx: Context, f: F) -> impl FnOnce() -> R + Send + 'static
where
    F: FnOnce() -> R + Send + 'static,
{
    move || {
        let _guard = cx.attach();
        f()
    }
}

/// Wraps a future with the current context (a re-export of the idea behind
/// `FutureExt::with_current_context`, for callers that do not import the trait).
pub fn in_current_context<F: Future>(fut: F) -> WithContext<F> {
    fut.with_current_context()
}
