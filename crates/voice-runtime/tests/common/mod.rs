//! Starting the app on loopback and collecting what the demo bot says.

#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use voice_runtime::app::{App, AppConfig};
use voice_runtime::conversation::{Line, Observer};
use voice_runtime::mock::{CallEnd, CallerAction, SimulationReport, StartAt};

/// A served app and a way to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub app: App,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    pub fn ws(&self) -> String {
        format!("ws://{}/voice", self.addr)
    }

    pub fn http(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Graceful shutdown; returns once the server task ended.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("server stops")
            .unwrap()
            .unwrap();
    }
}

pub async fn start(config: AppConfig) -> Running {
    let app = App::build(config, Arc::new(|_: &str| None)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(voice_runtime::app::serve(
        app.clone(),
        listener,
        async move {
            let _ = rx.await;
        },
        Duration::from_secs(5),
    ));
    Running {
        addr,
        app,
        stop: Some(tx),
        task,
    }
}

/// An observer that keeps every line.
pub fn recording_observer() -> (Observer, Arc<Mutex<Vec<Line>>>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    (
        Observer::new(true, move |_, line| sink.lock().unwrap().push(line.clone())),
        lines,
    )
}

pub fn asset(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../assets/audio")
        .join(name)
}

pub fn clip(name: &str, start: StartAt) -> CallerAction {
    CallerAction::audio_file(asset(name), start).unwrap()
}

pub fn said(lines: &Mutex<Vec<Line>>) -> Vec<String> {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| match l {
            Line::BotSays(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

/// Waits up to `secs` for a spawned simulated call and returns its report.
pub async fn report_of<E: std::fmt::Debug>(
    call: JoinHandle<Result<SimulationReport, E>>,
    secs: u64,
) -> SimulationReport {
    tokio::time::timeout(Duration::from_secs(secs), call)
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

/// The server ended the call itself (a close with a code), not a broken connection.
pub fn assert_server_closed(report: &SimulationReport) {
    assert!(
        matches!(report.end, CallEnd::ServerClosed { code: Some(_) }),
        "{:?}",
        report.end
    );
}
