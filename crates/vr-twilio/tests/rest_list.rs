//! Call lists against a local fake Twilio (B157–B164).

// Test helpers unwrap freely: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Fake, Reply};
use serde_json::{Value, json};
use vr_twilio::rest::{
    ListCalls, RestError, TwilioConfig, TwilioCredentials, TwilioRegion, TwilioRestClient,
};

const TOKEN: &str = "tok-secret-123";
const COLLECTION: &str = "/2010-04-01/Accounts/AC123/Calls.json";
/// 2024-01-02T03:04:05Z
const CUTOFF_SECS: u64 = 1_704_164_645;

fn cutoff() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(CUTOFF_SECS) + Duration::from_millis(0)
}

fn client(fake: &Fake) -> TwilioRestClient {
    TwilioRestClient::builder(TwilioCredentials::auth_token("AC123", TOKEN).unwrap())
        .base_url(&fake.base)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

fn page(calls: Value, next: Option<&str>) -> Reply {
    Reply::json(
        200,
        json!({"calls": calls, "next_page_uri": next, "page": 0}),
    )
}

fn call(sid: &str, start: Option<&str>, from: Value) -> Value {
    json!({"sid": sid, "status": "completed", "direction": "inbound", "start_time": start, "from": from, "to": "+1555"})
}

#[tokio::test]
async fn first_request_is_exact_and_pages_are_followed_once() {
    let next = format!("{COLLECTION}?To=%2B1555&PageSize=2&Page=1&PageToken=PA123");
    let fake = Fake::start(vec![
        page(
            json!([
                call(
                    "CA1",
                    Some("Tue, 02 Jan 2024 03:04:06 +0000"),
                    json!("+1999")
                ),
                call(
                    "CA2",
                    Some("Tue, 02 Jan 2024 03:04:05 +0000"),
                    json!("+1999")
                ),
            ]),
            Some(&next),
        ),
        page(
            json!([
                call("CA3", None, json!(null)),
                call("CA4", Some("Tue, 02 Jan 2024 03:04:04 +0000"), json!("")),
                call("CA5", Some("Tue, 02 Jan 2024 05:04:06 +0200"), json!("  ")),
            ]),
            None,
        ),
    ])
    .await;
    let mut q = ListCalls::new("+1555", cutoff());
    q.page_size = 2;
    let rows = client(&fake).list_calls(&q).await.unwrap();
    let sids: Vec<&str> = rows.iter().map(|r| r.call_sid.as_str()).collect();
    // CA2 is exactly at the cutoff and CA4 one second before: both dropped (strictly after).
    assert_eq!(sids, ["CA1", "CA3", "CA5"]);
    assert_eq!(rows[0].caller.as_deref(), Some("+1999"));
    assert_eq!(rows[0].start_time, Some(cutoff() + Duration::from_secs(1)));
    assert_eq!(rows[1].start_time, None);
    assert_eq!(rows[1].caller, None);
    assert_eq!(rows[2].caller, None);
    assert_eq!(rows[2].direction, "inbound");

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, COLLECTION);
    assert_eq!(reqs[0].auth, Some(("AC123".into(), TOKEN.into())));
    assert_eq!(
        reqs[0].query.as_deref(),
        Some("To=%2B1555&StartTime%3E=2024-01-02T03%3A04%3A05Z&PageSize=2")
    );
    assert_eq!(
        reqs[0].query_pairs(),
        [
            ("To".to_owned(), "+1555".to_owned()),
            ("StartTime>".to_owned(), "2024-01-02T03:04:05Z".to_owned()),
            ("PageSize".to_owned(), "2".to_owned()),
        ]
    );
    // The next page is fetched as given: its query is kept, filters are not re-applied.
    assert_eq!(reqs[1].path, COLLECTION);
    assert_eq!(
        reqs[1].query.as_deref(),
        Some("To=%2B1555&PageSize=2&Page=1&PageToken=PA123")
    );
}

#[tokio::test]
async fn complete_empty_is_success() {
    let fake = Fake::start(vec![page(json!([]), None)]).await;
    let rows = client(&fake)
        .list_calls(&ListCalls::new("+1555", cutoff()))
        .await
        .unwrap();
    assert!(rows.is_empty());
}

