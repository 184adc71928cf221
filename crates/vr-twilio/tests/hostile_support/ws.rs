//! A Media Streams client playing Twilio, and the healthy call.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{READY, T, frame};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Most frames a healthy call sends, whatever happens beside it.
const MAX_HEALTHY_FRAMES: usize = 5_000;
/// Gap between two healthy frames (faster than real time).
const HEALTHY_GAP: Duration = Duration::from_millis(5);

pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Opens a websocket to `path`, with `X-Twilio-Signature` when given.
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    signature: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    if let Some(sig) = signature {
        req.headers_mut()
            .insert("X-Twilio-Signature", sig.parse().unwrap());
    }
    let connecting = tokio_tungstenite::connect_async(req);
    match tokio::time::timeout(T, connecting).await {
        Ok(result) => result.map(|(ws, _)| ws),
        Err(_) => panic!("websocket connect to {path} timed out"),
    }
}

/// The HTTP status of a refused upgrade.
pub async fn refused_status(addr: SocketAddr, path: &str, signature: Option<&str>) -> u16 {
    match connect(addr, path, signature).await {
        Err(tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
        Ok(_) => panic!("upgrade to {path} was accepted"),
    }
}

pub fn connected_msg() -> String {
    r#"{"event":"connected","protocol":"Call","version":"1.0.0"}"#.to_owned()
}

/// A `start` for stream `sid` with the given custom parameters.
pub fn start_msg(sid: &str, params: &[(&str, &str)]) -> String {
    let params: serde_json::Map<String, serde_json::Value> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    serde_json::json!({
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": "AC00000000000000000000000000000000",
            "streamSid": sid,
            "callSid": format!("CA{}", &sid[2..]),
            "tracks": ["inbound"],
            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            "customParameters": params,
        },
        "streamSid": sid,
    })
    .to_string()
}

/// A `media` message whose payload field is `payload` verbatim.
pub fn media_raw(sid: &str, seq: u64, payload: &str) -> String {
    format!(
        r#"{{"event":"media","sequenceNumber":"{}","media":{{"track":"inbound","chunk":"{seq}","timestamp":"{}","payload":"{payload}"}},"streamSid":"{sid}"}}"#,
        seq + 2,
        seq * 20
    )
}

/// A `media` message carrying `audio`.
pub fn media_msg(sid: &str, seq: u64, audio: &[u8]) -> String {
    media_raw(sid, seq, &b64(audio))
}

pub fn stop_msg(sid: &str) -> String {
    format!(
        r#"{{"event":"stop","sequenceNumber":"99999","streamSid":"{sid}","stop":{{"accountSid":"AC00000000000000000000000000000000"}}}}"#
    )
}

pub async fn send(ws: &mut Ws, text: impl Into<String>) {
    ws.send(Message::text(text.into())).await.unwrap();
}

/// `connected` + `start` for `sid`.
pub async fn begin(ws: &mut Ws, sid: &str) {
    send(ws, connected_msg()).await;
    send(ws, start_msg(sid, &[])).await;
}

/// The next outbound `media` payload (other events, pings and pongs skipped); `None` when the
/// socket ends.
pub async fn next_media(ws: &mut Ws) -> Option<Vec<u8>> {
    loop {
        let msg = tokio::time::timeout(T, ws.next())
            .await
            .expect("timed out waiting for media")?;
        match msg {
            Ok(Message::Text(t)) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if v["event"] == "media" {
                    let payload = v["media"]["payload"].as_str().unwrap();
                    return Some(
                        base64::engine::general_purpose::STANDARD
                            .decode(payload)
                            .unwrap(),
                    );
                }
            }
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Waits for the echo bot's [`READY`] frame.
pub async fn wait_ready(ws: &mut Ws) {
    let first = next_media(ws).await.expect("socket ended before READY");
    assert_eq!(first, READY, "first outbound frame is the bot's READY");
}

/// Sends `audio` and asserts it comes back unchanged as the next outbound frame.
pub async fn assert_echo(ws: &mut Ws, sid: &str, seq: u64, audio: &[u8]) {
    send(ws, media_msg(sid, seq, audio)).await;
    let back = next_media(ws).await.expect("socket ended before the echo");
    assert_eq!(back, audio, "echo of a {}-byte frame", audio.len());
}

/// Sends `stop` and waits (bounded) for the server to drop the socket.
pub async fn stop(mut ws: Ws, sid: &str) {
    send(&mut ws, stop_msg(sid)).await;
    assert!(ends(&mut ws).await, "socket not released after stop");
}

/// Reads until the socket ends; false if it is still open after the timeout.
pub async fn ends(ws: &mut Ws) -> bool {
    tokio::time::timeout(T, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .is_ok()
}

/// The healthy call: connects to `path` as stream `sid`, waits for READY, then sends numbered
/// frames every few milliseconds (at least `min_frames`, and on until `done`), counting them in
/// `progress`, while checking that the echoes come back one by one in order. Ends with `stop`.
/// Returns frames sent.
pub async fn healthy_call(
    addr: SocketAddr,
    path: &str,
    sid: &str,
    signature: Option<&str>,
    min_frames: usize,
    done: &AtomicBool,
    progress: &AtomicUsize,
) -> usize {
    let mut ws = connect(addr, path, signature)
        .await
        .expect("healthy call connects");
    begin(&mut ws, sid).await;
    wait_ready(&mut ws).await;
    let (mut sink, mut stream) = ws.split();
    let (total_tx, mut total_rx) = watch::channel(None::<usize>);
    let sender = async {
        let mut sent = 0;
        while sent < MAX_HEALTHY_FRAMES && (sent < min_frames || !done.load(Ordering::SeqCst)) {
            let msg = media_msg(sid, sent as u64, &frame(sent as u64));
            sink.send(Message::text(msg)).await.unwrap();
            sent += 1;
            progress.store(sent, Ordering::SeqCst);
            tokio::time::sleep(HEALTHY_GAP).await;
        }
        total_tx.send(Some(sent)).unwrap();
        sent
    };
    let receiver = async {
        let mut next = 0u64;
        loop {
            if total_rx.borrow().is_some_and(|total| next == total as u64) {
                return next;
            }
            let msg = tokio::select! {
                msg = tokio::time::timeout(T, stream.next()) => msg,
                _ = total_rx.changed() => continue,
            };
            let msg = match msg {
                Ok(Some(Ok(msg))) => msg,
                other => panic!("healthy call {sid}: socket ended after {next} echoes: {other:?}"),
            };
            let Message::Text(text) = msg else { continue };
            let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
            assert_eq!(v["event"], "media", "healthy call {sid}: {v}");
            assert_eq!(v["streamSid"], sid);
            let payload = base64::engine::general_purpose::STANDARD
                .decode(v["media"]["payload"].as_str().unwrap())
                .unwrap();
            assert_eq!(
                payload,
                frame(next),
                "healthy call {sid}: echo {next} lost, duplicated or out of order"
            );
            next += 1;
        }
    };
    let (sent, echoed) = tokio::join!(sender, receiver);
    assert_eq!(echoed, sent as u64);
    let ws = sink.reunite(stream).unwrap();
    stop(ws, sid).await;
    sent
}
