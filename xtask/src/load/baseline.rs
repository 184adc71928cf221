//! `cargo xtask load --baseline`: the floor under any runtime on this harness.
//!
//! A bare websocket echo server built on the same websocket library as `vr serve`
//! (tokio-tungstenite, same buffer sizes, `TCP_NODELAY`, one tokio worker per core): one task
//! per socket that writes every `media` message back as it came, and nothing else — no JSON
//! parsing, no base64, no session, no recogniser hand-off, no marks. Measuring it with the
//! same generator shows what the kernel and the websocket layer cost by themselves, so the
//! runtime's own share can be read off the difference.
//!
//! It answers `GET /healthz` (for the readiness check) and closes any other plain HTTP
//! request; SIGTERM ends it with status 0.

use std::net::{Ipv4Addr, SocketAddr};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The hidden subcommand that runs the server (`xtask baseline-echo --port P`).
pub const SUBCOMMAND: &str = "baseline-echo";

/// `vr serve`'s websocket buffer sizes, so both sides of the comparison read alike.
const READ_BUFFER: usize = 2 * 1024;
const WRITE_BUFFER: usize = 4 * 1024;

/// Runs the server until SIGTERM. `args`: `--host H --port P` (host must be loopback).
pub fn run(args: &[String]) -> Result<(), String> {
    let mut port = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--port" => port = it.next().and_then(|p| p.parse::<u16>().ok()),
            "--host" => {
                if it.next().map(String::as_str) != Some("127.0.0.1") {
                    return Err("the baseline server listens on 127.0.0.1 only".into());
                }
            }
            other => return Err(format!("{SUBCOMMAND}: unknown argument `{other}`")),
        }
    }
    let port = port.ok_or_else(|| format!("{SUBCOMMAND}: `--port P` is required"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    runtime.block_on(serve(SocketAddr::from((Ipv4Addr::LOCALHOST, port))))
}

async fn serve(addr: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("bind {addr}: {e}"))?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("SIGTERM handler: {e}"))?;
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((tcp, _)) = accepted {
                    tokio::spawn(connection(tcp));
                }
            }
            _ = term.recv() => return Ok(()),
        }
    }
}

async fn connection(tcp: TcpStream) {
    let _ = tcp.set_nodelay(true);
    let mut head = [0u8; 16];
    let peeked = tcp.peek(&mut head).await.unwrap_or(0);
    if head[..peeked].starts_with(b"GET /healthz ") {
        // Read the request first: closing with unread bytes would reset the connection.
        let mut tcp = tcp;
        let mut request = [0u8; 1024];
        let _ = tcp.read(&mut request).await;
        let _ = tcp
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n")
            .await;
        let _ = tcp.shutdown().await;
        return;
    }
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER);
    // Anything that is not a websocket upgrade (e.g. `/metrics`) fails here and is closed.
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(tcp, Some(config)).await else {
        return;
    };
    while let Some(Ok(msg)) = ws.next().await {
        let Message::Text(text) = msg else {
            if matches!(msg, Message::Close(_)) {
                break;
            }
            continue;
        };
        if text.contains(r#""event":"stop""#) {
            break;
        }
        if text.contains(r#""event":"media""#) && ws.send(Message::Text(text)).await.is_err() {
            return;
        }
    }
    let _ = ws.close(None).await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::load::metrics::http_get;

    #[tokio::test]
    async fn answers_healthz_echoes_media_and_closes_on_stop() {
        let probe = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let server = tokio::spawn(serve(addr));
        let mut ready = None;
        for _ in 0..50 {
            if let Ok(r) = http_get(addr, "/healthz", Duration::from_secs(1)).await {
                ready = Some(r);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(ready, Some((200, "ok\n".to_owned())));

        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{addr}/voice"), tcp)
            .await
            .unwrap();
        let media = r#"{"event":"media","streamSid":"MZ1","media":{"payload":"//8="}}"#;
        ws.send(Message::Text(r#"{"event":"connected"}"#.into()))
            .await
            .unwrap();
        ws.send(Message::Text(media.into())).await.unwrap();
        let echoed = tokio::time::timeout(Duration::from_secs(2), ws.next())
            .await
            .unwrap();
        assert_eq!(echoed.unwrap().unwrap(), Message::Text(media.into()));
        ws.send(Message::Text(r#"{"event":"stop"}"#.into()))
            .await
            .unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(2), ws.next())
            .await
            .unwrap();
        assert!(matches!(closed, Some(Ok(Message::Close(_))) | None));
        server.abort();
    }
}
