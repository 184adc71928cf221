//! A tiny HTTP/1.0 GET (for `/healthz` and `/metrics` on loopback) and a Prometheus
//! text-format reader.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most bytes read from one response.
const MAX_RESPONSE: usize = 4 << 20;

/// `GET path` over HTTP/1.0 (so the body is never chunked); returns the status and body.
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let fetch = async {
        let mut s = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        let req = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: */*\r\n\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        (&mut s)
            .take(MAX_RESPONSE as u64)
            .read_to_end(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?;
        parse_response(&buf)
    };
    tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| format!("GET {path}: no answer within {timeout:?}"))?
}

/// Splits a raw HTTP response into status code and body (chunked bodies are decoded).
pub fn parse_response(raw: &[u8]) -> Result<(u16, String), String> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "truncated HTTP response".to_owned())?;
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line in {head:?}"))?;
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding")
                && v.trim().eq_ignore_ascii_case("chunked")
        })
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_owned()
    };
    Ok((status, body))
}

fn dechunk(mut body: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size_line, rest) = body
            .split_once("\r\n")
            .ok_or_else(|| "truncated chunk".to_owned())?;
        let size_hex = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .map_err(|_| format!("bad chunk size {size_line:?}"))?;
        if size == 0 {
            return Ok(out);
        }
        let chunk = rest
            .get(..size)
            .ok_or_else(|| "truncated chunk".to_owned())?;
        out.push_str(chunk);
        body = rest
            .get(size..)
            .unwrap_or_default()
            .trim_start_matches("\r\n");
    }
}

/// Series from a Prometheus text exposition, keyed by `name{labels}` as written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metrics {
    series: BTreeMap<String, f64>,
}

impl Metrics {
    /// Parses the text format; comment and malformed lines are skipped.
    pub fn parse(text: &str) -> Self {
        let mut series = BTreeMap::new();
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The key ends at the closing brace of the labels, or at the first space.
            let key_end = match (line.find('{'), line.find(' ')) {
                (Some(b), Some(s)) if b < s => line[b..].find('}').map(|e| b + e + 1),
                (_, Some(s)) => Some(s),
                _ => None,
            };
            let Some(key_end) = key_end else { continue };
            let value = line[key_end..].split_whitespace().next();
            let value = match value {
                Some("+Inf") => f64::INFINITY,
                Some("-Inf") => f64::NEG_INFINITY,
                Some(v) => match v.parse::<f64>() {
                    Ok(v) => v,
                    Err(_) => continue,
                },
                None => continue,
            };
            series.insert(line[..key_end].to_owned(), value);
        }
        Self { series }
    }

    /// The sum of every series named `name` (any labels); `None` when there is none.
    pub fn get(&self, name: &str) -> Option<f64> {
        let mut found = None;
        for (key, v) in &self.series {
            let base = key.split('{').next().unwrap_or(key);
            if base == name {
                *found.get_or_insert(0.0) += v;
            }
        }
        found
    }
}

impl Metrics {
    /// The upper bound (in the histogram's unit) of the bucket holding quantile `q` of the
    /// histogram `name` (`{name}_bucket{le="…"}` series); `None` without samples or when the
    /// quantile lies in the +Inf bucket.
    pub fn histogram_quantile(&self, name: &str, q: f64) -> Option<f64> {
        let prefix = format!("{name}_bucket{{le=\"");
        let mut buckets: Vec<(f64, f64)> = self
            .series
            .iter()
            .filter_map(|(key, v)| {
                let le = key.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().ok()?
                };
                Some((le, *v))
            })
            .collect();
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        let count = buckets.last()?.1;
        if count <= 0.0 {
            return None;
        }
        let rank = (q * count).ceil().max(1.0);
        buckets
            .iter()
            .find(|(_, cumulative)| *cumulative >= rank)
            .map(|(le, _)| *le)
            .filter(|le| le.is_finite())
    }
}

/// Fetches and parses `/metrics`.
pub async fn scrape(addr: SocketAddr) -> Result<Metrics, String> {
    let (status, body) = http_get(addr, "/metrics", Duration::from_secs(5)).await?;
    if status != 200 {
        return Err(format!("/metrics answered {status}"));
    }
    Ok(Metrics::parse(&body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_quantiles_are_bucket_bounds() {
        let m = Metrics::parse(
            "h_bucket{le=\"0.001\"} 90\nh_bucket{le=\"0.01\"} 99\nh_bucket{le=\"+Inf\"} 100\n",
        );
        assert_eq!(m.histogram_quantile("h", 0.5), Some(0.001));
        assert_eq!(m.histogram_quantile("h", 0.99), Some(0.01));
        assert_eq!(m.histogram_quantile("h", 1.0), None);
        assert_eq!(m.histogram_quantile("other", 0.5), None);
    }

    #[test]
    fn parses_prometheus_text() {
        let text = "# HELP vr_live_calls Live calls.\n# TYPE vr_live_calls gauge\n\
                    vr_live_calls 12\nvr_frames_in_total 1.5e6\n\
                    vr_ignored_total{reason=\"not json\"} 2\n\
                    vr_ignored_total{reason=\"after stop\"} 3 1712345678000\nbroken\n";
        let m = Metrics::parse(text);
        assert_eq!(m.get("vr_live_calls"), Some(12.0));
        assert_eq!(m.get("vr_frames_in_total"), Some(1_500_000.0));
        assert_eq!(m.get("vr_ignored_total"), Some(5.0));
        assert_eq!(m.get("vr_live"), None);
        assert_eq!(m.get("broken"), None);
    }

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
        assert_eq!(parse_response(plain).unwrap(), (200, "ok".to_owned()));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked).unwrap(), (200, "abcde".to_owned()));
        assert!(parse_response(b"HTTP/1.1 200").is_err());
    }
}
