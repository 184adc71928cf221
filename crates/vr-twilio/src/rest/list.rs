//! Call lists (B157–B164): a strict, paged, filtered reader and the lenient legacy one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Map, Value};

use super::client::{API_PREFIX, Endpoint, TwilioRestClient, api_error};
use super::error::RestError;
use super::paging::check_next_page;
use super::region::{TwilioCredentials, TwilioRegion};
use super::time::{epoch_seconds_floor, format_utc, parse_rfc2822};

/// A filtered call-list query (B157).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCalls {
    /// `To`: calls to this number.
    pub to: String,
    /// Only calls that started strictly after this instant (and calls with no start time).
    pub start_after: SystemTime,
    /// `PageSize`, 1..=1000 (default 200).
    pub page_size: u32,
    /// Most pages fetched, >= 1 (default 10); more remaining is [`RestError::CallListIncomplete`].
    pub max_pages: u32,
}

impl ListCalls {
    /// Calls to `to` that started after `start_after`, 200 per page, at most 10 pages.
    pub fn new(to: impl Into<String>, start_after: SystemTime) -> Self {
        Self {
            to: to.into(),
            start_after,
            page_size: 200,
            max_pages: 10,
        }
    }

    fn validate(&self) -> Result<(), RestError> {
        if self.to.trim().is_empty() {
            return Err(RestError::InvalidInput("to must not be blank".into()));
        }
        if !(1..=1000).contains(&self.page_size) {
            return Err(RestError::InvalidInput("page_size must be 1..=1000".into()));
        }
        if self.max_pages < 1 {
            return Err(RestError::InvalidInput(
                "max_pages must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// One call from a list (B161: exactly these five fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRow {
    /// `sid`.
    pub call_sid: String,
    /// `status`.
    pub status: String,
    /// `start_time`, or `None` when Twilio has none (not started yet).
    pub start_time: Option<SystemTime>,
    /// `direction`.
    pub direction: String,
    /// `from`; `None` when blank or null.
    pub caller: Option<String>,
}

/// One call from the legacy reader (B164).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentCall {
    /// `sid`.
    pub call_sid: String,
    /// `status`, or `""`.
    pub status: String,
    /// `start_time` as Unix seconds, or 0 when absent.
    pub start_time: i64,
}

/// The legacy reader's cap, as twilio-python's `limit=200`.
const LEGACY_LIMIT: usize = 200;
/// Pages the legacy reader follows at most (it stops at 200 rows anyway).
const LEGACY_MAX_PAGES: u32 = 10;

impl TwilioRestClient {
    /// Lists calls at this client's host with its credentials (B158–B163). Every page and row is
    /// validated; a malformed one fails the whole list, and no partial list is ever returned.
    pub async fn list_calls(&self, query: &ListCalls) -> Result<Vec<CallRow>, RestError> {
        self.list_calls_at(&self.endpoint, &self.credentials, query)
            .await
    }

    /// [`TwilioRestClient::list_calls`] at a region's host with the region's credentials.
    pub async fn list_calls_in_region(
        &self,
        region: &TwilioRegion,
        query: &ListCalls,
    ) -> Result<Vec<CallRow>, RestError> {
        let ep = self.region_endpoint(region);
        self.list_calls_at(&ep, region.credentials(), query).await
    }

    async fn list_calls_at(
        &self,
        ep: &Endpoint,
        creds: &TwilioCredentials,
        q: &ListCalls,
    ) -> Result<Vec<CallRow>, RestError> {
        q.validate()?;
        let collection = format!("{API_PREFIX}/Accounts/{}/Calls.json", creds.account_sid());
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("To", &q.to)
            .append_pair("StartTime>", &format_utc(q.start_after))
            .append_pair("PageSize", &q.page_size.to_string())
            .finish();
        let mut next = Some(format!("{collection}?{query}"));
        let mut pages = 0u32;
        let mut rows = Vec::new();
        while let Some(path_and_query) = next.take() {
            if pages >= q.max_pages {
                return Err(RestError::CallListIncomplete {
                    api_host: ep.host.clone(),
                    pages_fetched: pages,
                });
            }
            let (calls, next_uri) = self.fetch_page(ep, creds, &path_and_query).await?;
            pages += 1;
            for (i, v) in calls.iter().enumerate() {
                let row = parse_row(v).map_err(|detail| RestError::Decode {
                    host: ep.host.clone(),
                    detail: format!("page {pages}, call {i}: {detail}"),
                })?;
                // Strictly after: a row at the cutoff was seen by the previous read.
                if row.start_time.is_none_or(|t| t > q.start_after) {
                    rows.push(row);
                }
            }
            next = self.next_path(ep, next_uri.as_deref(), &collection)?;
        }
        Ok(rows)
    }

    /// Legacy reader (B164), kept for parity with 0.1.x; prefer [`TwilioRestClient::list_calls`].
    ///
    /// Deprecated in spirit: it maps each call leniently (`status` or `""`, start time or 0)
    /// and stops at 200 calls.
    pub async fn list_recent_calls(
        &self,
        to: Option<&str>,
        lookback: Duration,
    ) -> Result<Vec<RecentCall>, RestError> {
        let ep = &self.endpoint;
        let creds = &self.credentials;
        let cutoff = SystemTime::now()
            .checked_sub(lookback)
            .unwrap_or(UNIX_EPOCH);
        let collection = format!("{API_PREFIX}/Accounts/{}/Calls.json", creds.account_sid());
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        if let Some(to) = to.filter(|t| !t.trim().is_empty()) {
            ser.append_pair("To", to);
        }
        ser.append_pair("StartTime>", &format_utc(cutoff));
        ser.append_pair("PageSize", &LEGACY_LIMIT.to_string());
        let mut next = Some(format!("{collection}?{}", ser.finish()));
        let mut out = Vec::new();
        let mut pages = 0;
        while let Some(path_and_query) = next.take() {
            if pages >= LEGACY_MAX_PAGES || out.len() >= LEGACY_LIMIT {
                break;
            }
            let (calls, next_uri) = self.fetch_page(ep, creds, &path_and_query).await?;
            pages += 1;
            out.extend(calls.iter().filter_map(Value::as_object).map(|o| {
                RecentCall {
                    call_sid: str_field(o, "sid").unwrap_or_default(),
                    status: str_field(o, "status").unwrap_or_default(),
                    start_time: str_field(o, "start_time")
                        .and_then(|s| parse_rfc2822(&s))
                        .map_or(0, epoch_seconds_floor),
                }
            }));
            next = self.next_path(ep, next_uri.as_deref(), &collection)?;
        }
        out.truncate(LEGACY_LIMIT);
        Ok(out)
    }

    /// GETs one page and checks its shape (B159): an object with a `calls` list and a
    /// `next_page_uri` that is a string or null.
    async fn fetch_page(
        &self,
        ep: &Endpoint,
        creds: &TwilioCredentials,
        path_and_query: &str,
    ) -> Result<(Vec<Value>, Option<String>), RestError> {
        let (status, body) = self
            .send(ep, creds, Method::GET, path_and_query, None)
            .await?;
        if !status.is_success() {
            return Err(api_error(ep, status, &body));
        }
        let decode = |detail: &str| RestError::Decode {
            host: ep.host.clone(),
            detail: detail.to_owned(),
        };
        let page: Value =
            serde_json::from_slice(&body).map_err(|_| decode("call page is not JSON"))?;
        let Value::Object(mut page) = page else {
            return Err(decode("call page is not a JSON object"));
        };
        let calls = match page.remove("calls") {
            Some(Value::Array(calls)) => calls,
            _ => return Err(decode("call page has no `calls` list")),
        };
        let next = match page.remove("next_page_uri") {
            Some(Value::String(s)) => Some(s),
            Some(Value::Null) => None,
            Some(_) => {
                return Err(RestError::UnsafeNextPage {
                    host: ep.host.clone(),
                    reason: "next_page_uri is not a string",
                });
            }
            None => return Err(decode("call page has no `next_page_uri`")),
        };
        Ok((calls, next))
    }

    fn next_path(
        &self,
        ep: &Endpoint,
        next: Option<&str>,
        collection: &str,
    ) -> Result<Option<String>, RestError> {
        next.map(|uri| {
            check_next_page(uri, &ep.origin, collection)
                .map(str::to_owned)
                .map_err(|reason| RestError::UnsafeNextPage {
                    host: ep.host.clone(),
                    reason,
                })
        })
        .transpose()
    }
}

fn str_field(o: &Map<String, Value>, k: &str) -> Option<String> {
    o.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// Validates one call row (B160).
fn parse_row(v: &Value) -> Result<CallRow, String> {
    let o = v.as_object().ok_or("not a JSON object")?;
    let required = |k: &str| match o.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(format!("`{k}` must be a non-blank string")),
    };
    let call_sid = required("sid")?;
    let status = required("status")?;
    let direction = required("direction")?;
    let start_time = match o.get("start_time") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            parse_rfc2822(s)
                .ok_or("`start_time` is not an RFC 2822 date with an explicit offset")?,
        ),
        Some(_) => return Err("`start_time` must be a string or null".into()),
    };
    let caller = match o.get("from") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("`from` must be a string or null".into()),
    };
    Ok(CallRow {
        call_sid,
        status,
        start_time,
        direction,
        caller,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows() {
        let r = parse_row(
            &json!({"sid":"CA1","status":"completed","direction":"inbound",
            "start_time":"Tue, 31 Aug 2010 20:36:28 +0000","from":"+1555"}),
        )
        .unwrap();
        assert_eq!(r.caller.as_deref(), Some("+1555"));
        assert!(r.start_time.is_some());
        let r =
            parse_row(&json!({"sid":"CA1","status":"queued","direction":"outbound-api","from":""}))
                .unwrap();
        assert_eq!((r.caller, r.start_time), (None, None));
        for bad in [
            json!(null),
            json!({"status":"x","direction":"y"}),
            json!({"sid":" ","status":"x","direction":"y"}),
            json!({"sid":"CA1","status":1,"direction":"y"}),
            json!({"sid":"CA1","status":"x"}),
            json!({"sid":"CA1","status":"x","direction":"y","from":5}),
            json!({"sid":"CA1","status":"x","direction":"y","start_time":"yesterday"}),
            json!({"sid":"CA1","status":"x","direction":"y","start_time":12}),
        ] {
            assert!(parse_row(&bad).is_err(), "{bad}");
        }
    }
}
