//! Request body limits: 3 MiB, enforced on `Content-Length` before routing and on the bytes
//! actually read, with a 413 `Status` either way.
//!
//! Handlers read bodies with [`read`], never with axum's `Bytes`/`Json` extractors, whose
//! rejections are plain text rather than `Status` JSON. (The router disables axum's own 2 MB
//! default limit so this is the only one.)

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::status::Status;

/// The largest request body accepted, as kube-apiserver's 3 MiB.
pub(crate) const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// The middleware: refuses a declared oversize body at once and caps every body at the limit.
pub(crate) async fn limit(request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Status::too_large(MAX_BODY_BYTES).into_response();
    }
    next.run(request.map(|body| Body::new(Limited::new(body, MAX_BODY_BYTES)))).await
}

/// The whole request body, or the `Status` to answer when it is too large or broken off.
pub(crate) async fn read(body: Body) -> Result<Bytes, Status> {
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
            while let Some(error) = cause {
                if error.is::<LengthLimitError>() {
                    return Err(Status::too_large(MAX_BODY_BYTES));
                }
                cause = error.source();
            }
            tracing::debug!(%error, "reading the request body failed");
            Err(Status::new(
                axum::http::StatusCode::BAD_REQUEST,
                "BadRequest",
                "the request body could not be read",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::http::{Method, StatusCode};
    use axum::routing::post;
    use tower::ServiceExt as _;

    use super::*;

    async fn echo_length(request: Request) -> Response {
        match read(request.into_body()).await {
            Ok(bytes) => bytes.len().to_string().into_response(),
            Err(status) => status.into_response(),
        }
    }

    async fn send(body: Body, content_length: Option<usize>) -> (StatusCode, String) {
        let app =
            Router::new().route("/", post(echo_length)).layer(axum::middleware::from_fn(limit));
        let mut request = Request::builder().method(Method::POST).uri("/");
        if let Some(length) = content_length {
            request = request.header(header::CONTENT_LENGTH, length);
        }
        let response = app.oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn bodies_up_to_the_limit_pass() {
        let body = vec![b'x'; MAX_BODY_BYTES];
        let (status, text) = send(Body::from(body), Some(MAX_BODY_BYTES)).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "3145728"));
    }

    #[tokio::test]
    async fn a_declared_oversize_body_is_refused_before_reading() {
        let (status, text) = send(Body::empty(), Some(MAX_BODY_BYTES + 1)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(text.contains(r#""reason":"RequestEntityTooLarge""#), "{text}");
    }

    #[tokio::test]
    async fn an_undeclared_oversize_body_is_refused_when_read() {
        let (status, text) = send(Body::from(vec![b'x'; MAX_BODY_BYTES + 1]), None).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(text.contains(r#""code":413"#), "{text}");
    }
}