#[tokio::test]
async fn malformed_pages_never_become_empty_success() {
    let bad_pages = [
        Reply::json(200, json!({})),
        Reply::json(200, json!({"calls": [], "page": 0})),
        Reply::json(200, json!({"next_page_uri": null})),
        Reply::json(200, json!({"calls": null, "next_page_uri": null})),
        Reply::json(200, json!({"calls": {}, "next_page_uri": null})),
        Reply::json(200, json!({"calls": "", "next_page_uri": null})),
        Reply::json(200, json!({"calls": [null], "next_page_uri": null})),
        Reply::json(200, json!({"calls": [], "next_page_uri": 5})),
        Reply::json(200, json!({"calls": [], "next_page_uri": {}})),
        Reply::json(200, json!([])),
        Reply::raw(200, "not json"),
        Reply::json(
            200,
            json!({"calls": [{"sid": "CA1", "status": "x"}], "next_page_uri": null}),
        ),
        Reply::json(
            200,
            json!({"calls": [call("CA1", Some("yesterday"), json!("+1"))], "next_page_uri": null}),
        ),
        Reply::json(
            200,
            json!({"calls": [call("CA1", None, json!(42))], "next_page_uri": null}),
        ),
    ];
    for reply in bad_pages {
        let body = reply.body.clone();
        let fake = Fake::start(vec![reply]).await;
        let res = client(&fake)
            .list_calls(&ListCalls::new("+1555", cutoff()))
            .await;
        assert!(
            matches!(
                res,
                Err(RestError::Decode { .. } | RestError::UnsafeNextPage { .. })
            ),
            "{body} gave {res:?}"
        );
        assert_eq!(fake.requests().len(), 1);
    }
}

#[tokio::test]
async fn http_errors_and_redirects_propagate() {
    for (reply, status) in [
        (Reply::twilio_error(401, 20003, "Authenticate"), 401),
        (Reply::raw(500, "boom"), 500),
        (
            Reply::redirect("/2010-04-01/Accounts/AC123/Calls.json?x=1"),
            302,
        ),
    ] {
        let fake = Fake::start(vec![reply, page(json!([]), None)]).await;
        let err = client(&fake)
            .list_calls(&ListCalls::new("+1555", cutoff()))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err:?}");
        assert_eq!(fake.requests().len(), 1, "no redirect followed");
        assert!(!format!("{err:?}").contains(TOKEN));
    }
}

#[tokio::test]
async fn unsafe_continuations_refused_before_a_second_request() {
    for next in [
        "https://evil.example/2010-04-01/Accounts/AC123/Calls.json?Page=1",
        "http://api.twilio.com/2010-04-01/Accounts/AC123/Calls.json",
        "//evil.example/2010-04-01/Accounts/AC123/Calls.json",
        "/2010-04-01/Accounts/AC999/Calls.json?Page=1",
        "/2010-04-01/Accounts/AC123/../AC123/Calls.json",
        "/2010-04-01/Accounts/AC123/Calls.json?Page=1#frag",
        "/2010-04-01/Accounts/AC123/Calls.json?a=%G1",
        "/2010-04-01/Accounts/AC123/Calls.json?a=b c",
        "/2010-04-01/Accounts/AC123/Calls.json?a=\u{7f}",
        "/2010-04-01/Accounts/AC123/Calls.json?a=ä",
        "\\2010-04-01\\Accounts",
    ] {
        let fake = Fake::start(vec![page(json!([]), Some(next)), page(json!([]), None)]).await;
        let err = client(&fake)
            .list_calls(&ListCalls::new("+1555", cutoff()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RestError::UnsafeNextPage { .. }),
            "{next}: {err:?}"
        );
        assert_eq!(fake.requests().len(), 1, "{next}");
    }
}

