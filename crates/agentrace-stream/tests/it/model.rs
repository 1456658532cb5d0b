//! A model-based property test of the pipeline's queue: with a scripted transport that can fail
//! and stall, every record ended is either sent or counted as dropped, each session's records
//! arrive in the order they ended (none twice), and nothing is lost while the transport keeps up.

use std::{
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

use agentrace_stream::{Finish, Pipeline, PipelineConfig, Record, Transport, TransportError};
use futures::future::BoxFuture;
use opentelemetry::{
    KeyValue,
    trace::{Span as _, Tracer, TracerProvider as _},
};
use opentelemetry_sdk::trace::SdkTracerProvider;
use proptest::prelude::*;

const CAPACITY: usize = 16;
const SEQ: &str = "test.seq";

/// What the scripted transport does and what it delivered.
#[derive(Default)]
struct Script {
    /// Sends to fail before the next success.
    failures: Mutex<u32>,
    /// While true, `send` waits (the server is stalled).
    stalled: Mutex<bool>,
    resumed: Condvar,
    delivered: Mutex<Vec<i64>>,
}

struct Scripted(Arc<Script>);

impl Transport for Scripted {
    type Batch = Vec<i64>;

    fn encode(&mut self, records: Vec<Record>) -> Vec<i64> {
        records
            .into_iter()
            .filter_map(|r| match r {
                Record::Span(span) => span
                    .attributes
                    .iter()
                    .find(|kv| kv.key.as_str() == SEQ)
                    .and_then(|kv| match kv.value {
                        opentelemetry::Value::I64(n) => Some(n),
                        _ => None,
                    }),
                Record::Log(_) => None,
            })
            .collect()
    }

    fn len(batch: &Vec<i64>) -> usize {
        batch.len()
    }

    fn send<'a>(&'a mut self, batch: &'a Vec<i64>) -> BoxFuture<'a, Result<(), TransportError>> {
        let script = Arc::clone(&self.0);
        Box::pin(async move {
            // Blocking here is fine: the worker thread is the transport's own.
            let mut stalled = script.stalled.lock().unwrap();
            while *stalled {
                stalled = script.resumed.wait(stalled).unwrap();
            }
            drop(stalled);
            let mut failures = script.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(TransportError::Unreachable("scripted failure".into()));
            }
            drop(failures);
            script.delivered.lock().unwrap().extend_from_slice(batch);
            Ok(())
        })
    }

    fn finish(&mut self, _deadline: Instant) -> BoxFuture<'_, Result<Finish, TransportError>> {
        Box::pin(async { Ok(Finish::default()) })
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// End `n` spans in session `s`.
    End(usize, u8),
    /// The next `n` sends of session `s` fail.
    Fail(usize, u32),
    /// Session `s`'s server stalls or resumes.
    Stall(usize, bool),
    /// Flush session `s`.
    Flush(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 1..24u8).prop_map(|(s, n)| Op::End(s, n)),
        1 => (0..3usize, 1..4u32).prop_map(|(s, n)| Op::Fail(s, n)),
        1 => (0..3usize, any::<bool>()).prop_map(|(s, b)| Op::Stall(s, b)),
        2 => (0..3usize).prop_map(Op::Flush),
    ]
}

struct Session {
    script: Arc<Script>,
    pipeline: Pipeline,
    provider: SdkTracerProvider,
    ended: i64,
    /// Ended since the last flush, with the server never stalled meanwhile.
    since_flush: usize,
    /// Whether records may have been dropped (more than the queue holds between two flushes, or
    /// a stall).
    may_drop: bool,
}

fn session() -> Session {
    let script = Arc::new(Script::default());
    let config = PipelineConfig {
        queue_capacity: CAPACITY,
        max_batch: 4,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        flush_timeout: Duration::from_secs(30),
    };
    let pipeline = Pipeline::start_with(Scripted(Arc::clone(&script)), config).unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(pipeline.span_processor())
        .build();
    Session {
        script,
        pipeline,
        provider,
        ended: 0,
        since_flush: 0,
        may_drop: false,
    }
}

fn set_stall(script: &Script, stalled: bool) {
    *script.stalled.lock().unwrap() = stalled;
    script.resumed.notify_all();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn sent_plus_dropped_is_ended_and_order_is_kept(ops in prop::collection::vec(op(), 1..40)) {
        let mut sessions: Vec<Session> = (0..3).map(|_| session()).collect();
        for op in ops {
            match op {
                Op::End(s, n) => {
                    let session = &mut sessions[s];
                    let tracer = session.provider.tracer("model");
                    for _ in 0..n {
                        let mut span = tracer.start("item");
                        span.set_attribute(KeyValue::new(SEQ, session.ended));
                        span.end();
                        session.ended += 1;
                    }
                    session.since_flush += usize::from(n);
                    if session.since_flush > CAPACITY {
                        session.may_drop = true;
                    }
                }
                Op::Fail(s, n) => *sessions[s].script.failures.lock().unwrap() += n,
                Op::Stall(s, stalled) => {
                    if stalled {
                        sessions[s].may_drop = true;
                    }
                    set_stall(&sessions[s].script, stalled);
                }
                Op::Flush(s) => {
                    let session = &mut sessions[s];
                    if !*session.script.stalled.lock().unwrap() {
                        session.pipeline.flush(Duration::from_secs(30)).unwrap();
                        session.since_flush = 0;
                    }
                }
            }
        }
        for session in &sessions {
            set_stall(&session.script, false);
            session.provider.shutdown_with_timeout(Duration::from_secs(30)).unwrap();
            let stats = session.pipeline.stats();
            let delivered = session.script.delivered.lock().unwrap().clone();
            prop_assert_eq!(stats.ended, session.ended as u64);
            prop_assert_eq!(stats.sent + stats.dropped(), stats.ended);
            prop_assert_eq!(stats.sent, delivered.len() as u64);
            // Order kept, none twice: strictly increasing sequence numbers.
            prop_assert!(delivered.windows(2).all(|w| w[0] < w[1]), "out of order: {:?}", delivered);
            if !session.may_drop {
                prop_assert_eq!(stats.dropped(), 0);
                prop_assert_eq!(delivered, (0..session.ended).collect::<Vec<_>>());
            }
        }
    }
}

/// Shutdown is idempotent and what ends afterwards is counted, not lost silently.
#[test]
fn after_shutdown_records_are_counted() {
    let session = session();
    let tracer = session.provider.tracer("model");
    let mut span = tracer.start("before");
    span.set_attribute(KeyValue::new(SEQ, 0));
    span.end();
    session.pipeline.shutdown(Duration::from_secs(5)).unwrap();
    assert!(session.pipeline.shutdown(Duration::from_secs(5)).is_err());
    let mut span = tracer.start("after");
    span.set_attribute(KeyValue::new(SEQ, 1));
    span.end();
    let stats = session.pipeline.stats();
    assert_eq!(stats.ended, 2);
    assert_eq!(stats.sent, 1);
    assert_eq!(stats.dropped_after_shutdown, 1);
}
