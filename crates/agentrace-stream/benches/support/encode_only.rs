//! A transport that encodes with the real WebSocket encoder and sends nothing: the client's side
//! alone, for the criterion rows (`benches/stream.rs`) and the baseline of the `stream_load`
//! example, which include this file by path.

use std::time::Instant;

use agentrace_stream::{Finish, Record, Transport, TransportError, WebSocketTransport};
use futures::future::BoxFuture;

/// The WebSocket transport's encoder, then nothing sent.
pub(crate) struct EncodeOnly(pub(crate) WebSocketTransport);

impl Transport for EncodeOnly {
    type Batch = usize;

    fn encode(&mut self, records: Vec<Record>) -> usize {
        let batch = self.0.encode(records);
        std::hint::black_box(batch.frames());
        WebSocketTransport::len(&batch)
    }

    fn len(batch: &usize) -> usize {
        *batch
    }

    fn send<'a>(&'a mut self, _batch: &'a usize) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async { Ok(()) })
    }

    fn finish(&mut self, _deadline: Instant) -> BoxFuture<'_, Result<Finish, TransportError>> {
        Box::pin(async { Ok(Finish::default()) })
    }
}
