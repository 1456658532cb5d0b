//! OTLP/gRPC: the token, gzip, the message size limit, partial success and undecodable bodies.

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use prost::Message as _;
use serde_json::Value;
use tonic::{Code, codec::CompressionEncoding};

use crate::testkit::{self, RawCodec, agent_turn, kv, traces};

async fn client(
    server: &agentrace_server::Server,
) -> TraceServiceClient<tonic::transport::Channel> {
    let addr = server.otlp_grpc_addr().expect("gRPC port");
    TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect")
}

#[tokio::test]
async fn grpc_export_needs_the_token_when_one_is_set() {
    let config = testkit::config()
        .with_auth_token(Some("s3cret".into()))
        .build()
        .unwrap();
    let server = testkit::start(config).await;
    let mut grpc = client(&server).await;
    let request = || {
        traces(
            vec![kv("agentevals.session_name", "tok")],
            agent_turn(1, 1, "q", "a"),
        )
    };
    let err = grpc.export(request()).await.expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut wrong = tonic::Request::new(request());
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(
        grpc.export(wrong).await.expect_err("wrong token").code(),
        Code::Unauthenticated
    );
    let mut right = tonic::Request::new(request());
    right
        .metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    let response = grpc
        .export(right)
        .await
        .expect("the right token")
        .into_inner();
    assert_eq!(response.partial_success, None);
    server.shutdown().await;
}

#[tokio::test]
async fn grpc_export_is_ingested_plain_and_gzipped() {
    let server = testkit::start_default().await;
    for (n, gzip) in [(1u8, false), (2, true)] {
        let mut grpc = client(&server).await;
        if gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        let name = format!("grpc-{n}");
        let request = traces(
            vec![kv("agentevals.session_name", &name)],
            agent_turn(n, 1, "q", "a"),
        );
        let response = grpc.export(request).await.expect("export").into_inner();
        assert_eq!(response.partial_success, None);
        let session: Value =
            testkit::get_json(&format!("{}/api/sessions/{name}", testkit::base(&server))).await;
        assert_eq!(session["spanCount"], 2, "gzip: {gzip}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn grpc_export_refuses_a_message_over_the_size_limit() {
    let limits = agentrace_server::config::Limits {
        max_decompressed_bytes: 300,
        ..agentrace_server::config::Limits::default()
    };
    let server = testkit::start_with_limits(limits).await;
    let mut grpc = client(&server).await;
    let request = traces(
        vec![kv("agentevals.session_name", "big")],
        agent_turn(3, 1, "q", "a"),
    );
    assert!(request.encoded_len() > 300, "{}", request.encoded_len());
    let err = grpc.export(request).await.expect_err("too large");
    assert_eq!(err.code(), Code::OutOfRange, "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn grpc_export_reports_malformed_spans_as_partial_success() {
    let server = testkit::start_default().await;
    let mut grpc = client(&server).await;
    let mut spans = agent_turn(4, 1, "q", "a");
    spans[1].span_id = vec![1, 2, 3];
    let request = traces(vec![kv("agentevals.session_name", "bad-id")], spans);
    let response = grpc.export(request).await.expect("export").into_inner();
    testkit::assert_spans_rejected(response.partial_success, 1, "span id has 3 bytes");
    server.shutdown().await;
}

#[tokio::test]
async fn grpc_export_refuses_an_undecodable_body_and_keeps_serving() {
    let server = testkit::start_default().await;
    let addr = server.otlp_grpc_addr().unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut raw = tonic::client::Grpc::new(channel);
    raw.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    );
    // Field 1 claims 5 bytes and has 1.
    let err = raw
        .unary(
            tonic::Request::new(vec![0x0a, 0x05, 0x01]),
            path.clone(),
            RawCodec,
        )
        .await
        .expect_err("undecodable");
    // Not retryable, and it says why and where.
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert!(
        err.message()
            .contains("invalid OTLP protobuf: buffer underflow at byte 2"),
        "{err}"
    );
    // A method the service does not have.
    raw.ready().await.unwrap();
    let nope = tonic::codegen::http::uri::PathAndQuery::from_static(
        "/opentelemetry.proto.collector.trace.v1.TraceService/Nope",
    );
    let err = raw
        .unary(tonic::Request::new(Vec::new()), nope, RawCodec)
        .await
        .expect_err("no such method");
    assert_eq!(err.code(), Code::Unimplemented, "{err}");
    // The server still takes a good request.
    let good = traces(
        vec![kv("agentevals.session_name", "after")],
        agent_turn(5, 1, "q", "a"),
    );
    raw.ready().await.unwrap();
    let response = raw
        .unary(tonic::Request::new(good.encode_to_vec()), path, RawCodec)
        .await
        .expect("a good body")
        .into_inner();
    assert_eq!(response.partial_success, None);
    server.shutdown().await;
}
