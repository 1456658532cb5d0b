//! Request bodies: content types, encodings and bounded decompression.

use std::io::Read;

use axum::http::{HeaderMap, header};
use flate2::read::MultiGzDecoder;

use crate::error::ApiError;

/// The encodings of an OTLP payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (also assumed when the content type is missing).
    Json,
}

impl Encoding {
    /// The content type answered for this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }

    /// Reads the request's `Content-Type`: protobuf, JSON or missing (JSON); anything else is a 415.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let Some(value) = headers.get(header::CONTENT_TYPE) else {
            return Ok(Self::Json);
        };
        let value = value
            .to_str()
            .map_err(|_| ApiError::UnsupportedMediaType("unreadable Content-Type".to_owned()))?;
        let essence = value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-protobuf" | "application/protobuf" => Ok(Self::Protobuf),
            "application/json" | "" => Ok(Self::Json),
            other => Err(ApiError::UnsupportedMediaType(format!(
                "unsupported Content-Type `{other}`: use application/x-protobuf or application/json"
            ))),
        }
    }
}

/// Undoes the request's `Content-Encoding` (identity or gzip), never producing more than `limit`
/// bytes. Other encodings are a 415, a bad gzip stream a 400, too much output a 413.
pub fn decode_body<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
    limit: usize,
) -> Result<std::borrow::Cow<'a, [u8]>, ApiError> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(too_large(limit));
            }
            Ok(std::borrow::Cow::Borrowed(body))
        }
        "gzip" | "x-gzip" => gunzip_bounded(body, limit).map(std::borrow::Cow::Owned),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported Content-Encoding `{other}`: use gzip or identity"
        ))),
    }
}

/// Decompresses a (possibly multi-member) gzip stream, refusing output past `limit` bytes.
pub fn gunzip_bounded(body: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    let mut decoder = MultiGzDecoder::new(body).take(limit as u64 + 1);
    decoder
        .read_to_end(&mut out)
        .map_err(|err| ApiError::BadRequest(format!("invalid gzip body: {err}")))?;
    if out.len() > limit {
        return Err(too_large(limit));
    }
    Ok(out)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::TooLarge(format!(
        "decompressed body exceeds the limit of {limit} bytes"
    ))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::http::HeaderValue;
    use flate2::{Compression, write::GzEncoder};

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Encoding::from_headers(&HeaderMap::new()).unwrap(),
            Encoding::Json
        );
        let h = headers(&[(header::CONTENT_TYPE, "application/x-protobuf")]);
        assert_eq!(Encoding::from_headers(&h).unwrap(), Encoding::Protobuf);
        let h = headers(&[(header::CONTENT_TYPE, "application/json; charset=utf-8")]);
        assert_eq!(Encoding::from_headers(&h).unwrap(), Encoding::Json);
        let h = headers(&[(header::CONTENT_TYPE, "text/plain")]);
        assert!(matches!(
            Encoding::from_headers(&h),
            Err(ApiError::UnsupportedMediaType(_))
        ));
    }

    #[test]
    fn gzip_round_trip_and_bounds() {
        let data = vec![b'a'; 10_000];
        let h = headers(&[(header::CONTENT_ENCODING, "gzip")]);
        assert_eq!(*decode_body(&h, &gzip(&data), 10_000).unwrap(), *data);
        assert!(matches!(
            decode_body(&h, &gzip(&data), 9_999),
            Err(ApiError::TooLarge(_))
        ));
        assert!(matches!(
            decode_body(&h, b"not gzip", 100),
            Err(ApiError::BadRequest(_))
        ));
        let h = headers(&[(header::CONTENT_ENCODING, "zstd")]);
        assert!(matches!(
            decode_body(&h, b"x", 100),
            Err(ApiError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            decode_body(&HeaderMap::new(), &data, 10),
            Err(ApiError::TooLarge(_))
        ));
    }

    #[test]
    fn multi_member_gzip() {
        let mut body = gzip(b"hello ");
        body.extend(gzip(b"world"));
        assert_eq!(gunzip_bounded(&body, 100).unwrap(), b"hello world");
    }
}

/// The spans (or log records) of an OTLP protobuf trace (or logs) request, counted on the wire
/// without decoding: field 2 of field 2 of field 1 (`resource_spans.scope_spans.spans`, and
/// `resource_logs.scope_logs.log_records` has the same numbers). Linear in the body, allocates
/// nothing. `None` when the body is not well-formed protobuf (the decoder then says why).
pub fn count_otlp_items(body: &[u8]) -> Option<u64> {
    count_nested(body, &[1, 2, 2])
}

/// Counts the length-delimited fields at `path` (field numbers, outermost first).
fn count_nested(mut buf: &[u8], path: &[u64]) -> Option<u64> {
    let Some((&field, rest)) = path.split_first() else {
        return Some(0);
    };
    let mut count = 0u64;
    while !buf.is_empty() {
        let key = prost::encoding::decode_varint(&mut buf).ok()?;
        let (number, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                prost::encoding::decode_varint(&mut buf).ok()?;
            }
            1 => buf = buf.get(8..)?,
            5 => buf = buf.get(4..)?,
            2 => {
                let len = usize::try_from(prost::encoding::decode_varint(&mut buf).ok()?).ok()?;
                let inner = buf.get(..len)?;
                buf = buf.get(len..)?;
                if number == field {
                    count += if rest.is_empty() {
                        1
                    } else {
                        count_nested(inner, rest)?
                    };
                }
            }
            _ => return None,
        }
    }
    Some(count)
}

#[cfg(test)]
mod item_tests {
    use super::count_otlp_items;

    #[test]
    fn items_are_counted_on_the_wire() {
        // resource_spans { scope_spans { spans {} spans {} } scope_spans { spans {} } schema_url }
        let scope_a = [0x12, 0x00, 0x12, 0x00];
        let scope_b = [0x12, 0x00];
        let mut resource = vec![0x12, scope_a.len() as u8];
        resource.extend(scope_a);
        resource.extend([0x12, scope_b.len() as u8]);
        resource.extend(scope_b);
        resource.extend([0x1a, 0x01, b'x', 0x08, 0x96, 0x01]);
        let mut body = vec![0x0a, resource.len() as u8];
        body.extend(&resource);
        assert_eq!(count_otlp_items(&body), Some(3));
        assert_eq!(count_otlp_items(&[]), Some(0));
        assert_eq!(count_otlp_items(&[0x0a, 0x05, 0x01]), None);
    }
}
