//! `dispatch_suggestions_p99`: ranking technicians for a new job through
//! `GET /v1/work-orders/{id}/suggestions`, with 500 technicians and 10,000 open jobs.

use std::time::Instant;

use fieldsync_proto::{Timestamp, WorkOrderView};

use super::data;
use super::measure::{ms, percentile};
use super::server::{staff, Seed};
use super::{Figure, Outcome, Sizes, Unit};

/// Creates a new, unassigned work order through the API; returns its suggestions URL.
async fn new_job(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<String> {
    let created: WorkOrderView = http
        .post(format!("{url}/v1/work-orders"))
        .bearer_auth(token)
        .json(&data::intake(7, None, Timestamp::now()))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(format!(
        "{url}/v1/work-orders/{}/suggestions?limit=5",
        created.id
    ))
}

/// Whether the server has the suggestions route (checked on a small server first, so that a
/// server without it costs no seeding).
async fn has_route(http: &reqwest::Client) -> anyhow::Result<bool> {
    let seed = Seed::new().await?;
    let people = staff(&seed, 1).await?;
    let (_, token) = seed.session(people.dispatcher, "console").await?;
    let server = seed.start().await?;
    let path = new_job(http, &server.url(), &token).await?;
    let probe = http.get(&path).bearer_auth(&token).send().await?;
    let status = probe.status();
    let body = probe.bytes().await?;
    // An unknown route is answered "there is no GET … on this server" (or, from a plain
    // router, an empty 404/405).
    let no_route = matches!(status.as_u16(), 404 | 405)
        && (body.is_empty() || String::from_utf8_lossy(&body).contains("there is no GET"));
    Ok(!no_route)
}

pub async fn suggestions(sizes: &Sizes) -> anyhow::Result<Outcome> {
    let http = reqwest::Client::new();
    if !has_route(&http).await? {
        return Ok(Outcome::Skipped(
            "the server has no GET /v1/work-orders/{id}/suggestions route yet".into(),
        ));
    }
    let seed = Seed::new().await?;
    let people = staff(&seed, sizes.technicians).await?;
    seed.work_orders(sizes.open_jobs, people.dispatcher, &people.technicians)
        .await?;
    let (_, token) = seed.session(people.dispatcher, "console").await?;
    let server = seed.start().await?;
    let path = new_job(&http, &server.url(), &token).await?;
    let mut samples = Vec::with_capacity(sizes.samples);
    for _ in 0..sizes.samples.min(200) {
        let started = Instant::now();
        let resp = http.get(&path).bearer_auth(&token).send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        samples.push(started.elapsed());
        anyhow::ensure!(
            status.is_success(),
            "suggestions answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
        let answer: serde_json::Value = serde_json::from_slice(&body)?;
        let listed = answer["suggestions"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(listed > 0, "no technician suggested: {answer}");
    }
    let n = samples.len();
    let p50 = percentile(&mut samples, 0.5);
    let p99 = percentile(&mut samples, 0.99);
    Ok(Outcome::Figures(vec![Figure::new(
        "dispatch_suggestions_p99",
        ms(p99),
        Unit::Ms,
        100.0,
        format!(
            "{n} requests over HTTP, {} technicians, {} open jobs, p50 {:.1} ms",
            sizes.technicians,
            sizes.open_jobs,
            ms(p50)
        ),
    )]))
}