#[tokio::test]
async fn absolute_next_page_on_the_region_host_is_followed() {
    let host = "api.dublin.ie1.twilio.com";
    let next = format!("https://{host}/2010-04-01/Accounts/ACie/Calls.json?Page=1&PageToken=PA9");
    let fake = Fake::start(vec![
        page(json!([call("CA1", None, json!("+1"))]), Some(&next)),
        page(json!([call("CA2", None, json!("+1"))]), None),
    ])
    .await;
    let c = TwilioRestClient::builder(TwilioCredentials::auth_token("AC123", TOKEN).unwrap())
        .route_host(host, &fake.base)
        .build()
        .unwrap();
    let region = TwilioRegion::new(
        host,
        TwilioCredentials::api_key("ACie", "SKie", "regsecret").unwrap(),
    )
    .unwrap();
    let rows = c
        .list_calls_in_region(&region, &ListCalls::new("+1555", cutoff()))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let reqs = fake.requests();
    assert_eq!(reqs[1].path, "/2010-04-01/Accounts/ACie/Calls.json");
    assert_eq!(reqs[1].query.as_deref(), Some("Page=1&PageToken=PA9"));
    assert!(
        reqs.iter()
            .all(|r| r.auth == Some(("SKie".into(), "regsecret".into())))
    );
}

#[tokio::test]
async fn max_pages_with_continuation_is_incomplete() {
    let next = format!("{COLLECTION}?Page=1");
    let fake = Fake::start(vec![
        page(json!([]), Some(&next)),
        page(json!([call("CA1", None, json!("+1"))]), Some(&next)),
        page(json!([]), None),
    ])
    .await;
    let mut q = ListCalls::new("+1555", cutoff());
    q.max_pages = 2;
    let err = client(&fake).list_calls(&q).await.unwrap_err();
    assert_eq!(
        err,
        RestError::CallListIncomplete {
            api_host: fake.host(),
            pages_fetched: 2
        }
    );
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn invalid_queries_refused_before_any_request() {
    let fake = Fake::start(vec![]).await;
    let c = client(&fake);
    let base = ListCalls::new("+1555", cutoff());
    let cases = [
        ListCalls {
            to: " ".into(),
            ..base.clone()
        },
        ListCalls {
            page_size: 0,
            ..base.clone()
        },
        ListCalls {
            page_size: 1001,
            ..base.clone()
        },
        ListCalls {
            max_pages: 0,
            ..base.clone()
        },
    ];
    for q in cases {
        assert!(
            matches!(c.list_calls(&q).await, Err(RestError::InvalidInput(_))),
            "{q:?}"
        );
    }
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn legacy_reader_maps_leniently() {
    let fake = Fake::start(vec![page(
        json!([
            {"sid": "CA1", "status": "completed", "start_time": "Tue, 02 Jan 2024 03:04:06 +0000"},
            {"sid": "CA2", "status": null, "start_time": null},
        ]),
        None,
    )])
    .await;
    let env = |k: &str| match k {
        "TWILIO_ACCOUNT_SID" => Some("AC123".to_owned()),
        "TWILIO_AUTH_TOKEN" => Some(TOKEN.to_owned()),
        "TWILIO_PHONE_NUMBER" => Some("+1555".to_owned()),
        "TWILIO_API_BASE_URL" => Some(fake.base.clone()),
        _ => None,
    };
    let cfg = TwilioConfig::from_lookup(env).unwrap();
    let calls = cfg
        .list_recent_calls(Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].call_sid.as_str(), calls[0].status.as_str()),
        ("CA1", "completed")
    );
    assert_eq!(calls[0].start_time, i64::try_from(CUTOFF_SECS).unwrap() + 1);
    assert_eq!((calls[1].status.as_str(), calls[1].start_time), ("", 0));
    let q = fake.requests()[0].query_pairs();
    assert_eq!(q[0], ("To".to_owned(), "+1555".to_owned()));
    assert_eq!(q[1].0, "StartTime>");
    assert_eq!(q[2], ("PageSize".to_owned(), "200".to_owned()));
}

#[tokio::test]
async fn legacy_reader_without_credentials_is_empty() {
    let cfg = TwilioConfig::from_lookup(|_| None).unwrap();
    assert!(
        cfg.list_recent_calls(Duration::from_secs(60))
            .await
            .unwrap()
            .is_empty()
    );
}
